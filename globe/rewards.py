"""GLOBE's reward logic as plain functions over lists (no ms-swift, torch or network imports).

Each ``*_rewards`` function takes the batch's completions plus the dataset columns it needs (one list
per column, aligned with ``completions``, as ms-swift passes them) and returns one float in ``[0, 1]``
per completion. They never raise on what a model writes; they raise ``ValueError`` only when the
*dataset* lacks a column a reward needs, because training on a silently constant reward wastes a
GPU-day. Placing an answer is :mod:`globe.scoring`'s; each reward is a policy on top, and GLOBE's
rewards read a completion through :func:`globe.answers.model_text` (a chat template's think prefill
is not the model's), while the released ones read the raw text. :data:`REWARDS`
names and describes every ``--reward_funcs`` name once: :mod:`globe.plugin` registers exactly those
with ms-swift, and the README's reward table is built from it (README, "Rewards", also says how each
departs from the released reward and why).
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from anyascii import anyascii

from globe.answers import (
    ParsedAnswer,
    answer_block_fields,
    completion_text,
    line_fields,
    model_text,
    parse_answer,
    released_answer_fields,
    think_text,
    verdict_probability,
)
from globe.scoring import is_city, same_place, released_match, score_answer, valid_point

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
#: The same floor for an answer placed at any other level that is not a city (a region, island or
#: landmark: :func:`globe.scoring.is_city`): scored from that place's point, but as at least 100 km
#: off. So naming the region never beats a right city (a right city's point is within the IM2GPS
#: 25 km "city" radius of the photo, far inside 100 km), never loses to a wrong city farther than
#: 100 km from the photo when the region's point is nearer than that city, and beats naming only
#: the country (200 km): a region says more than its country and less than a city.
REGION_LEVEL_FLOOR_KM = 100.0


# --------------------------------------------------------------------------- inputs


@lru_cache(maxsize=4096)
def parse_cached(text: str) -> ParsedAnswer:
    """:func:`globe.answers.parse_answer`, memoised per text.

    Ground-truth cells repeat across a group's generations; 4096 entries hold several batches
    of even 8 kB texts in a few tens of MB.
    """
    return parse_answer(text)


@lru_cache(maxsize=4096)
def reasoning_cached(text: str) -> str:
    """:func:`globe.answers.think_text`, memoised per completion (what the visual-match reward reads).

    Accuracy and distance read the first answer block through
    :func:`globe.answers.answer_block_fields`, memoised the same way, so no reward parses a
    completion in full.
    """
    return think_text(text)


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


def _place_score(pred_country: str | None, pred_city: str | None, gt_country: str, gt_city: str | None) -> float:
    """1.0 / 0.2 / 0.0 by :func:`globe.scoring.same_place` (memoised there)."""
    country_match, city_match = same_place(pred_country, pred_city, gt_country, gt_city)
    if country_match and city_match:
        return CITY_REWARD
    if country_match:
        return COUNTRY_REWARD
    return 0.0


def accuracy_reward(text: Any, gt_country: str | None, gt_city: str | None) -> float:
    """1.0 when the answer's country and city are the truth's, 0.2 for the country alone, else 0.

    Only the first ``<answer>`` block is read (the released scope); a city counts only together
    with its country (the paper's rule); without a ground-truth city the best possible score is
    0.2; without a predicted country, or with one that is not a country's name, it is 0.
    """
    if gt_country is None:
        return 0.0
    country, city = answer_block_fields(completion_text(text))
    if country is None:
        return 0.0
    return _place_score(country, city, gt_country, gt_city)


def _truth_columns(
    completions: Sequence[Any], solution: Any, country: Any, city: Any, reward: str
) -> tuple[list[Any], list[Any], list[Any]]:
    """The ``solution``, ``country`` and ``city`` columns aligned with ``completions``; an error without any."""
    if solution is None and country is None:
        raise ValueError(
            f"{reward} needs ground truth: a `solution` column (\"country\\tcity\") or "
            "`country`/`city` columns in the dataset; the batch has neither"
        )
    n = len(completions)
    return _column(solution, n, "solution"), _column(country, n, "country"), _column(city, n, "city")


def accuracy_rewards(
    completions: Sequence[Any],
    solution: Sequence[Any] | None = None,
    country: Sequence[Any] | None = None,
    city: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """Paper accuracy (1.0 / 0.2 / 0.0) per completion, decided by :func:`globe.scoring.same_place`.

    Ground truth per row: ``solution`` (``"country\\tcity"``) first, and the ``country`` /
    ``city`` columns for whatever it lacks. Raises ``ValueError`` when none of these columns
    was given at all.
    """
    rewards = []
    for text, sol, row_country, row_city in zip(completions, *_truth_columns(completions, solution, country, city,
                                                                              "accuracy reward")):
        gt_country, gt_city = split_solution(sol)
        gt_country = gt_country or _text_or_none(row_country)
        gt_city = gt_city or _text_or_none(row_city)
        rewards.append(accuracy_reward(text, gt_country, gt_city))
    return rewards


def _released_truth(solution: Any, country: Any, city: Any, index: int) -> tuple[str, str] | None:
    """The released reward's ground truth: ``solution.split("\\t")``, else the ``country``/``city`` columns."""
    if isinstance(solution, str):
        parts = solution.split("\t")
        if len(parts) != 2:
            raise ValueError(
                f"globe_accuracy_released: row {index}'s solution {solution[:60]!r} is not \"country<TAB>city\" "
                f"(the released format, split on its one tab); fix the dataset or use globe_accuracy"
            )
        return parts[0], parts[1]
    if isinstance(country, str):
        return country, city if isinstance(city, str) else ""
    return None


def released_accuracy_reward(text: Any, gt_country: str, gt_city: str) -> float:
    """The released accuracy, bit for bit: 1.0 / 0.2 / 0.0 by the 0.7-ratio substring rule.

    First ``<answer>`` block (no block: nothing), first case-sensitive ``country:`` and ``city:``
    there (:func:`globe.answers.released_answer_fields`), compared by
    :func:`globe.scoring.released_match`.
    """
    country, city = released_answer_fields(completion_text(text), whole_text_without_block=False)
    if released_match(country, gt_country):
        return CITY_REWARD if released_match(city, gt_city) else COUNTRY_REWARD
    return 0.0


def released_accuracy_rewards(
    completions: Sequence[Any],
    solution: Sequence[Any] | None = None,
    country: Sequence[Any] | None = None,
    city: Sequence[Any] | None = None,
    **_: Any,
) -> list[float]:
    """``globe_accuracy_released``: :func:`released_accuracy_reward` per completion.

    Ground truth: ``solution`` split on its tab exactly as released (a cell without exactly one
    tab raises ``ValueError``: the released reward crashed there too), else the ``country`` /
    ``city`` columns as given; a row with neither scores 0.
    """
    rows = zip(completions, *_truth_columns(completions, solution, country, city, "globe_accuracy_released"))
    rewards = []
    for index, (text, sol, row_country, row_city) in enumerate(rows):
        truth = _released_truth(sol, row_country, row_city, index)
        rewards.append(0.0 if truth is None else released_accuracy_reward(text, *truth))
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

    Reasoning is :func:`globe.answers.think_text` (what :attr:`globe.answers.ParsedAnswer.think` holds). The last word of an entity may
    appear with a plural "s"/"es" (see :func:`_entity_pattern`). Entities that normalise to the
    same words count once; entities without any word character are ignored. 0.0 when the
    row has no usable entities: nothing to recall earns nothing, as released, so a row
    without annotations never outranks one whose reasoning names its evidence.
    """
    patterns = _row_patterns(tuple(entity_texts(entities)))
    if not patterns:
        return 0.0
    reasoning = _fold(reasoning_cached(completion_text(text)))
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


def released_reasoning(text: Any) -> str:
    """The text the released visual-match reward searched: everything before the first ``</think>``.

    ``completion.split("</think>")[0].replace("<think>", "")``: text before ``<think>`` counts,
    and a completion without ``</think>`` is searched whole, answer included.
    """
    return completion_text(text).partition("</think>")[0].replace("<think>", "")


def released_visual_match_reward(text: Any, entities: Sequence[str]) -> float:
    """The released visual-match reward (``GeoVisalEntityMatching2ORM``) for one completion, bit for bit.

    The entity texts are lower-cased (``str.lower``) and de-duplicated as a set; the reward is the
    share of that set found as a plain substring of :func:`released_reasoning`, lower-cased. An
    empty set scores 0.0; an empty entity string is found in any text, so it always counts.
    """
    distinct = {entity.lower() for entity in entities}
    if not distinct:
        return 0.0
    reasoning = released_reasoning(text).lower()
    return sum(1 for entity in distinct if entity in reasoning) / len(distinct)


def released_entity_texts(entities: Any, index: int) -> list[str]:
    """One row's entity texts for the released reward: ``[ent["text"] for ent in entities]``.

    The dataset's own shape (a list of ``{"text": ...}``) is read as released, texts untouched; an
    item without a text string raises ``ValueError`` naming the row (the released reward crashed
    there). Other shapes a reader may hand over (a JSON string, plain strings, ``None``) are read
    by :func:`entity_texts`, so the transport does not change the score.
    """
    if isinstance(entities, (list, tuple)) and all(isinstance(item, Mapping) for item in entities):
        texts = [item.get("text") for item in entities]
        bad = next((item for item, entity in zip(entities, texts) if not isinstance(entity, str)), None)
        if bad is not None:
            raise ValueError(
                f"globe_visual_match_released: row {index}'s entity {bad!r} has no \"text\" string (the released "
                f"reward read ent[\"text\"].lower() and stopped there); fix the dataset's entities column"
            )
        return texts
    return entity_texts(entities)


def released_visual_match_rewards(
    completions: Sequence[Any], entities: Sequence[Any] | None = None, **_: Any
) -> list[float]:
    """``globe_visual_match_released``: :func:`released_visual_match_reward` per completion."""
    if entities is None:
        raise ValueError(
            "globe_visual_match_released needs an `entities` column ([{\"text\": ...}] per row) in the dataset; "
            "the batch has none"
        )
    rows = _column(entities, len(completions), "entities")
    return [released_visual_match_reward(text, released_entity_texts(row, index))
            for index, (text, row) in enumerate(zip(completions, rows))]


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
    ``<think></think>`` passes, as released. A chat template's think prefill in front of the
    model's own ``<think>`` (Qwen3.5's empty block) is not the model's and is not scored
    (:func:`globe.answers.model_text`). Linear time: the tags are located once instead of
    letting a backtracking pattern scan a 100 kB completion.
    """
    body = model_text(completion_text(text))
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


#: ms-swift 3.x's ``MathFormat`` (``external_math_format``), as the released plugin registered it.
RELEASED_FORMAT_PATTERN = re.compile(r"^<think>.*?</think>\s*<answer>.*?</answer>(?![\s\S])", re.DOTALL | re.MULTILINE)


def released_format_reward(text: Any) -> float:
    """1.0 when the released format regex matches the completion, else 0.0 (``external_math_format``).

    The start and end tests are implied by the pattern; checked first, they spare the regex
    most completions, and its result is unchanged.
    """
    body = completion_text(text)
    if not (body.startswith("<think>") and body.endswith("</answer>")):
        return 0.0
    return 1.0 if RELEASED_FORMAT_PATTERN.match(body) else 0.0


def released_format_rewards(completions: Sequence[Any], **_: Any) -> list[float]:
    """:func:`released_format_reward` per completion."""
    return [released_format_reward(text) for text in completions]


# --------------------------------------------------------------------------- distance


def level_floor_km(level: str | None) -> float:
    """The least distance an answer placed at ``level`` is scored at: 0 for a city (see the floors above)."""
    if is_city(level):
        return 0.0
    return COUNTRY_LEVEL_FLOOR_KM if level == "country" else REGION_LEVEL_FLOOR_KM


def distance_reward(text: Any, lat: Any, lon: Any, tau_km: float = DEFAULT_TAU_KM) -> float:
    """``exp(-d / tau_km)`` for the geodesic distance ``d`` from the truth to the answered place.

    The answered place is :func:`globe.scoring.score_answer`'s (the first ``<answer>`` block,
    resolved by :func:`globe.geo.resolve`), the distance the one evaluation reports. An answer
    that is not placed at city level counts as at least :func:`level_floor_km` away
    (``min(exp(-d/tau), exp(-floor/tau))``), so naming only the country never beats a real city
    guess 200 km off. 0.0 when the answer does not resolve or the row's coordinates are missing
    or out of range.
    """
    if valid_point(lat, lon) is None:
        return 0.0
    scored = score_answer(completion_text(text), lat, lon)
    if scored.distance_km is None:
        return 0.0
    return math.exp(-max(scored.distance_km, level_floor_km(scored.level)) / tau_km)


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


#: P(yes) / (P(yes) + P(no)) from the RM's first-token top logprobs: :func:`globe.answers.verdict_probability`.
locatability_reward_from_logprobs = verdict_probability


# --------------------------------------------------------------------------- registry


class Reward(NamedTuple):
    """One ``--reward_funcs`` name as the README's reward table shows it."""

    #: What the reward gives, and how it departs from the released one where it does.
    value: str
    #: The dataset columns (or settings) it reads.
    reads: str = ""
    #: Another name for the reward registered under this name (a released spelling).
    alias_of: str | None = None


#: Every ``--reward_funcs`` name GLOBE registers, in the README table's order (the one registry:
#: :mod:`globe.plugin` registers these and no other, so a new reward starts here).
REWARDS: dict[str, Reward] = {
    "globe_accuracy": Reward(
        "1.0 city and country right, 0.2 country only, else 0 (the paper's values), from the first `<answer>` "
        "block only, as released; names decided by `globe.scoring.same_place`, so aliases, scripts and "
        "spellings count; the country must be named as a country (\"Massachusetts / Boston\" earns 0); a city "
        "counts only with its country (\"France, Geneva\" for Geneva earns 0) and only as the same municipality "
        "(\"Cambridge\" for Boston earns 0.2; a district inside the city's core, such as Manhattan or Brooklyn "
        "for New York City, counts); a region, island or landmark is not a city; a name shared by several "
        "countries (\"Congo\", \"Korea\") counts for the one the named city is in",
        "`solution` (`\"country\\tcity\"`) or `country`/`city`"),
    "globe_accuracy_released": Reward(
        "the released accuracy reward bit for bit: first `<answer>` block, first `country:`/`city:` match, "
        "case-insensitive substring with a 0.7 length ratio", "same"),
    "globe_locatability": Reward(
        "P(yes) / (P(yes) + P(no)) from the first token's top logprobs of a reward model behind an OpenAI API",
        "`images`; endpoint from `GLOBE_RM_URL`"),
    "globe_locatablity": Reward("the same", "same", alias_of="globe_locatability"),
    "globe_visual_match": Reward(
        "share of the row's ground-truth visual entities named in the reasoning: whole words with case, "
        "diacritics and apostrophes folded and a plural \"s\"/\"es\" allowed (\"St. Peter's\" = \"St Peters\", "
        "\"bus\" matches \"buses\" but never \"business\"); 0 for a row without entities", "`entities`"),
    "globe_visual_match_released": Reward(
        "the released visual-match reward bit for bit (`GeoVisalEntityMatching2ORM`, which the released code "
        "registered as `globe_visual_match`): the share of the row's distinct lower-cased entity texts found as "
        "plain substrings of the lower-cased text before the first `</think>` (the whole completion when there is "
        "none; `<think>` removed; text before it counts); an empty entity string is always found; 0 for a row "
        "without entities", "`entities`"),
    "globe_format": Reward(
        "1 for exactly `<think>...</think><answer>...</answer>` with real `country:` and `city:` lines"),
    "external_math_format": Reward(
        "ms-swift 3.x's format reward under its released name: `^<think>.*?</think>\\s*<answer>.*?</answer>` "
        "and nothing after, so the released command lines run unchanged"),
    "globe_distance": Reward(
        "exp(-d/τ) from the true coordinates to the answered place (first `<answer>` block), "
        "τ = `GLOBE_DISTANCE_TAU_KM` (750); an answer placed only at country level counts as at least 200 km off, "
        "one placed at a region, island or landmark as at least 100 km off, so dropping the city never beats a "
        "real city guess and naming the region never beats the right city", "`lat`, `lon`"),
}


def reward_table() -> str:
    """The README's reward table, from :data:`REWARDS` (an alias shares its reward's row)."""
    aliases = {reward.alias_of: name for name, reward in REWARDS.items() if reward.alias_of}
    lines = ["| name | value | reads |", "|---|---|---|"]
    for name, reward in REWARDS.items():
        if reward.alias_of:
            continue
        shown = f"`{name}` (alias `{aliases[name]}`)" if name in aliases else f"`{name}`"
        lines.append(f"| {shown} | {reward.value} | {reward.reads} |")
    return "\n".join(lines) + "\n"
