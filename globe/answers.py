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
  ``city:`` line win, for the same reason.
* **Values** lose markdown emphasis, quotes, brackets and trailing punctuation; placeholders such
  as ``[country name]``, ``unknown`` or ``N/A`` count as no answer (``None``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.IGNORECASE | re.DOTALL)
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
# "country: X", "**Country:** X", "- country : X", "Country - X" is not accepted (too loose).
_FIELD_LINE = {
    key: re.compile(
        rf"^[ \t>*_#\-\u2022]*{key}[ \t*_]*[:\uff1a][ \t*_]*(?P<value>[^\n]*)$",
        re.IGNORECASE | re.MULTILINE,
    )
    for key in ("country", "city")
}
_FIELD_TAG = {
    key: re.compile(rf"<{key}>(?P<value>.*?)</{key}>", re.IGNORECASE | re.DOTALL) for key in ("country", "city")
}
_PLACEHOLDERS = {
    "", "unknown", "n/a", "na", "none", "null", "not sure", "uncertain", "unsure", "-", "?",
    "country name", "city name", "[country name]", "[city name]", "country", "city",
}
_MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class ParsedAnswer:
    """A model's completion split into its parts; fields are ``None`` when absent."""

    think: str
    answer: str | None
    country: str | None
    city: str | None
    has_think: bool
    has_answer: bool
    n_answer_blocks: int


def clean_value(raw: str | None) -> str | None:
    """Strip markdown, quotes, brackets and trailing punctuation; ``None`` for placeholders."""
    if raw is None:
        return None
    value = raw.strip()
    value = re.sub(r"</?[a-zA-Z]+>", "", value)  # stray tags such as </answer>
    value = value.strip(" \t*_`\"'\u201c\u201d\u2018\u2019[](){}")
    value = value.rstrip(".;,!\u3002").strip(" \t*_`\"'\u201c\u201d")
    value = re.sub(r"\s+", " ", value)
    if len(value) > _MAX_VALUE_CHARS or value.lower() in _PLACEHOLDERS:
        return None
    return value


def think_text(text: str) -> str:
    """The reasoning part of a completion.

    ``<think>...</think>`` when closed; an unclosed ``<think>`` runs to ``<answer>`` or the end;
    with no think tags at all, everything before the first ``<answer>`` (a model that reasons
    without tags still reasons). This matches the released visual-match reward, which took the
    text before ``</think>``.
    """
    text = text or ""
    closed = _THINK_BLOCK.search(text)
    if closed:
        return closed.group(1).strip()
    opened = _THINK_OPEN.search(text)
    start = opened.end() if opened else 0
    close = _THINK_CLOSE.search(text, start)
    answer = _ANSWER_OPEN.search(text, start)
    ends = [m.start() for m in (close, answer) if m]
    return text[start : min(ends) if ends else len(text)].strip()


def _last_field(region: str, key: str) -> str | None:
    matches = list(_FIELD_LINE[key].finditer(region))
    for match in reversed(matches):
        value = clean_value(match.group("value"))
        if value is not None:
            return value
    tags = list(_FIELD_TAG[key].finditer(region))
    for match in reversed(tags):
        value = clean_value(match.group("value"))
        if value is not None:
            return value
    return None


def parse_answer(text: str | None) -> ParsedAnswer:
    """Split a completion into reasoning and answer, by the rules in the module docstring."""
    text = text if isinstance(text, str) else ""
    blocks = _ANSWER_BLOCK.findall(text)
    answer = blocks[-1].strip() if blocks else None
    close = None
    for close in _THINK_CLOSE.finditer(text):
        pass
    after_think = text[close.end() :] if close else None

    regions = [answer] if answer is not None else []
    if after_think is not None:
        regions.append(after_think)
    regions.append(text)
    country = city = None
    for region in regions:
        country = _last_field(region, "country")
        city = _last_field(region, "city")
        if country or city:
            break
    return ParsedAnswer(
        think=think_text(text),
        answer=answer,
        country=country,
        city=city,
        has_think=bool(_THINK_BLOCK.search(text)),
        has_answer=bool(blocks),
        n_answer_blocks=len(blocks),
    )
