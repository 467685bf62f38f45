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
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

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


def think_text(text: str) -> str:
    """The reasoning part of a completion.

    ``<think>...</think>`` when closed; an unclosed ``<think>`` runs to ``<answer>`` or the end;
    with no think tags at all, everything before the first ``<answer>`` (a model that reasons
    without tags still reasons). This matches the released visual-match reward, which took the
    text before ``</think>``.
    """
    text = text or ""
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
    """Split a completion into reasoning and answer, by the rules in the module docstring."""
    text = text if isinstance(text, str) else ""
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
    for region in regions:
        country, city = _region_fields(region)
        if country or city:
            break
    if answer is not None and country is None and city is None:
        city, country = _bare_place(answer)
    think = _tag_spans(lowered, "<think>", "</think>", first_only=True)
    return ParsedAnswer(
        think=_think(text, lowered, think),
        answer=answer,
        country=country,
        city=city,
        has_think=bool(think),
        has_answer=bool(blocks),
        n_answer_blocks=len(blocks),
    )
