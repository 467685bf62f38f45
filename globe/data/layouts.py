"""The distributed ground-truth layouts GLOBE reads, and how to tell them apart from a header.

Each source names the same facts differently (``IMG_ID``/``id``, ``LAT``/``latitude``...), so
columns are found by alias, case-insensitively, and a layout only adds what differs: which
columns it must have (and extra spellings of them), how an id becomes an image file name (or
which file in the image folder carries it), whether country cells are ISO codes or names, where
a missing city/country comes from, and how the file is tabulated (a header line or fixed
positions, comma or tab). ``globe-data`` (convert, validate) and ``globe-eval`` both read a file
through its :class:`Layout`, so a test set with its own naming is one layout here plus one entry
in :mod:`globe.catalog`, and both tools agree on every row (the ms-swift rows of
:mod:`globe.data.swift_rows` too). A file given without a layout is detected by
:func:`detect_file_layout`: its header, the catalog's file name where layouts share a header, or
its first line being a YFCC100M record (that form has no header).

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
yfcc4k         IMG_ID, LAT, LON, S3_Label, ... (``yfcc4k_places365.csv``)      reverse geocoding
yfcc100m-info  YFCC100M dataset lines, tab-separated, no header: photo id at   reverse geocoding
               position 1, longitude 12, latitude 13 (OSV-5M's ``info.txt``);
               images ``<photo id>.jpg``
yfcc26k        IMG_ID, LAT, LON, ... (``yfcc25600_places365.csv``)             reverse geocoding
im2gps         IMG_ID, LAT, LON, ... (``im2gps_places365.csv``); the images    reverse geocoding
               of ``gps_query_imgs`` are ``<Place>_<NNNNN>_<IMG_ID>``
=============  ===========================================================  =================
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Mapping, Sequence
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


#: Where a layout's city/country come from. ``columns``: the file's cells (``globe-data`` drops a
#: row without a country unless ``--fill-missing``). ``geocode``: the file has none, both come
#: from reverse geocoding the coordinates. ``globe-eval`` never drops a row: it fills any empty
#: cell by the same reverse geocoding either way.
PLACE_SOURCES = ("columns", "geocode")


@dataclass(frozen=True)
class TableFormat:
    """How a ground-truth file is tabulated.

    ``header`` None: the first line names the columns. A tuple: the file has no header line and
    these are its columns by position (YFCC100M's dataset lines); a row then needs only the
    positions a layout reads, since such dumps vary in their trailing fields.
    """

    delimiter: str = ","
    quoting: int = csv.QUOTE_MINIMAL
    header: tuple[str, ...] | None = None

    @property
    def has_header(self) -> bool:
        return self.header is None


CSV = TableFormat()


@dataclass(frozen=True)
class Layout:
    """What differs between sources (see the module docstring); read by globe-data and globe-eval alike."""

    name: str
    required: tuple[str, ...]
    image_names: Callable[[str], list[str]]
    country_is_code: bool = False
    description: str = ""
    #: Extra accepted header names per logical column, tried before :data:`COLUMN_ALIASES`.
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Where city/country come from (:data:`PLACE_SOURCES`).
    places: str = "columns"
    table: TableFormat = CSV
    #: For images whose file name cannot be derived from the id: the id a file name in the image
    #: folder stands for (None: not one of this layout's images). Used only when no name of
    #: :attr:`image_names` exists, from a listing of the folder made once per folder.
    file_id: Callable[[str], str | None] | None = None

    def __post_init__(self) -> None:
        if self.places not in PLACE_SOURCES:
            raise ValueError(f"layout {self.name!r}: places={self.places!r}; choose one of {', '.join(PLACE_SOURCES)}")

    def column_aliases(self, column: str) -> tuple[str, ...]:
        """The header names ``column`` is found under in this layout, in priority order."""
        return tuple(dict.fromkeys((*self.aliases.get(column, ()), *COLUMN_ALIASES.get(column, ()))))

    def row_fits(self, row: Sequence[str], columns: "ColumnMap") -> bool:
        """Whether a record has the fields this layout reads: all of the header's, or for a headerless
        file every position a mapped column uses."""
        if self.table.has_header:
            return len(row) == len(columns.header)
        return len(row) > max(i for i in columns.index.values() if i is not None)


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


_IM2GPS_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_.'-]*?_\d+_(?=\d)")


def im2gps_file_id(file_name: str) -> str | None:
    """The Flickr id an IM2GPS (237) image carries: ``gps_query_imgs`` names files
    ``<Place>_<NNNNN>_<flickr id>...`` while ``im2gps_places365.csv`` lists the bare
    ``<flickr id>...``; the part after the place and number is the id."""
    match = _IM2GPS_PREFIX.match(file_name)
    return file_name[match.end():] if match else None


#: YFCC100M's dataset fields in file order (its own documentation's names, snake-cased); OSV-5M's
#: yfcc4k ``info.txt`` holds such lines and reads position 1 (id), 12 (longitude) and 13 (latitude).
YFCC100M_FIELDS = (
    "line_number", "photo_id", "photo_hash", "user_nsid", "user_nickname", "date_taken", "date_uploaded",
    "capture_device", "title", "description", "user_tags", "machine_tags", "longitude", "latitude", "accuracy",
    "page_url", "download_url", "license_name", "license_url", "server_id", "farm_id", "secret",
    "secret_original", "extension_original", "marker",
)


def _places365(name: str, description: str, **kwargs) -> Layout:
    """A ``*_places365.csv`` of TIBHannover/GeoEstimation (IMG_ID, LAT, LON, scene labels): no city
    or country, both reverse geocoded; ids name files as MP16 ids do (flat or nested)."""
    return Layout(name, required=("id", "lat", "lon"), image_names=mp16_image_names, places="geocode",
                  description=description, **kwargs)


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
    "im2gps3k": _places365("im2gps3k", "IM2GPS3K (IMG_ID, AUTHOR, LAT, LON, ...): city/country by reverse geocoding"),
    "osv5m": Layout(
        "osv5m",
        required=("id", "lat", "lon"),
        image_names=osv5m_image_names,
        country_is_code=True,
        description="OSV-5M test CSV (id, latitude, longitude, ..., country (ISO code), region, sub-region, city)",
    ),
    "yfcc4k": _places365("yfcc4k", "YFCC4K yfcc4k_places365.csv as G3 distributes it (IMG_ID, LAT, LON, ...)"),
    "yfcc100m-info": Layout(
        "yfcc100m-info",
        required=("id", "lat", "lon"),
        image_names=osv5m_image_names,
        places="geocode",
        aliases={"id": ("photo_id",)},
        table=TableFormat(delimiter="\t", quoting=csv.QUOTE_NONE, header=YFCC100M_FIELDS),
        description="YFCC100M dataset lines, tab-separated, no header (OSV-5M's yfcc4k info.txt): "
                    "photo id, longitude, latitude at positions 1, 12, 13; images <photo id>.jpg",
    ),
    "yfcc26k": _places365("yfcc26k", "YFCC26k yfcc25600_places365.csv (IMG_ID, LAT, LON, ...)"),
    "im2gps": _places365("im2gps", "IM2GPS (237) im2gps_places365.csv (IMG_ID, LAT, LON, ...); images of "
                         "gps_query_imgs are <Place>_<NNNNN>_<IMG_ID>", file_id=im2gps_file_id),
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


def map_columns(header: Sequence[str], layout: Layout | None = None) -> ColumnMap:
    """Find every logical column in ``header`` by alias (exact name first, then case-insensitive);
    a ``layout``'s own spellings come before the shared ones."""
    stripped = [h.strip().lstrip("\ufeff") for h in header]
    exact = {h: i for i, h in reversed(list(enumerate(stripped)))}
    folded = {h.lower(): i for i, h in reversed(list(enumerate(stripped)))}
    index: dict[str, int | None] = {}
    for column in COLUMN_ALIASES:
        aliases = layout.column_aliases(column) if layout is not None else COLUMN_ALIASES[column]
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


def detect_layout(header: Sequence[str], file_name: str | None = None) -> str:
    """The layout a header most plausibly belongs to (see the module table).

    Several layouts share one header (every ``*_places365.csv`` reads ``IMG_ID, AUTHOR, LAT, LON,
    S3_Label, ...``); ``file_name``, when it is a file name the catalog lists for a test set
    (``im2gps_places365.csv``, ``yfcc4k_places365.csv``, ``test.csv``...), picks that set's layout
    among those the header cannot tell apart, so IM2GPS's image naming is not lost to IM2GPS3K's.
    """
    detected = _layout_by_header(header)
    named = _catalog_layout(file_name) if file_name else None
    if named is not None and _header_alike(LAYOUTS[named], LAYOUTS[detected]):
        return named
    return detected


def _layout_by_header(header: Sequence[str]) -> str:
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


def _catalog_layout(file_name: str) -> str | None:
    """The layout the catalog lists for a distributed file of this name, if any."""
    from globe.catalog import DATASETS  # the base layer; imported here to keep this module's import light

    name = os.path.basename(file_name)
    for entry in DATASETS:
        for source in entry.sources():
            if os.path.basename(source.file) == name:
                return source.layout
    return None


def _header_alike(a: Layout, b: Layout) -> bool:
    """Whether two layouts read the same header the same way (they differ only in image naming)."""
    return (a.required, a.places, a.country_is_code, a.table, dict(a.aliases)) == (
        b.required, b.places, b.country_is_code, b.table, dict(b.aliases))


#: The fewest tab-separated fields a YFCC100M dataset line has for the positions GLOBE reads.
_YFCC_MIN_FIELDS = YFCC100M_FIELDS.index("latitude") + 1


def looks_like_yfcc100m_line(line: str) -> bool:
    """Whether a line is a YFCC100M dataset record (OSV-5M's ``info.txt``): tab-separated, a numeric
    photo id at position 1, a longitude and a latitude in range at positions 12 and 13."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < _YFCC_MIN_FIELDS or not fields[1].strip().isdigit():
        return False
    try:
        lon = float(fields[YFCC100M_FIELDS.index("longitude")])
        lat = float(fields[YFCC100M_FIELDS.index("latitude")])
    except ValueError:
        return False
    return -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


def detect_file_layout(path: str | os.PathLike) -> str:
    """The layout of a ground-truth file given without ``--layout``: from its header and name
    (:func:`detect_layout`), or ``yfcc100m-info`` when its first line is a YFCC100M dataset
    record (that form has no header). A tab-separated first line that is neither a header GLOBE
    reads nor such a record is ambiguous: LayoutError says to name the layout."""
    first = _first_line(path)
    if looks_like_yfcc100m_line(first):
        return "yfcc100m-info"
    header = next(csv.reader([first]), [])
    columns = map_columns(header)
    if "\t" in first and not (columns.has("id") and columns.has("lat")):
        raise LayoutError(
            f"{path}: the first line is tab-separated and names no id/latitude column GLOBE reads, and it is "
            f"not a YFCC100M dataset line either (photo id, longitude, latitude at tab positions 1, 12, 13). "
            f"If the file holds YFCC100M lines without a header (OSV-5M's yfcc4k info.txt), pass "
            f"--layout yfcc100m-info; otherwise save it as a comma-separated CSV with a header row."
        )
    return detect_layout(header, os.fspath(path))


def _first_line(path: str | os.PathLike) -> str:
    """The first non-blank line of a text file ("" for an empty one)."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        for line in handle:
            if line.strip():
                return line.rstrip("\r\n")
    return ""


def get_layout(name: str) -> Layout:
    """The layout called ``name``; LayoutError lists the known ones."""
    if name not in LAYOUTS:
        raise LayoutError(f"unknown layout {name!r}; choose one of: auto, {', '.join(LAYOUTS)}")
    return LAYOUTS[name]


def resolve_layout(header: Sequence[str], layout: str, source: str) -> tuple[Layout, ColumnMap]:
    """The layout to use (``auto`` detects it) and the column map; raise LayoutError if unusable."""
    if layout == "auto":
        layout = detect_layout(header, source)
    spec = get_layout(layout)
    columns = map_columns(header, spec)
    missing = [c for c in spec.required if not columns.has(c)]
    if columns.has("lat") != columns.has("lon"):
        missing.append("lon" if columns.has("lat") else "lat")
    if missing:
        wanted = "; ".join(f"{c}: one of {', '.join(spec.column_aliases(c))}" for c in missing)
        raise LayoutError(
            f"{source}: header {list(columns.header)} lacks the column(s) the {layout!r} layout needs "
            f"({wanted}). Check --layout (or use --layout auto) and that the file is a CSV with a header row."
        )
    return spec, columns
