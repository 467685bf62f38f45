"""Parsing of single CSV/JSON fields: coordinates, entity lists, answer tags, yes/no labels.

Pure functions over strings, shared by the converter (``globe-data``) and by the registry's
row builder, so a released CSV read directly by ms-swift and the same CSV converted first
give identical values.
"""
from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterable
from typing import Any

from globe.answers import VERDICT_WORDS

_COUNTRY_TAG = re.compile(r"<country>(.*?)</country>", re.DOTALL | re.IGNORECASE)
_CITY_TAG = re.compile(r"<city>(.*?)</city>", re.DOTALL | re.IGNORECASE)
_ENTITY_SPLIT = re.compile(r"\s*[;|\n]\s*")

#: Label spellings of a yes/no verdict: a model's own words (:data:`globe.answers.VERDICT_WORDS`) plus
#: what annotation files write.
YES_WORDS = frozenset({word for word, p_yes in VERDICT_WORDS.items() if p_yes == 1.0} | {"y", "true", "1", "locatable", "positive"})
NO_WORDS = frozenset({word for word, p_yes in VERDICT_WORDS.items() if p_yes == 0.0}
                     | {"n", "false", "0", "unlocatable", "not locatable", "negative"})


class FieldError(ValueError):
    """A field that cannot be read; ``reason`` is the report key (e.g. ``non_numeric_coords``)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_coordinate(text: Any, name: str) -> float:
    """A finite float from a CSV cell; raise FieldError('non_numeric_coords') otherwise.

    ``name`` ("lat"/"lon") only flavours the message.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        try:
            value = float(text)
        except OverflowError:  # an int such as 10**400 (JSON allows it)
            raise FieldError("non_numeric_coords", f"{name}={str(text)[:20]}... is too large") from None
    else:
        raw = "" if text is None else str(text).strip()
        if not raw:
            raise FieldError("non_numeric_coords", f"{name} is empty")
        try:
            value = float(raw)
        except ValueError:
            raise FieldError("non_numeric_coords", f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise FieldError("non_numeric_coords", f"{name}={text!r} is not finite")
    return value


def check_lat_lon(lat: float, lon: float) -> None:
    """Raise FieldError('coords_out_of_range') unless -90<=lat<=90 and -180<=lon<=180."""
    if not -90.0 <= lat <= 90.0:
        raise FieldError("coords_out_of_range", f"lat={lat} outside [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise FieldError("coords_out_of_range", f"lon={lon} outside [-180, 180]")


def parse_entities(value: Any) -> tuple[list[dict[str, str]], bool]:
    """Entity annotations in any released form -> ``([{"text": ...}, ...], ok)``.

    Accepted: a list (of strings or of dicts with ``text``/``name``/``entity``), a JSON or
    Python-literal string of such a list, or a plain string split on ``;``, ``|`` or newlines.
    Order is kept, blanks and case-insensitive repeats dropped. ``ok`` is False when a string
    looked like a list but could not be parsed (the caller reports it; the row is kept).
    """
    if value is None:
        return [], True
    if isinstance(value, float) and math.isnan(value):
        return [], True
    ok = True
    items: Iterable[Any]
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return [], True
        if text[0] in "[{":
            parsed = _parse_literal(text)
            if parsed is None:
                ok = False
                items = [t for t in _ENTITY_SPLIT.split(text.strip("[]{}")) if t]
            else:
                items = parsed if isinstance(parsed, list) else [parsed]
        else:
            items = _ENTITY_SPLIT.split(text)
    elif isinstance(value, dict):
        items = [value]
    else:
        items = list(value)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in items:
        text = _entity_text(item)
        if text is None:
            ok = False
            continue
        text = " ".join(text.split())
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            out.append({"text": text})
    return out, ok


def _parse_literal(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # nested deeper than the parser goes: not a usable list
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _entity_text(item: Any) -> str | None:
    if isinstance(item, str):
        return item.strip().strip("'\"").strip()
    if isinstance(item, dict):
        for key in ("text", "name", "entity", "value"):
            if isinstance(item.get(key), str):
                return item[key].strip()
        return None
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return str(item)
    return None


def parse_solution(text: Any) -> tuple[str, str] | None:
    """``(country, city)`` from a released ``solution`` cell, or None.

    Two forms exist: the released preprocessor's tags ``<country>X</country><city>Y</city>``
    and the ``"country\\tcity"`` string GRPO rows carry.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    country_m = _COUNTRY_TAG.search(text)
    city_m = _CITY_TAG.search(text)
    if country_m or city_m:
        return (
            country_m.group(1).strip() if country_m else "",
            city_m.group(1).strip() if city_m else "",
        )
    if "\t" in text:
        country, city = text.split("\t", 1)
        return country.strip(), city.strip()
    return None


def parse_yes_no(value: Any) -> str | None:
    """``"yes"``/``"no"`` from a locatability label in any common spelling, else None."""
    if value is None or isinstance(value, bool):
        return None if value is None else ("yes" if value else "no")
    if isinstance(value, (int, float)):
        if value in (0, 1):
            return "yes" if value == 1 else "no"
        return None
    word = str(value).strip().strip("\u201c\u201d\"'.").lower()
    if word in YES_WORDS:
        return "yes"
    if word in NO_WORDS:
        return "no"
    return None


def cell_text(value: Any) -> str:
    """A CSV cell as a stripped string; None/NaN become ``""`` (a cell, unlike
    :func:`globe.geo.text.clean_text`, which vets a place name and returns None for no name)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip()
