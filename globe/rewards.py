"""GLOBE's reward logic as plain functions over lists (no ms-swift, torch or network imports).

Each ``*_rewards`` function takes the batch's completions plus the dataset columns it needs
(the way ms-swift passes them: one list per column, aligned with ``completions``) and returns
one float in ``[0, 1]`` per completion. They never raise on what a model writes (any text,
``None``, 100 kB, broken tags); they raise ``ValueError`` only when the *dataset* lacks the
column a reward needs, because training on a silently constant reward wastes a GPU-day.
:mod:`globe.plugin` wraps them for ms-swift; the locatability reward needs a server and lives
in :mod:`globe.locatability`, except its pure scoring rule, :func:`locatability_reward_from_logprobs`.

Differences from the released rewards, and why:

* accuracy: names are compared by :func:`globe.geo.same_place` (aliases such as "USA"/"NYC",
  other scripts, diacritics) instead of a case-insensitive substring test with a 0.7 length
  ratio, which scored "USA" for "United States" as wrong and "Niger" for "Nigeria" as right
  ("niger" is 5/7 of "nigeria"). Which answer counts
  is :func:`globe.answers.parse_answer`'s rule: the *last* ``<answer>`` block, the last
  ``country:``/``city:`` line in it.
* visual match: whole-word matches on normalised text, so "bus" does not match "business"
  or "abuse"; the entity's last word may carry a plural "s"/"es" ("palm tree" is found in
  "palm trees", "bus" in "buses") and an apostrophe inside a word joins it ("Peter's" reads
  "peters"), so possessives and plurals of what the annotator named still count. Duplicate
  entities count once (as released).
* format: also requires non-placeholder ``country:`` and ``city:`` lines in the one answer block.
* distance: new, ``exp(-d / tau)`` for recipes that want a denser signal than 1.0 / 0.2 / 0.,
  with an answer that resolves only to a country scored as at least
  :data:`COUNTRY_LEVEL_FLOOR_KM` away (see there).
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Callable

from anyascii import anyascii

from globe import geo
from globe.answers import ParsedAnswer, line_fields, parse_answer

log = logging.getLogger(__name__)

#: Paper values: city and country right / only the country right / otherwise.
CITY_REWARD = 1.0
COUNTRY_REWARD = 0.2
#: Default distance scale: 25 km -> 0.97, 200 km -> 0.77, 750 km -> 0.37, 2500 km -> 0.04
#: (the IM2GPS city / region / country / continent thresholds).
DEFAULT_TAU_KM = 750.0
#: The distance reward scores an answer that resolves only to a country (it named no city, or
#: a city :func:`globe.geo.resolve` could not find) as if it were at least this far from the
#: truth. A country's point is often near its capital or centre, so a photo from there would
#: otherwise earn a country-only answer more than a real city guess ~200 km off, and GRPO
#: would learn to drop the city. 200 km is the IM2GPS "region" threshold.
COUNTRY_LEVEL_FLOOR_KM = 200.0

_YES_TOKENS = frozenset({"yes", "Yes", "YES"})
_NO_TOKENS = frozenset({"no", "No", "NO"})
# Tokenizers mark a leading space as "Ġ" (byte-level BPE) or "▁" (SentencePiece).
_TOKEN_SPACE_MARKS = " \t\n\u0120\u2581\u010a"


# --------------------------------------------------------------------------- inputs


def completion_text(completion: Any) -> str:
    """A completion as text: a string, an open-r1-style ``[{"role", "content"}]`` list, or ``None``.

    Content given as OpenAI parts (``[{"type": "text", "text": ...}]``) is joined; anything
    else becomes ``""`` so a reward scores it 0 instead of raising mid-training.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content"))
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        return _content_text(completion[-1].get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, Mapping))
    return ""


@lru_cache(maxsize=4096)
def parse_cached(text: str) -> ParsedAnswer:
    """:func:`globe.answers.parse_answer`, memoised per text.

    ms-swift calls every reward on the same list of completions one after another, so the
    accuracy, distance and visual rewards share one parse of each completion; 4096 entries
    hold several batches of even 8 kB completions in a few tens of MB.
    """
    return parse_answer(text)


def _column(values: Any, n: int, name: str) -> list[Any]:
    """A dataset column aligned with the completions; a missing column is ``[None] * n``."""
    if values is None:
        return [None] * n
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"column {name!r} must be a list with one value per completion, got {type(values).__name__}")
    values = list(values)
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} values for {n} completions; they must be aligned")
    return values


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- accuracy


def split_solution(solution: Any) -> tuple[str | None, str | None]:
    """Ground truth ``(country, city)`` from a ``solution`` cell.

    The GLOBE format is ``"country\\tcity"``; ``country:``/``city:`` lines and
    ``<country>..</country><city>..</city>`` tags (the released SFT data) are read too, and a
    cell with neither is taken as a country alone.
    """
    text = _text_or_none(solution)
    if text is None:
        return None, None
    if "\t" in text:
        country, city = text.split("\t", 1)
        return _text_or_none(country), _text_or_none(city.split("\t", 1)[0])
    fields = parse_cached(text)
    if fields.country or fields.city:
        return fields.country, fields.city
    return text, None


@lru_cache(maxsize=1 << 16)
def _place_score(pred_country: str | None, pred_city: str | None, gt_country: str, gt_city: str | None) -> float:
    """Memoised: GRPO scores many generations of one prompt, so the same pairs recur."""
    country_match, city_match = geo.same_place(pred_country, pred_city, gt_country, gt_city)
    if country_match and city_match:
        return CITY_REWARD
    if country_match:
        return COUNTRY_REWARD
    return 0.0


def accuracy_reward(text: Any, gt_country: str | None, gt_city: str | None) -> float:
    """1.0 when the answer's country and city are the truth's, 0.2 for the country alone, else 0.

    A city counts only together with its country (the paper's rule); without a ground-truth
    city the best possible score is 0.2; without a predicted country it is 0.
    """
    if gt_country is None:
        return 0.0
    answer = parse_cached(completion_text(text))
    if answer.country is None:
        return 0.0
    return _place_score(answer.country, answer.city, gt_country, gt_city)


def accuracy_rewards(
    completions: Sequence[Any],
    solution: Sequence[Any] | None = None,
    country: Sequence[Any] | None = None,
    city: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """Paper accuracy (1.0 / 0.2 / 0.0) per completion, decided by :func:`globe.geo.same_place`.

    Ground truth per row: ``solution`` (``"country\\tcity"``) first, and the ``country`` /
    ``city`` columns for whatever it lacks. Raises ``ValueError`` when none of these columns
    was given at all.
    """
    n = len(completions)
    if solution is None and country is None:
        raise ValueError(
            "accuracy reward needs ground truth: a `solution` column (\"country\\tcity\") or "
            "`country`/`city` columns in the dataset; the batch has neither"
        )
    solutions = _column(solution, n, "solution")
    countries = _column(country, n, "country")
    cities = _column(city, n, "city")
    rewards = []
    for text, sol, row_country, row_city in zip(completions, solutions, countries, cities):
        gt_country, gt_city = split_solution(sol)
        gt_country = gt_country or _text_or_none(row_country)
        gt_city = gt_city or _text_or_none(row_city)
        rewards.append(accuracy_reward(text, gt_country, gt_city))
    return rewards


# --------------------------------------------------------------------------- visual match

# Scripts written without spaces between words: each character is its own token, so an
# entity like "東京塔" matches inside running Chinese or Japanese text.
_UNSPACED_CHARS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3040-\u30ff\u31f0-\u31ff"  # CJK radicals, kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"  # CJK ideographs, half-width kana
    "\U00020000-\U0003134f"  # CJK extensions
)
_UNSPACED = re.compile(f"[{_UNSPACED_CHARS}]")
_SPACED_RUN = re.compile(f"[^{_UNSPACED_CHARS}]+")
_WORD = re.compile(r"[^\W_]+")
# One word character of a spaced script: what must not touch a whole-word match.
_SPACED_WORD_CHAR = f"(?![{_UNSPACED_CHARS}])[^\\W_]"
# An apostrophe between two word characters joins them: "peter's" -> "peters".
_JOINING_APOSTROPHE = re.compile(r"(?<=[^\W_])'(?=[^\W_])")
# What may follow an entity's last word when that word ends in a letter: a plural ending.
_PLURAL_ENDING = "(?:e?s)?"


def _fold(text: str) -> str:
    """Case and diacritics folded, apostrophes inside words dropped.

    anyascii on everything but unspaced scripts (it also turns "’" into "'"), then casefold,
    then "peter's" -> "peters", so a possessive reads as the plural-ending form of its word.
    """
    if not text.isascii():
        text = _SPACED_RUN.sub(lambda run: anyascii(run.group()), text)
    text = text.casefold()
    return _JOINING_APOSTROPHE.sub("", text) if "'" in text else text


def _tokens(text: str) -> list[str]:
    """Word tokens of folded text; each character of an unspaced script is a token of its own."""
    folded = _fold(text)
    if not folded.isascii():
        folded = _UNSPACED.sub(lambda char: f" {char.group()} ", folded)
    return _WORD.findall(folded)


def normalize_for_match(text: str) -> str:
    """Text as space-separated word tokens, padded with spaces: what whole-word matching compares.

    Case folded, diacritics and other scripts folded to ASCII with anyascii ("Zürich" ->
    "zurich", "Москва" -> "moskva"), apostrophes inside a word dropped ("Peter's" ->
    "peters"), punctuation and whitespace runs to one space; characters of unspaced scripts
    (CJK, Thai, ...) stay as they are, one token each (transliterating them would make
    unrelated characters collide).
    """
    return " " + " ".join(_tokens(text or "")) + " "


@lru_cache(maxsize=1 << 16)
def _entity_pattern(entity: str) -> re.Pattern[str] | None:
    """A regex finding ``entity`` as whole words in folded text, or ``None`` if it has no words.

    Equivalent to looking for the tokens of ``normalize_for_match(entity)`` as consecutive
    tokens of ``normalize_for_match(text)``, except that when the entity's last token ends in
    a letter the text's token may add "s" or "es" (a plural, or a possessive once
    :func:`_fold` has joined "'s"); found without tokenising every completion: tokens are
    separated by any run of non-word characters, and word boundaries are required wherever a
    token edge is in a spaced script (no boundary exists between two CJK characters). "bus"
    thus finds "buses" and "bus's" but not "business" or "abuse".
    """
    tokens = _tokens(entity)
    if not tokens:
        return None

    def spaced(char: str) -> bool:
        return _UNSPACED.match(char) is None

    parts = [re.escape(tokens[0])]
    if spaced(tokens[0][0]):
        # The boundary check comes after the first token, not before it: a pattern that starts
        # with a literal lets the regex engine skip ahead to candidates instead of testing a
        # lookbehind at every position of the text.
        parts.append(f"(?<!{_SPACED_WORD_CHAR}{re.escape(tokens[0])})")
    for index, token in enumerate(tokens[1:], start=1):
        gap_needed = spaced(tokens[index - 1][-1]) and spaced(token[0])
        parts.append(r"[\W_]+" if gap_needed else r"[\W_]*")
        parts.append(re.escape(token))
    if "a" <= tokens[-1][-1] <= "z":
        parts.append(_PLURAL_ENDING)
    if spaced(tokens[-1][-1]):
        parts.append(f"(?!{_SPACED_WORD_CHAR})")
    return re.compile("".join(parts))


def entity_texts(entities: Any) -> list[str]:
    """The entity strings of one row, whatever shape the column arrived in.

    Accepts ``[{"text": ...}]`` (the dataset format), plain strings, a JSON string of either,
    a dict of lists (``{"text": [...]}``, how some Arrow readers return a list of structs),
    ``None``. A string that is not JSON is one entity.
    """
    if entities is None:
        return []
    if type(entities) is list and all(type(item) is dict and type(item.get("text")) is str for item in entities):
        return [item["text"] for item in entities]  # the dataset's own shape, without the general walk
    if isinstance(entities, str):
        stripped = entities.strip()
        if stripped[:1] in "[{\"":
            try:
                return entity_texts(json.loads(stripped))
            except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
                pass
        return [stripped] if stripped else []
    if isinstance(entities, Mapping):
        value = next((entities[key] for key in ("text", "name", "entity") if key in entities), None)
        if isinstance(value, str):
            return [value]
        return entity_texts(value) if isinstance(value, (list, tuple)) else []
    if isinstance(entities, Iterable) and not isinstance(entities, (bytes, bytearray)):
        texts: list[str] = []
        for item in entities:
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, Mapping):
                value = item.get("text")
                texts.extend([value] if isinstance(value, str) else entity_texts(item))
        return texts
    return []


@lru_cache(maxsize=1 << 14)
def _row_patterns(entities: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The distinct entity patterns of one row (GRPO scores each row's entities once per generation)."""
    distinct = {pattern.pattern: pattern for pattern in map(_entity_pattern, entities) if pattern is not None}
    return tuple(distinct.values())


def visual_match_reward(text: Any, entities: Any) -> float:
    """Share of the row's distinct entities named, as whole words, in the completion's reasoning.

    Reasoning is :attr:`globe.answers.ParsedAnswer.think`. The last word of an entity may
    appear with a plural "s"/"es" (see :func:`_entity_pattern`). Entities that normalise to the
    same words count once; entities without any word character are ignored. 0.0 when the
    row has no usable entities: nothing to recall earns nothing, as released, so a row
    without annotations never outranks one whose reasoning names its evidence.
    """
    patterns = _row_patterns(tuple(entity_texts(entities)))
    if not patterns:
        return 0.0
    reasoning = _fold(parse_cached(completion_text(text)).think)
    return sum(1 for pattern in patterns if pattern.search(reasoning)) / len(patterns)


def visual_match_rewards(completions: Sequence[Any], entities: Sequence[Any] | None = None, **_: Any) -> list[float]:
    """Entity recall in the ``<think>`` part per completion (see :func:`visual_match_reward`)."""
    if entities is None:
        raise ValueError(
            "visual-match reward needs an `entities` column ([{\"text\": ...}] per row) in the dataset; "
            "the batch has none"
        )
    rows = _column(entities, len(completions), "entities")
    return [visual_match_reward(text, row) for text, row in zip(completions, rows)]


# --------------------------------------------------------------------------- format

_TAG = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)
_FORMAT_TAG_LIST = ["<think>", "</think>", "<answer>", "</answer>"]


def format_reward(text: Any) -> float:
    """1.0 for exactly ``<think>...</think><answer>...</answer>`` with ``country:`` and ``city:`` lines.

    The released pattern ``^<think>.*?</think>\\s*<answer>.*?</answer>$`` plus three rules:
    whitespace may surround the whole completion; no further think/answer tag may appear
    anywhere (a second answer is a hedge, a nested tag is not the format); and the answer
    must hold a ``country:`` and a ``city:`` line with real values, not placeholders such as
    ``[country name]`` (:func:`globe.answers.clean_value` decides). An empty
    ``<think></think>`` passes, as released. Linear time: the tags are located once instead
    of letting a backtracking pattern scan a 100 kB completion.
    """
    body = completion_text(text)
    if _TAG.findall(body) != _FORMAT_TAG_LIST:
        return 0.0
    think_open = body.index("<think>")
    think_close = body.index("</think>", think_open)
    answer_open = body.index("<answer>", think_close)
    answer_close = body.index("</answer>", answer_open)
    gaps = (body[:think_open], body[think_close + 8 : answer_open], body[answer_close + 9 :])
    if any(gap and not gap.isspace() for gap in gaps):
        return 0.0
    country, city = line_fields(body[answer_open + 8 : answer_close])
    return 1.0 if country is not None and city is not None else 0.0


def format_rewards(completions: Sequence[Any], **_: Any) -> list[float]:
    """:func:`format_reward` per completion (binary, as in the paper)."""
    return [format_reward(text) for text in completions]


# --------------------------------------------------------------------------- distance


@lru_cache(maxsize=1 << 16)
def _resolve(country: str | None, city: str | None) -> tuple[float, float, str] | None:
    """``(lat, lon, level)`` of the answered place, memoised; level is ``"city"`` or ``"country"``."""
    place = geo.resolve(country, city)
    if place is None or place.lat is None or place.lon is None:
        return None
    return float(place.lat), float(place.lon), str(place.level)


def _coordinate(value: Any, low: float, high: float) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int such as 10**400
        return None
    return number if low <= number <= high else None  # NaN fails both comparisons


def distance_reward(text: Any, lat: Any, lon: Any, tau_km: float = DEFAULT_TAU_KM) -> float:
    """``exp(-d / tau_km)`` for the great-circle distance ``d`` from the answered place to the truth.

    The answered place is :func:`globe.geo.resolve` of the parsed country and city. When it
    resolves only to a country (no city named, or a city not found in that country), ``d``
    counts as at least :data:`COUNTRY_LEVEL_FLOOR_KM`: ``min(exp(-d/tau), exp(-200/tau))``,
    so naming only the country never beats a real city guess 200 km off. 0.0 when the answer
    does not resolve or the row's coordinates are missing or out of range.
    """
    gt_lat, gt_lon = _coordinate(lat, -90.0, 90.0), _coordinate(lon, -180.0, 180.0)
    if gt_lat is None or gt_lon is None:
        return 0.0
    answer = parse_cached(completion_text(text))
    if answer.country is None and answer.city is None:
        return 0.0
    resolved = _resolve(answer.country, answer.city)
    if resolved is None:
        return 0.0
    place_lat, place_lon, level = resolved
    distance = max(geo.distance_km((place_lat, place_lon), (gt_lat, gt_lon)), 0.0)
    if level == "country":
        distance = max(distance, COUNTRY_LEVEL_FLOOR_KM)
    return math.exp(-distance / tau_km)


def _is_blank(value: Any) -> bool:
    """A coordinate cell that holds nothing: ``None``, NaN or an empty string."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def distance_rewards(
    completions: Sequence[Any],
    lat: Sequence[Any] | None = None,
    lon: Sequence[Any] | None = None,
    tau_km: float = DEFAULT_TAU_KM,
    **_: Any,
) -> list[float]:
    """:func:`distance_reward` per completion; ``tau_km`` sets how fast the reward decays."""
    if not (isinstance(tau_km, (int, float)) and math.isfinite(tau_km) and tau_km > 0):
        raise ValueError(f"tau_km must be a positive number of kilometres, got {tau_km!r}")
    if lat is None or lon is None:
        raise ValueError("distance reward needs `lat` and `lon` columns (degrees) in the dataset; the batch lacks them")
    n = len(completions)
    lats, lons = _column(lat, n, "lat"), _column(lon, n, "lon")
    empty = [name for name, values in (("lat", lats), ("lon", lons)) if n and all(map(_is_blank, values))]
    if empty:
        # The columns exist (a train file's schema has them) but hold nothing: a constant 0 reward
        # would train nothing, silently. One line per batch, not per row.
        log.warning(
            "distance reward: the %s column%s empty in all %d rows of this batch, so every distance reward "
            "is 0; give the training file lat/lon coordinates or drop globe_distance from --reward_funcs",
            " and ".join(f"`{name}`" for name in empty), "s are" if len(empty) > 1 else " is", n,
        )
    return [distance_reward(text, la, lo, tau_km) for text, la, lo in zip(completions, lats, lons)]


# --------------------------------------------------------------------------- locatability


def _token_word(token: Any) -> str:
    return token.strip(_TOKEN_SPACE_MARKS) if isinstance(token, str) else ""


def locatability_reward_from_logprobs(top_logprobs: Mapping[str, float] | None) -> float | None:
    """P(yes) / (P(yes) + P(no)) from a first token's top logprobs, ``None`` if neither is there.

    Sums the probabilities of yes/Yes/YES and of no/No/NO, with or without a leading space
    (" yes", "Ġyes", "▁yes"), as the released reward did for the bare forms. ``None`` rather
    than 0 so the caller can tell "the RM said no" from "the RM said something else".
    """
    if not isinstance(top_logprobs, Mapping):
        return None
    yes = no = 0.0
    for token, logprob in top_logprobs.items():
        word = _token_word(token)
        if word not in _YES_TOKENS and word not in _NO_TOKENS:
            continue
        try:
            probability = math.exp(min(float(logprob), 0.0))
        except (TypeError, ValueError):
            continue
        if math.isnan(probability):
            continue
        if word in _YES_TOKENS:
            yes += probability
        else:
            no += probability
    if yes + no <= 0.0:
        return None
    return yes / (yes + no)


# --------------------------------------------------------------------------- registry

#: Name -> batch reward function, for callers that pick rewards by name (plugin, eval, bench).
REWARD_FUNCS: dict[str, Callable[..., list[float]]] = {
    "accuracy": accuracy_rewards,
    "visual_match": visual_match_rewards,
    "format": format_rewards,
    "distance": distance_rewards,
}
