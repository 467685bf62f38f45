"""Parsing what a model wrote: the ``<think>`` reasoning and the ``country:`` / ``city:`` answer.

Models trained or prompted for ``<think>...</think><answer>country: X\\ncity: Y</answer>`` drift
from it in every way: missing or unclosed tags, markdown bold, ``Country : X``, several answers,
placeholders copied from the prompt. Everything downstream (rewards, evaluation, distillation)
reads answers through :func:`parse_answer`, so the rules live here once:

* **Which answer counts.** The *last* complete ``<answer>...</answer>`` block: a model that
  revises itself commits to its final block, and the format reward separately penalises extra
  blocks. Without any block, the ``country:``/``city:`` lines after ``</think>`` are used, then
  those anywhere in the text, then ``<country>..</country><city>..</city>`` tags (the released
  data's solution format).
* **Which line counts.** Inside the chosen region the last ``country:`` line and the last
  ``city:`` line win, for the same reason. The two may share a line ("country: France, city:
  Paris" or "country: France city: Paris"). An answer block holding only "Paris, France" (or
  "City, Region, Country") is read as city first, country last.
* **Values** lose markdown emphasis, quotes, brackets and trailing punctuation; placeholders such
  as ``[country name]``, ``unknown`` or ``N/A`` count as no answer (``None``).

That lenient reading serves evaluation and distillation. Training rewards read a narrower scope,
the released reward's: :func:`answer_block_fields` (the *first* ``<answer>`` block only; nothing
outside it, nothing in ``<think>``). :func:`released_answer_fields` is the released evaluation's
extraction, character for character, for its string accuracy.

**Think prefills.** Some chat templates write the start of the think block themselves (Qwen3.5:
an empty ``<think>\n\n</think>\n\n`` by default, ``<think>\n`` with thinking on; Qwen3-VL:
``<think>\n`` with thinking on: :mod:`globe.families`), and ms-swift returns that prefill at the
front of the completion. A model that then writes GLOBE's own ``<think>...</think>`` leaves a
prefill in front of it; :func:`model_text` removes it, and :func:`think_text`,
:func:`parse_answer` and GLOBE's format reward read through it, so a completion scores and reads
the same under every family. How the prefill is known: by the completion's shape, not by
configuration. A template's opening tag or empty block directly followed by another ``<think>``
is never a format a model writes on purpose, and every ms-swift 4.x engine (transformers, vLLM,
``swift deploy``) puts the prefill there; a prefill ``<think>\n`` that the model continues
inside (``<think>\nreasoning</think>...``) already has both tags and needs nothing. The released
readers (:func:`released_answer_fields`, the released format) read the raw text, as released.

Also here, because every client of a model's text needs them once: the text of a chat message or
completion (:func:`content_text`, :func:`completion_text`) and a yes/no verdict, read from the
first token's top logprobs (:func:`verdict_probability`) or from the reply's first word
(:func:`verdict_from_text`).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

# "country: X", "**Country:** X", "- country : X"; "Country - X" is not accepted (too loose).
_FIELD_LINE = {
    key: re.compile(
        rf"^[ \t>*_#\-\u2022]*{key}[ \t*_]*[:\uff1a][ \t*_]*(?P<value>[^\n]*)$",
        re.IGNORECASE | re.MULTILINE,
    )
    for key in ("country", "city")
}
# Both keys in one pass: the hot path of every reward.
_FIELD_ANY = re.compile(
    r"^[ \t>*_#\-\u2022]*(?P<key>country|city)[ \t*_]*[:\uff1a][ \t*_]*(?P<value>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
# Where a field line may start besides a line start: after an answer/think tag, or after a
# separator before the next key ("country: France, city: Paris" on one line).
_FIELD_BREAK = re.compile(
    r"</?(?:answer|think)>|(?:[,;|][ \t]*|(?<=\S)[ \t]+)(?=[*_]*(?:country|city)[ \t*_]*[:\uff1a])", re.IGNORECASE
)
_BARE_PLACE = re.compile(r"^[^\n,:<>]{1,60}(?:,[^\n,:<>]{1,60}){1,2}$")
_STRAY_TAG = re.compile(r"</?[a-zA-Z]+>")
_SPACE_RUN = re.compile(r"\s+")
_PLACEHOLDERS = {
    "", "unknown", "n/a", "na", "none", "null", "not sure", "uncertain", "unsure", "-", "?",
    "country name", "city name", "[country name]", "[city name]", "country", "city",
}
_MAX_VALUE_CHARS = 200


class ParsedAnswer(NamedTuple):
    """A model's completion split into its parts; fields are ``None`` when absent.

    A named tuple rather than a dataclass: rewards build one per completion, thousands per step.
    """

    think: str
    answer: str | None
    country: str | None
    city: str | None
    has_think: bool
    has_answer: bool
    n_answer_blocks: int
    #: The names came from an ``<answer>`` block (False: found only outside the tags, or none found).
    in_answer_block: bool = False


@lru_cache(maxsize=1 << 14)
def clean_value(raw: str | None) -> str | None:
    """Strip markdown, quotes, brackets and trailing punctuation; ``None`` for placeholders.

    Memoised: GRPO batches repeat the same few hundred place names thousands of times.
    """
    if raw is None:
        return None
    value = raw.strip()
    if "<" in value:
        value = _STRAY_TAG.sub("", value)  # stray tags such as </answer>
    value = value.strip(" \t*_`\"'\u201c\u201d\u2018\u2019[](){}")
    value = value.rstrip(".;,!\u3002").strip(" \t*_`\"'\u201c\u201d")
    if "  " in value or not value.isprintable():
        value = _SPACE_RUN.sub(" ", value)
    if len(value) > _MAX_VALUE_CHARS or value.lower() in _PLACEHOLDERS:
        return None
    return value


def _lowered(text: str) -> str:
    """``text`` lower-cased position for position, so tags found in it index ``text`` itself.

    ``str.lower`` is the fast path; the few characters whose lower case is longer ("İ") are
    kept as they are, which cannot hide a tag (tags are ASCII).
    """
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low) == 1 else char for char, low in ((c, c.lower()) for c in text))


def _tag_spans(lowered: str, opening: str, closing: str, first_only: bool = False) -> list[tuple[int, int]]:
    """Inner spans of ``<x>...</x>`` blocks, non-nested, like a lazy ``<x>(.*?)</x>`` finditer.

    Plain ``str.find`` on the lower-cased text (tags match in any case): the lazy regex is
    quadratic on degenerate text (a GRPO rollout of ``"<think>" * 14000`` took 15 s to parse)
    and, even on normal text, several times slower.
    """
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        opened = lowered.find(opening, position)
        if opened < 0:
            return spans
        start = opened + len(opening)
        closed = lowered.find(closing, start)
        if closed < 0:  # no later opening tag can be closed either
            return spans
        spans.append((start, closed))
        if first_only:
            return spans
        position = closed + len(closing)


# A template's think prefill in front of the model's own <think>: the opening tag alone ("<think>\n")
# or an empty block ("<think>\n\n</think>\n\n"). Anchored, so linear on any text.
_PREFILL_BEFORE_OWN_THINK = re.compile(r"\A\s*<think>\s*(?:</think>\s*)?(?=<think>)", re.IGNORECASE)


def model_text(text: str) -> str:
    """A completion as the model wrote it: without a template's think prefill in front of its own ``<think>``.

    ``"<think>\\n\\n</think>\\n\\n<think>R</think><answer>..."`` (Qwen3.5's default prefill) and
    ``"<think>\\n<think>R</think>..."`` (an opening prefill the model opened again) read as
    ``"<think>R</think>..."``; any other text is returned unchanged (see the module docstring).
    """
    if not text or not isinstance(text, str):
        return text if isinstance(text, str) else ""
    match = _PREFILL_BEFORE_OWN_THINK.match(text)
    return text[match.end():] if match else text


def think_text(text: str) -> str:
    """The reasoning part of a completion (read through :func:`model_text`).

    ``<think>...</think>`` when closed; an unclosed ``<think>`` runs to ``<answer>`` or the end;
    with no think tags at all, everything before the first ``<answer>`` (a model that reasons
    without tags still reasons). This matches the released visual-match reward, which took the
    text before ``</think>``.
    """
    text = model_text(text or "")
    lowered = _lowered(text)
    return _think(text, lowered, _tag_spans(lowered, "<think>", "</think>", first_only=True))


def _think(text: str, lowered: str, closed: list[tuple[int, int]]) -> str:
    if closed:
        start, end = closed[0]
        return text[start:end].strip()
    opened = lowered.find("<think>")
    start = opened + len("<think>") if opened >= 0 else 0
    ends = [i for i in (lowered.find("</think>", start), lowered.find("<answer>", start)) if i >= 0]
    return text[start : min(ends) if ends else len(text)].strip()


def field_values(region: str, key: str, *, own_lines: bool = False) -> list[str]:
    """Every usable ``KEY: value`` in ``region``, in order (placeholders and empty values left out).

    ``key`` is ``"country"`` or ``"city"``. Shared by :func:`parse_answer` and the format reward,
    so a "country line" means the same thing to both. ``own_lines=True`` accepts a field only at
    the start of a line (the trained format); by default a field may also follow a tag or share
    a line with the other field ("country: France, city: Paris"), as answers drift.
    """
    return list(iter_field_values(region, key, own_lines=own_lines))


def iter_field_values(region: str, key: str, *, own_lines: bool = False) -> Iterator[str]:
    """:func:`field_values`, lazily (``next(...)`` answers "is there one?" without cleaning the rest)."""
    if not own_lines:
        region = _FIELD_BREAK.sub("\n", region)
    for match in _FIELD_LINE[key].finditer(region):
        value = clean_value(match.group("value"))
        if value is not None:
            yield value


def line_fields(region: str) -> tuple[str | None, str | None]:
    """The last usable ``country:`` and ``city:`` values among the region's field lines.

    Only lines that start with the key count (the trained format; what the format reward
    requires); :func:`parse_answer` is more forgiving.
    """
    found: dict[str, str] = {}
    for match in _FIELD_ANY.finditer(region):
        value = clean_value(match.group("value"))
        if value is not None:
            found[match.group("key").lower()] = value
    return found.get("country"), found.get("city")


def without_field_lines(text: str) -> str:
    """``text`` with every ``country:`` / ``city:`` line removed (what is left of a reply is its reasoning)."""
    return _FIELD_ANY.sub("", text)


def _merged(value: str | None) -> bool:
    """A value still holding a field separator: two fields shared a line ("France city: Paris")."""
    return value is not None and (":" in value or "\uff1a" in value)


def _last_tag(region: str, key: str) -> str | None:
    """The last usable ``<key>value</key>`` (the released data's solution format)."""
    for start, end in reversed(_tag_spans(_lowered(region), f"<{key}>", f"</{key}>")):
        value = clean_value(region[start:end])
        if value is not None:
            return value
    return None


def _region_fields(region: str) -> tuple[str | None, str | None]:
    """``(country, city)`` of one region: field lines, then shared lines, then the tag format.

    Splitting shared lines (``_FIELD_BREAK``) is only needed when a field is missing or
    swallowed the other one, so well-formed answers skip it.
    """
    country, city = line_fields(region)
    if country is None or city is None or _merged(country) or _merged(city):
        country, city = line_fields(_FIELD_BREAK.sub("\n", region))
    if (country is None or city is None) and "<" in region:
        country = country or _last_tag(region, "country")
        city = city or _last_tag(region, "city")
    return country, city


def _bare_place(answer: str) -> tuple[str | None, str | None]:
    """``(city, country)`` from an answer block that is just "Paris, France" (or "City, Region, Country")."""
    text = answer.strip()
    if not _BARE_PLACE.match(text):
        return None, None
    parts = [clean_value(part) for part in text.split(",")]
    return parts[0], parts[-1]


def parse_answer(text: str | None) -> ParsedAnswer:
    """Split a completion into reasoning and answer, by the rules in the module docstring (think prefills included)."""
    text = model_text(text) if isinstance(text, str) else ""
    lowered = _lowered(text)
    blocks = _tag_spans(lowered, "<answer>", "</answer>")
    answer = text[blocks[-1][0] : blocks[-1][1]].strip() if blocks else None
    last_close = lowered.rfind("</think>")
    after_think = text[last_close + len("</think>") :] if last_close >= 0 else None

    regions = [answer] if answer is not None else []
    if after_think is not None:
        regions.append(after_think)
    regions.append(text)
    country = city = None
    in_block = False
    for index, region in enumerate(regions):
        country, city = _region_fields(region)
        if country or city:
            in_block = index == 0 and answer is not None
            break
    if answer is not None and country is None and city is None:
        city, country = _bare_place(answer)
        in_block = bool(country or city)
    think = _tag_spans(lowered, "<think>", "</think>", first_only=True)
    return ParsedAnswer(
        think=_think(text, lowered, think),
        answer=answer,
        country=country,
        city=city,
        has_think=bool(think),
        has_answer=bool(blocks),
        n_answer_blocks=len(blocks),
        in_answer_block=in_block,
    )


# --------------------------------------------------------------------------- the rewards' scope


def first_answer_block(text: str | None) -> str | None:
    """The inside of the first ``<answer>...</answer>`` block (tags as written, lower case), else ``None``.

    The released reward's ``re.search(r'<answer>(.*?)</answer>', text, re.DOTALL)``, found with
    ``str.find`` (linear on degenerate text), not stripped.
    """
    if not isinstance(text, str):
        return None
    opened = text.find("<answer>")
    if opened < 0:
        return None
    closed = text.find("</answer>", opened + 8)
    return None if closed < 0 else text[opened + 8 : closed]


@lru_cache(maxsize=4096)
def answer_block_fields(text: str | None) -> tuple[str | None, str | None]:
    """``(country, city)`` from the first ``<answer>`` block only: what a training reward may read.

    The released reward's scope: no block means no answer, and nothing outside the block (lines
    after ``</think>``, lines inside ``<think>``) ever counts. Inside the block the field lines
    are read as :func:`parse_answer` reads a region (markdown, ``Country :``, both fields on one
    line, placeholders as no answer, the last line of each key); a bare "Paris, France" names
    no field and is no answer, as released. Memoised: ms-swift calls every reward on the same
    completions one after another.
    """
    block = first_answer_block(text)
    if block is None:
        return None, None
    return _region_fields(block.strip())


_RELEASED_COUNTRY = re.compile(r"country:\s*([^\n]+)")
_RELEASED_CITY = re.compile(r"city:\s*([^\n]+)")


def released_answer_fields(
    text: str | None, *, whole_text_without_block: bool = True, use_cot: bool = True
) -> tuple[str, str]:
    """``(country, city)`` exactly as the released code extracted them: lower case, ``""`` when absent.

    The first ``<answer>`` block (case-sensitive tags), else the whole text
    (``whole_text_without_block=True``, the released evaluation) or nothing (``False``, the
    released reward); in it, the first ``country:`` / ``city:`` match, case-sensitive, anywhere
    in a line (``\\s*`` may cross a line break), stripped. ``use_cot=False`` is the released
    evaluation of the direct prompt (``extract_location_without_think``): the first matches in
    the whole text, an answer block or not. The released evaluation lower-cased the values; the
    released reward compared them case-insensitively, which is the same.
    """
    if not text or not isinstance(text, str):
        return "", ""
    block = first_answer_block(text) if use_cot else None  # re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
    if block is not None:
        region = block.strip()
    else:
        region = text if whole_text_without_block or not use_cot else ""
    country = _RELEASED_COUNTRY.search(region)
    city = _RELEASED_CITY.search(region)
    return (
        country.group(1).strip().lower() if country else "",
        city.group(1).strip().lower() if city else "",
    )


# --------------------------------------------------------------------------- message text


def content_text(content: Any) -> str | None:
    """A chat message's ``content`` as text: a string, OpenAI text parts joined, ``""`` for ``None``.

    ``None`` for any other shape, so each caller picks its policy: a reward scores it 0, the chat
    client reports a malformed response.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, Mapping))
    return None


def completion_text(completion: Any) -> str:
    """A completion as text: a string, a message ``{"role", "content"}``, a list of messages (the last), or ``""``.

    Open-r1-style conversational completions and OpenAI content parts are read; anything else is
    ``""``, so a reward scores it 0 instead of raising mid-training.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return content_text(completion.get("content")) or ""
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        return content_text(completion[-1].get("content")) or ""
    return ""


# --------------------------------------------------------------------------- yes/no verdicts

_YES_TOKENS = frozenset({"yes", "Yes", "YES"})
_NO_TOKENS = frozenset({"no", "No", "NO"})
# Tokenizers mark a leading space as "Ġ" (byte-level BPE) or "▁" (SentencePiece).
_TOKEN_SPACE_MARKS = " \t\n\u0120\u2581\u010a"
_FIRST_WORD = re.compile(r"[a-z]+")
#: A reply's first word -> its verdict: P(yes) 1.0 or 0.0.
VERDICT_WORDS: dict[str, float] = {"yes": 1.0, "no": 0.0}

_LEADING_THINK = re.compile(r"\A\s*<think>", re.IGNORECASE)


def _after_leading_think(text: str) -> str:
    """``text`` after a leading, closed ``<think>...</think>`` block (unchanged without one)."""
    if not _LEADING_THINK.match(text):
        return text
    closed = _lowered(text).find("</think>")
    return text[closed + len("</think>"):] if closed >= 0 else text


def verdict_probability(top_logprobs: Mapping[str, float] | None) -> float | None:
    """P(yes) / (P(yes) + P(no)) from a first token's top logprobs, ``None`` if neither is there.

    GLOBE's wider reading (``GLOBE_RM_VERDICT=globe``; the released one is
    :func:`released_verdict_probability`): sums the probabilities of yes/Yes/YES and of no/No/NO
    with or without a leading space or newline mark (" yes", "Ġyes", "▁yes", "\\nyes"), the
    released reward counting only the bare forms; a token listed twice counts once, at its best
    logprob (``top_logprobs`` is a mapping). ``None`` rather
    than 0 so the caller can tell "the model said no" from "the model said something else"
    (the released reward scored that case 0.0).
    """
    if not isinstance(top_logprobs, Mapping):
        return None
    yes = no = 0.0
    for token, logprob in top_logprobs.items():
        word = token.strip(_TOKEN_SPACE_MARKS) if isinstance(token, str) else ""
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


#: How the RM's first-token yes/no tokens are read (``GLOBE_RM_VERDICT``): ``released`` (the
#: default, :func:`released_verdict_probability`) or ``globe`` (:func:`verdict_probability`).
VERDICT_READINGS = ("released", "globe")
#: What the released reward added to P(yes) + P(no) before dividing.
RELEASED_VERDICT_EPSILON = 1e-19


def released_verdict_probability(top_logprobs: Iterable[tuple[str, float]] | Mapping[str, float] | None) -> float | None:
    """P(yes) / (P(yes) + P(no) + 1e-19) read as the released reward read it; ``None`` if neither is there.

    ``top_logprobs``: the first token's ``(token, logprob)`` entries in the server's order (a
    mapping is read as its items). Only the exact tokens yes/Yes/YES and no/No/NO count (" yes"
    or "Ġyes" do not), and a token listed twice adds both probabilities, as the released loop did.
    ``None`` rather than the released 0.0 when no such token is listed, so the caller's
    ``GLOBE_RM_NO_VERDICT`` rule decides (``zero``, the released value, gives 0.0).
    """
    if top_logprobs is None:
        return None
    entries = top_logprobs.items() if isinstance(top_logprobs, Mapping) else top_logprobs
    yes = no = 0.0
    found = False
    for entry in entries:
        try:
            token, logprob = entry
            probability = math.exp(float(logprob))
        except (TypeError, ValueError, OverflowError):
            continue
        if not isinstance(token, str):
            continue
        if token in _YES_TOKENS:
            yes += probability
        elif token in _NO_TOKENS:
            no += probability
        else:
            continue
        found = True
    if not found or yes + no <= 0.0:
        return None
    return yes / (yes + no + RELEASED_VERDICT_EPSILON)


def verdict_from_text(text: str | None) -> float | None:
    """1.0 / 0.0 when a reply's first word is yes / no (case, quotes, markdown ignored), else ``None``.

    The first run of ASCII letters: ``'"Yes."'`` and ``"**No**"`` count, ``"yesterday"``,
    ``"Nope"`` and ``"I cannot tell"`` do not. A leading closed think block (a hybrid-thinking
    template's empty prefill, ``<think>\\n\\n</think>\\n\\n``, or a thinking model's reasoning) is
    skipped: the verdict is the first word after it.
    """
    if not text or not isinstance(text, str):
        return None
    text = _after_leading_think(text)
    word = _FIRST_WORD.search(text.lower())
    return None if word is None else VERDICT_WORDS.get(word.group())
