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

_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
_TAG_OPEN = {key: re.compile(rf"<{key}>", re.IGNORECASE) for key in ("country", "city")}
_TAG_CLOSE = {key: re.compile(rf"</{key}>", re.IGNORECASE) for key in ("country", "city")}
# "country: X", "**Country:** X", "- country : X"; "Country - X" is not accepted (too loose).
_FIELD_LINE = {
    key: re.compile(
        rf"^[ \t>*_#\-\u2022]*{key}[ \t*_]*[:\uff1a][ \t*_]*(?P<value>[^\n]*)$",
        re.IGNORECASE | re.MULTILINE,
    )
    for key in ("country", "city")
}
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


def _spans(text: str, opening: re.Pattern, closing: re.Pattern, first_only: bool = False) -> list[tuple[int, int]]:
    """Inner spans of ``<x>...</x>`` blocks, non-nested, like a lazy ``<x>(.*?)</x>`` finditer.

    Written as two plain searches because the lazy regex is quadratic on degenerate text: a GRPO
    rollout of ``"<think>" * 14000`` took 15 s to parse; this takes milliseconds.
    """
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        opened = opening.search(text, position)
        if opened is None:
            return spans
        closed = closing.search(text, opened.end())
        if closed is None:  # no later opening tag can be closed either
            return spans
        spans.append((opened.end(), closed.start()))
        if first_only:
            return spans
        position = closed.end()


def think_text(text: str) -> str:
    """The reasoning part of a completion.

    ``<think>...</think>`` when closed; an unclosed ``<think>`` runs to ``<answer>`` or the end;
    with no think tags at all, everything before the first ``<answer>`` (a model that reasons
    without tags still reasons). This matches the released visual-match reward, which took the
    text before ``</think>``.
    """
    text = text or ""
    return _think(text, _spans(text, _THINK_OPEN, _THINK_CLOSE, first_only=True))


def _think(text: str, closed: list[tuple[int, int]]) -> str:
    if closed:
        start, end = closed[0]
        return text[start:end].strip()
    opened = _THINK_OPEN.search(text)
    start = opened.end() if opened else 0
    close = _THINK_CLOSE.search(text, start)
    answer = _ANSWER_OPEN.search(text, start)
    ends = [m.start() for m in (close, answer) if m]
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


def _last_field(region: str, key: str) -> str | None:
    """The last usable value of ``key`` in a region already split by ``_FIELD_BREAK``; tags last."""
    for match in reversed(list(_FIELD_LINE[key].finditer(region))):
        value = clean_value(match.group("value"))
        if value is not None:
            return value
    for start, end in reversed(_spans(region, _TAG_OPEN[key], _TAG_CLOSE[key])):
        value = clean_value(region[start:end])
        if value is not None:
            return value
    return None


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
    blocks = _spans(text, _ANSWER_OPEN, _ANSWER_CLOSE)
    answer = text[blocks[-1][0] : blocks[-1][1]].strip() if blocks else None
    after_think = None
    last_close = text.rfind("</think>")  # the usual spelling; other cases need the regex
    if last_close >= 0 and _THINK_CLOSE.search(text, last_close + len("</think>")) is None:
        after_think = text[last_close + len("</think>") :]
    else:
        for close in _THINK_CLOSE.finditer(text):
            after_think = text[close.end() :]

    regions = [answer] if answer is not None else []
    if after_think is not None:
        regions.append(after_think)
    regions.append(text)
    country = city = None
    for region in regions:
        region = _FIELD_BREAK.sub("\n", region)
        country = _last_field(region, "country")
        city = _last_field(region, "city")
        if country or city:
            break
    if answer is not None and country is None and city is None:
        city, country = _bare_place(answer)
    think = _spans(text, _THINK_OPEN, _THINK_CLOSE, first_only=True)
    return ParsedAnswer(
        think=_think(text, think),
        answer=answer,
        country=country,
        city=city,
        has_think=bool(think),
        has_answer=bool(blocks),
        n_answer_blocks=len(blocks),
    )
