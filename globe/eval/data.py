"""Ground truth for evaluation: named test sets or any CSV, read through ``globe-data``'s layouts.

The distributed test files disagree on nearly everything (IM2GPS3K: ``IMG_ID, AUTHOR, LAT,
LON``; MP16-Reason-Test: ``IMG_ID, LAT, LON, city, country, ...``; OSV-5M: ``id, latitude,
longitude, country`` as ISO codes; YFCC100M's ``info.txt``: tab-separated, no header; IM2GPS:
images named by more than their id). :func:`load_ground_truth` reads a file through its
:class:`globe.data.layouts.Layout` (the catalog's for a named set, ``auto`` detects it from the
header otherwise), the same object ``globe-data`` converts with, so both tools agree on the id
column, the coordinate columns, whether a country cell is a code, and which file an id names.
Rows become :class:`globe.catalog.GroundTruthRow` records keeping every original column, and a
missing city/country is filled with ``globe-data``'s reverse-geocoding rule
(:func:`globe.data.geocode.place_labels`), so both tools label a point alike. The CSV reader
(:mod:`globe.data.csvfile`: long cells, unclosed quotes) and the detection of a header whose
``LAT``/``LON`` are swapped (an old IM2GPS3K commit) are ``globe-data``'s too.

A row that cannot be used (no image id, coordinates missing or out of range, ragged or
unreadable CSV line) is kept with a ``problem`` so the run writes it with ``status="bad_row"``:
the run's row count is always the file's. Image ids are resolved by
:func:`globe.data.image_paths.resolve_image_path`, confined to the image root.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from globe.catalog import GroundTruthRow
from globe.data.csvfile import CsvEncodingError, CsvRecord, detect_swap, open_csv
from globe.data.geocode import PlaceLabel, place_labels
from globe.data.layouts import (CSV, ColumnMap, Layout, LayoutError, TableFormat, detect_file_layout, detect_layout,
                                get_layout, map_columns)
from globe.geo.countries import expand_country_code

SWAP_CHOICES = ("auto", "yes", "no")

#: ``(lats, lons) -> [(country, city) | None, ...]``; the default is :func:`globe.data.geocode.place_labels`.
ReverseGeocoder = Callable[[list[float], list[float]], list[PlaceLabel | None]]


class GroundTruthError(ValueError):
    """The ground-truth file as a whole is unusable (missing, no header, no coordinate columns)."""


@dataclass
class GroundTruthFile:
    """A whole ground-truth file as read: its rows and how they were read."""

    columns: list[str]
    rows: list[GroundTruthRow]
    image_root: Path
    gt_file: Path
    n_reverse_geocoded: int = 0
    column_map: dict[str, str | None] = field(default_factory=dict)
    lat_lon_swapped: bool = False  # the "LAT" column was read as longitude and "LON" as latitude
    swap_evidence: str = ""  # why: detect_swap's counts, or the forcing option
    layout: Layout = field(default_factory=lambda: get_layout("mp16-reason"))  # how ids name image files

    def image_path(self, image_id: str) -> Path:
        """The file ``image_id`` names under the image root, by the layout's naming (may not exist);
        raises :class:`~globe.data.image_paths.ImageOutsideRoot` for an id leaving the root."""
        from globe.data.image_paths import resolve_image_path

        return resolve_image_path(self.image_root, image_id, self.layout.image_names, self.layout.file_id)


def _coordinate(value: str | None, low: float, high: float, label: str) -> tuple[float | None, str | None]:
    text = (value or "").strip()
    if not text:
        return None, f"{label} is empty"
    try:
        number = float(text)
    except ValueError:
        return None, f"{label}={text!r} is not a number"
    if not (low <= number <= high):
        return None, f"{label}={number} is outside [{low:g}, {high:g}]"
    return number, None


def _cell(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def read_csv_rows(path: Path, table: TableFormat = CSV) -> tuple[list[str], list[CsvRecord]]:
    """Header and every data record (unreadable ones with ``fields=None``), read with ``table``'s
    delimiter and quoting; a headerless table's header is its column names by position."""
    if not path.is_file():
        raise GroundTruthError(f"ground-truth file not found: {path}")
    try:
        with open_csv(path, errors="strict", table=table) as (records, _):
            if table.has_header:
                header_record = next(records, None)
                if header_record is None:
                    raise GroundTruthError(f"ground-truth file {path} is empty; it needs a header row")
                if header_record.fields is None:
                    raise GroundTruthError(f"ground-truth file {path} has an unreadable header: {header_record.error}")
                header = [column.strip() for column in header_record.fields]
            else:
                header = list(table.header or ())
            rows = list(records)
    except CsvEncodingError as exc:
        raise GroundTruthError(f"ground-truth file {path}: {exc}") from None
    return header, rows


def _row_of(record: CsvRecord, layout: Layout, columns: ColumnMap) -> tuple[dict[str, str], str | None]:
    """A record as ``{column: value}`` and why it cannot be used (None: it can); ragged records
    are kept, padded, with a problem."""
    header = columns.header
    if record.fields is None:
        return {}, f"unparsable CSV line {record.line}: {record.error}"
    values = record.fields
    problem = None
    if not layout.row_fits(values, columns):
        problem = f"CSV line {record.line} has {len(values)} fields, the header has {len(header)}"
    padded = list(values[: len(header)]) + [""] * (len(header) - len(values))
    return dict(zip(header, padded)), problem


def load_ground_truth(
    gt_file: str | os.PathLike,
    image_root: str | os.PathLike,
    limit: int | None = None,
    reverse_geocode: ReverseGeocoder | None = None,
    swap_lat_lon: str = "auto",
    layout: str = "auto",
) -> GroundTruthFile:
    """Read a ground-truth file into rows ready to evaluate; see the module docstring.

    ``layout``: a :data:`globe.data.layouts.LAYOUTS` name, or ``auto`` (detected from the header).
    ``reverse_geocode`` fills missing country/city (default: :func:`globe.data.geocode.place_labels`).
    ``limit`` keeps the first N data rows. ``swap_lat_lon``: ``auto`` reads ``LAT`` as longitude
    and ``LON`` as latitude when the values say the header is swapped (judged on the whole
    file's first rows, not only the ``limit``), ``yes``/``no`` force it;
    :attr:`GroundTruthFile.lat_lon_swapped` and ``swap_evidence`` report the outcome.
    """
    if swap_lat_lon not in SWAP_CHOICES:
        raise ValueError(f"swap_lat_lon={swap_lat_lon!r}: choose one of {', '.join(SWAP_CHOICES)}")
    gt_path = Path(gt_file)
    root = Path(image_root)
    if layout == "auto" and gt_path.is_file():
        layout = _detected_layout(gt_path)
    table = CSV if layout == "auto" else _layout(layout).table
    header, records = read_csv_rows(gt_path, table)
    spec, columns = _columns(header, layout, gt_path)
    names = columns.names()
    image_column, lat_column, lon_column = names.get("id"), names.get("lat"), names.get("lon")
    country_column, city_column = names.get("country"), names.get("city")
    if swap_lat_lon == "auto":
        swapped, evidence = detect_swap(gt_path, columns, table=spec.table)
    else:
        swapped, evidence = swap_lat_lon == "yes", f"--swap-lat-lon {swap_lat_lon}"
    if swapped:  # the column headed LAT holds longitudes: read each value from the other column
        lat_column, lon_column = lon_column, lat_column
    if limit is not None:
        records = records[: max(0, limit)]
    parsed = [_row_of(record, spec, columns) for record in records]

    rows: list[GroundTruthRow] = []
    for index, (raw, problem) in enumerate(parsed):
        image = _cell(raw.get(image_column)) if raw else None
        lat, lat_problem = _coordinate(raw.get(lat_column), -90.0, 90.0, lat_column) if raw else (None, None)
        lon, lon_problem = _coordinate(raw.get(lon_column), -180.0, 180.0, lon_column) if raw else (None, None)
        if problem is None and image is None:
            problem = f"no image id in column {image_column}"
        country = _cell(raw.get(country_column)) if country_column and raw else None
        rows.append(GroundTruthRow(
            index=index, raw=raw, image_id=image, lat=lat, lon=lon,
            country=(expand_country_code(country) if spec.country_is_code else country) if country else None,
            city=_cell(raw.get(city_column)) if city_column and raw else None,
            problem=problem or lat_problem or lon_problem,
        ))

    n_filled = fill_missing_places(rows, reverse_geocode)
    return GroundTruthFile(
        columns=header, rows=rows, image_root=root, gt_file=gt_path, n_reverse_geocoded=n_filled,
        column_map={"image": image_column, "lat": lat_column, "lon": lon_column, "country": country_column, "city": city_column},
        lat_lon_swapped=swapped, swap_evidence=evidence, layout=spec,
    )


def _detected_layout(gt_path: Path) -> str:
    """The layout of a file given without one (:func:`globe.data.layouts.detect_file_layout`)."""
    try:
        return detect_file_layout(gt_path)
    except LayoutError as exc:
        raise GroundTruthError(str(exc)) from None


def _layout(name: str) -> Layout:
    try:
        return get_layout(name)
    except LayoutError as exc:
        raise GroundTruthError(str(exc)) from None


def _columns(header: list[str], layout: str, gt_path: Path) -> tuple[Layout, ColumnMap]:
    """The layout and column map of a ground-truth file; GroundTruthError names what is missing
    (evaluation needs an id and both coordinates, whatever the layout requires for conversion)."""
    spec = _layout(detect_layout(header, gt_path.name) if layout == "auto" else layout)
    columns = map_columns(header, spec)
    missing = [(label, logical) for label, logical in (("image id", "id"), ("latitude", "lat"), ("longitude", "lon"))
               if not columns.has(logical)]
    if missing:
        expected = "; ".join(f"{label}: one of {', '.join(spec.column_aliases(logical))}" for label, logical in missing)
        raise GroundTruthError(
            f"{gt_path} has no {' / '.join(label for label, _ in missing)} column; header is {header}. "
            f"Expected (any case) {expected} (layout {spec.name!r}; --layout names another)"
        )
    return spec, columns


def reverse_geocoded_names(
    lats: Sequence[float], lons: Sequence[float], reverse_geocode: ReverseGeocoder | None = None
) -> list[tuple[str | None, str | None]]:
    """``(country, city)`` for truth given only as coordinates, by ``globe-data``'s rule
    (:func:`globe.data.geocode.place_labels`); None where no place is near enough or it is only a country."""
    if not lats:
        return []
    labels = (reverse_geocode or place_labels)(list(lats), list(lons))
    if len(labels) != len(lats):
        raise ValueError(f"reverse_geocode returned {len(labels)} places for {len(lats)} coordinates")
    return [(label[0] or None, label[1] or None) if label else (None, None) for label in labels]


def fill_missing_places(rows: list[GroundTruthRow], reverse_geocode: ReverseGeocoder | None = None) -> int:
    """Fill missing country/city from coordinates (:func:`reverse_geocoded_names`); returns rows filled."""
    todo = [row for row in rows if row.problem is None and (row.country is None or row.city is None)]
    names = reverse_geocoded_names([row.lat for row in todo], [row.lon for row in todo], reverse_geocode)
    for row, (country, city) in zip(todo, names, strict=True):
        row.country = row.country or country
        row.city = row.city or city
    return len(todo)
