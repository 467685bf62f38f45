"""The released CSV layouts GLOBE reads, and how to tell them apart from a header.

Each source names the same facts differently (``IMG_ID``/``id``, ``LAT``/``latitude``...), so
columns are found by alias, case-insensitively, and a layout only adds what differs: which
columns it must have, how an id becomes an image file name, and where city/country come from.

=============  ===========================================================  =================
layout         columns (what GLOBE reads; others are ignored)                 city / country
=============  ===========================================================  =================
mp16-reason    IMG_ID, LAT, LON, city, country, response|reasoning,          columns, else the
               solution (``<country>X</country><city>Y</city>``),              solution tags
               entities, locatable (train CSV; the test CSV has the first 5)
mp16-pro       IMG_ID, AUTHOR, LAT, LON, neighbourhood, city, county, state,   columns
               region, country, continent (IMG_ID may hold ``7e/c3/x.jpg``)
im2gps3k       IMG_ID, AUTHOR, LAT, LON, S3_Label, ... (no city/country)       reverse geocoding
osv5m          id, latitude, longitude, ..., country (ISO code), region,       columns
               sub-region, city; images are ``<id>.jpg``
=============  ===========================================================  =================
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# Logical column -> accepted header names, in priority order (matched case-insensitively).
# The one list of spellings: globe-data and the evaluator (globe.eval) both read columns through it.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("IMG_ID", "img_id", "image_id", "id", "image", "file_name", "filename", "img", "image_path", "path"),
    "lat": ("LAT", "latitude", "lat_deg", "gps_lat"),
    "lon": ("LON", "longitude", "lng", "long", "lon_deg", "gps_lon"),
    "country": ("country", "country_name"),
    "city": ("city", "city_name"),
    "reasoning": ("reasoning", "response", "think", "rationale", "cot", "reason"),
    "solution": ("solution",),
    "entities": ("entities", "entity", "visual_entities", "clues"),
    "locatable": ("locatable", "locatability", "is_locatable"),
}

# Columns whose presence marks a reasoning (MP16-Reason) file.
_REASON_MARKERS = ("reasoning", "solution", "entities", "locatable")
_MP16_PRO_MARKERS = {"neighbourhood", "county", "continent", "state"}
_IM2GPS_MARKERS = {"author", "s3_label", "s16_label", "s365_label"}


class LayoutError(ValueError):
    """The CSV does not fit the requested layout; the message names the file, header and fix."""


@dataclass(frozen=True)
class Layout:
    """What differs between sources: required columns and id -> image file names."""

    name: str
    required: tuple[str, ...]
    image_names: Callable[[str], list[str]]
    country_is_code: bool = False
    description: str = ""


def _with_jpg(name: str) -> list[str]:
    return [name] if os.path.splitext(name)[1] else [name + ".jpg", name]


def mp16_image_names(image_id: str) -> list[str]:
    """MP16 ids come as ``7e_c3_123.jpg`` (MP16-Pro filtered, MP16-Reason) or ``7e/c3/123.jpg``.

    Both spellings are tried, so a flat folder and the original nested tree both work.
    """
    names = _with_jpg(image_id)
    out = list(names)
    for name in names:
        if "/" in name:
            out.append(name.replace("/", "_"))
        elif name.count("_") >= 2:
            out.append(name.replace("_", "/", 2))
    return list(dict.fromkeys(out))


def osv5m_image_names(image_id: str) -> list[str]:
    """OSV-5M ids are numbers; the image is ``<id>.jpg``."""
    return _with_jpg(image_id)


LAYOUTS: dict[str, Layout] = {
    "mp16-reason": Layout(
        "mp16-reason",
        required=("id",),
        image_names=mp16_image_names,
        description="MP16-Reason train/test CSV (IMG_ID, LAT, LON, city, country, reasoning...)",
    ),
    "mp16-pro": Layout(
        "mp16-pro",
        required=("id", "lat", "lon"),
        image_names=mp16_image_names,
        description="MP16-Pro metadata (IMG_ID, AUTHOR, LAT, LON, neighbourhood, city, ..., country, continent)",
    ),
    "im2gps3k": Layout(
        "im2gps3k",
        required=("id", "lat", "lon"),
        image_names=mp16_image_names,
        description="IM2GPS3K (IMG_ID, AUTHOR, LAT, LON, ...): city/country by reverse geocoding",
    ),
    "osv5m": Layout(
        "osv5m",
        required=("id", "lat", "lon"),
        image_names=osv5m_image_names,
        country_is_code=True,
        description="OSV-5M test CSV (id, latitude, longitude, ..., country, region, sub-region, city)",
    ),
}


@dataclass
class ColumnMap:
    """Index of each logical column in a header (None when absent)."""

    header: list[str]
    index: dict[str, int | None] = field(default_factory=dict)

    def has(self, column: str) -> bool:
        return self.index.get(column) is not None

    def get(self, row: Sequence[str], column: str) -> str:
        i = self.index.get(column)
        return row[i] if i is not None and i < len(row) else ""

    def names(self) -> dict[str, str]:
        """Logical column -> the header name it was found under."""
        return {k: self.header[i] for k, i in self.index.items() if i is not None}


def map_columns(header: Sequence[str]) -> ColumnMap:
    """Find every logical column in ``header`` by alias (exact name first, then case-insensitive)."""
    stripped = [h.strip().lstrip("\ufeff") for h in header]
    exact = {h: i for i, h in reversed(list(enumerate(stripped)))}
    folded = {h.lower(): i for i, h in reversed(list(enumerate(stripped)))}
    index: dict[str, int | None] = {}
    for column, aliases in COLUMN_ALIASES.items():
        found = None
        for alias in aliases:
            if alias in exact:
                found = exact[alias]
                break
        if found is None:
            for alias in aliases:
                if alias.lower() in folded:
                    found = folded[alias.lower()]
                    break
        index[column] = found
    return ColumnMap(header=stripped, index=index)


def detect_layout(header: Sequence[str]) -> str:
    """The layout a header most plausibly belongs to (see the module table)."""
    columns = map_columns(header)
    lowered = {h.lower() for h in columns.header}
    if any(columns.has(c) for c in _REASON_MARKERS):
        return "mp16-reason"
    if "latitude" in lowered and "longitude" in lowered and "id" in lowered and "img_id" not in lowered:
        return "osv5m"
    if lowered & _MP16_PRO_MARKERS:
        return "mp16-pro"
    if not columns.has("country") and (lowered & _IM2GPS_MARKERS or columns.has("lat")):
        return "im2gps3k"
    return "mp16-reason"


def resolve_layout(header: Sequence[str], layout: str, source: str) -> tuple[Layout, ColumnMap]:
    """The layout to use (``auto`` detects it) and the column map; raise LayoutError if unusable."""
    if layout == "auto":
        layout = detect_layout(header)
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown layout {layout!r}; choose one of: auto, {', '.join(LAYOUTS)}")
    spec = LAYOUTS[layout]
    columns = map_columns(header)
    missing = [c for c in spec.required if not columns.has(c)]
    if columns.has("lat") != columns.has("lon"):
        missing.append("lon" if columns.has("lat") else "lat")
    if missing:
        wanted = "; ".join(f"{c}: one of {', '.join(COLUMN_ALIASES[c])}" for c in missing)
        raise LayoutError(
            f"{source}: header {list(columns.header)} lacks the column(s) the {layout!r} layout needs "
            f"({wanted}). Check --layout (or use --layout auto) and that the file is a CSV with a header row."
        )
    return spec, columns
