"""Ground truth for evaluation: named test sets or any CSV, read the way the real files are spelled.

The released test CSVs disagree on column names (IM2GPS3K: ``IMG_ID, AUTHOR, LAT, LON``;
MP16-Reason-Test: ``IMG_ID, LAT, LON, city, country, ...``; OSV-5M: ``id, latitude, longitude,
country, city, ...``) and IM2GPS3K has no city/country at all. :func:`load_ground_truth` reads
any of them into :class:`GroundTruthRow` records, keeping every original column untouched, and
fills a missing city/country by offline reverse geocoding (``globe.geo.reverse_many``). Columns
are found by ``globe-data``'s aliases (:func:`globe.data.layouts.map_columns`), and a header whose
``LAT``/``LON`` are swapped (an old IM2GPS3K commit) is detected from the values the way
``globe-data`` detects it (:func:`globe.data.convert.detect_swap`), so both read a file alike.

A row that cannot be used (no image id, coordinates missing or out of range, ragged CSV line)
is kept with a ``problem`` so the run writes it with ``status="bad_row"`` instead of dropping it.
Image references are confined to the image root: ``../../etc/passwd`` or an absolute path is
refused per row (``status="outside_image_root"``), so a hostile CSV cannot make the evaluator
upload arbitrary local files to a remote server.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from globe.data.convert import detect_swap
from globe.data.layouts import COLUMN_ALIASES, map_columns, mp16_image_names

REPO_ROOT = Path(__file__).resolve().parents[2]
SWAP_CHOICES = ("auto", "yes", "no")

ReverseGeocoder = Callable[[list[float], list[float]], list[Any]]


@dataclass(frozen=True)
class DatasetLayout:
    """Where a named test set lives under the data root."""

    csv: str
    images: str
    description: str = ""


#: Named test sets: CSV and image folder relative to the data root (the released eval's file names).
DATASETS: dict[str, DatasetLayout] = {
    "mp16-reason-test-12k": DatasetLayout(
        "mp16-reason-test-12k.csv", "eval_images", "MP16-Reason test split (HF globe-project/MP16-Reason, eval_images.zip)"
    ),
    "im2gps3k": DatasetLayout("img2gps3k_gt.csv", "im2gps3ktest", "IM2GPS3K (IMG_ID, AUTHOR, LAT, LON; no city/country)"),
    "osv5m-test-mini-3k": DatasetLayout("test_mini.csv", "osv-test-mini-3k", "3k-image subset of the OSV-5M test set"),
}
#: The released code's names for the same sets.
DATASET_ALIASES = {"img2gps3k": "im2gps3k", "osv-test-mini-3k": "osv5m-test-mini-3k"}


class GroundTruthError(ValueError):
    """The ground-truth file as a whole is unusable (missing, no header, no coordinate columns)."""


@dataclass
class GroundTruthRow:
    """One ground-truth row: its original columns plus what scoring needs."""

    index: int  # 0-based data-row position in the CSV: the resume key
    raw: dict[str, str]
    image: str | None
    lat: float | None = None
    lon: float | None = None
    country: str | None = None
    city: str | None = None
    problem: str | None = None  # why the row cannot be evaluated (status "bad_row")


@dataclass
class GroundTruth:
    columns: list[str]
    rows: list[GroundTruthRow]
    image_root: Path
    gt_file: Path
    n_reverse_geocoded: int = 0
    column_map: dict[str, str | None] = field(default_factory=dict)
    lat_lon_swapped: bool = False  # the "LAT" column was read as longitude and "LON" as latitude
    swap_evidence: str = ""  # why: detect_swap's counts, or the forcing option


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """``--data-root``, else ``$GLOBE_DATA_ROOT``, else ``<repo>/data``."""
    if explicit:
        return Path(explicit)
    if os.environ.get("GLOBE_DATA_ROOT"):
        return Path(os.environ["GLOBE_DATA_ROOT"])
    return REPO_ROOT / "data"


def dataset_paths(name: str, root: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """``(csv path, image dir)`` of a named test set; ``ValueError`` lists the known names."""
    canonical = DATASET_ALIASES.get(name, name)
    if canonical not in DATASETS:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown dataset {name!r}; known: {known} (or pass --gt-file and --image-root)")
    layout = DATASETS[canonical]
    base = data_root(root)
    return base / layout.csv, base / layout.images


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


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def image_candidates(normalised: str) -> list[str]:
    """File names a reference may be stored under, most literal first.

    The same rule ``globe-data`` applies (:func:`globe.data.layouts.mp16_image_names`): a bare
    id gets ``.jpg`` (the released eval's rule; OSV-5M ids are numbers), and MP16 ids written
    ``7e/c3/123.jpg`` are also tried flattened as ``7e_c3_123.jpg`` and vice versa, since the
    released zips and the original tree disagree.
    """
    return mp16_image_names(normalised)


def resolve_image_path(image_root: Path, image: str) -> Path:
    """The image file for a row, confined to ``image_root``.

    Raises ``PermissionError`` for absolute paths and ``..`` escapes (checked on the normalised
    path, so the user's own symlinks inside the root keep working). Returns the first existing
    :func:`image_candidates` name, else the literal path (the caller reports it missing).
    """
    reference = image.strip().replace("\\", "/")
    if os.path.isabs(reference) or reference.startswith("/") or (len(reference) > 1 and reference[1] == ":"):
        raise PermissionError(f"image path {image!r} is absolute; paths must be relative to --image-root")
    normalised = os.path.normpath(reference).replace("\\", "/")
    if normalised in (".", "..") or normalised.startswith("../"):
        raise PermissionError(f"image path {image!r} leaves --image-root {image_root}")
    for name in image_candidates(normalised):
        if (image_root / name).is_file():
            return image_root / name
    return image_root / normalised


def read_csv_rows(path: Path) -> tuple[list[str], list[tuple[dict[str, str], str | None]]]:
    """Header and ``(row, problem)`` pairs; ragged lines are kept with a problem, not dropped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GroundTruthError(f"ground-truth file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise GroundTruthError(f"ground-truth file {path} is not UTF-8 text ({exc}); re-save it as UTF-8 CSV") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise GroundTruthError(f"ground-truth file {path} is empty; it needs a header row") from None
    except csv.Error as exc:
        raise GroundTruthError(f"ground-truth file {path} has an unreadable header: {exc}") from None
    header = [column.strip() for column in header]
    rows: list[tuple[dict[str, str], str | None]] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. an unclosed quote swallowing the rest of the file
            rows.append(({}, f"unparsable CSV line {reader.line_num}: {exc}"))
            break
        if not values or all(not value.strip() for value in values):
            continue  # blank lines are not rows
        problem = None
        if len(values) != len(header):
            problem = f"CSV line {reader.line_num} has {len(values)} fields, the header has {len(header)}"
        padded = list(values[: len(header)]) + [""] * (len(header) - len(values))
        rows.append((dict(zip(header, padded)), problem))
    return header, rows


def load_ground_truth(
    gt_file: str | os.PathLike,
    image_root: str | os.PathLike,
    limit: int | None = None,
    reverse_geocode: ReverseGeocoder | None = None,
    swap_lat_lon: str = "auto",
) -> GroundTruth:
    """Read a ground-truth CSV into rows ready to evaluate; see the module docstring.

    ``reverse_geocode(lats, lons) -> places`` fills missing country/city (default:
    ``globe.geo.reverse_many``). ``limit`` keeps the first N data rows. ``swap_lat_lon``:
    ``auto`` reads ``LAT`` as longitude and ``LON`` as latitude when the values say the header
    is swapped (judged on the whole file's first rows, not only the ``limit``), ``yes``/``no``
    force it; :attr:`GroundTruth.lat_lon_swapped` and ``swap_evidence`` report the outcome.
    """
    if swap_lat_lon not in SWAP_CHOICES:
        raise ValueError(f"swap_lat_lon={swap_lat_lon!r}: choose one of {', '.join(SWAP_CHOICES)}")
    gt_path = Path(gt_file)
    root = Path(image_root)
    header, parsed = read_csv_rows(gt_path)
    columns = map_columns(header)
    names = columns.names()
    image_column, lat_column, lon_column = names.get("id"), names.get("lat"), names.get("lon")
    country_column, city_column = names.get("country"), names.get("city")
    missing = [(label, logical) for label, logical in (("image id", "id"), ("latitude", "lat"), ("longitude", "lon"))
               if logical not in names]
    if missing:
        expected = "; ".join(f"{label}: one of {', '.join(COLUMN_ALIASES[logical])}" for label, logical in missing)
        raise GroundTruthError(
            f"{gt_path} has no {' / '.join(label for label, _ in missing)} column; header is {header}. "
            f"Expected (any case) {expected}"
        )
    if swap_lat_lon == "auto":
        swapped, evidence = detect_swap(gt_path, columns)
    else:
        swapped, evidence = swap_lat_lon == "yes", f"--swap-lat-lon {swap_lat_lon}"
    if swapped:  # the column headed LAT holds longitudes: read each value from the other column
        lat_column, lon_column = lon_column, lat_column
    if limit is not None:
        parsed = parsed[: max(0, limit)]

    rows: list[GroundTruthRow] = []
    for index, (raw, problem) in enumerate(parsed):
        image = _clean(raw.get(image_column)) if raw else None
        lat, lat_problem = _coordinate(raw.get(lat_column), -90.0, 90.0, lat_column) if raw else (None, None)
        lon, lon_problem = _coordinate(raw.get(lon_column), -180.0, 180.0, lon_column) if raw else (None, None)
        if problem is None and image is None:
            problem = f"no image id in column {image_column}"
        problem = problem or lat_problem or lon_problem
        rows.append(GroundTruthRow(
            index=index, raw=raw, image=image, lat=lat, lon=lon,
            country=_clean(raw.get(country_column)) if country_column and raw else None,
            city=_clean(raw.get(city_column)) if city_column and raw else None,
            problem=problem,
        ))

    expand_country_codes(rows)
    n_filled = fill_missing_places(rows, reverse_geocode)
    return GroundTruth(
        columns=header, rows=rows, image_root=root, gt_file=gt_path, n_reverse_geocoded=n_filled,
        column_map={"image": image_column, "lat": lat_column, "lon": lon_column, "country": country_column, "city": city_column},
        lat_lon_swapped=swapped, swap_evidence=evidence,
    )


def expand_country_codes(rows: list[GroundTruthRow]) -> None:
    """Spell ISO alpha-2 country codes (OSV-5M's ``country`` column) as names, so every metric,
    the released string rule included, compares names with names."""
    coded = [row for row in rows if row.country and len(row.country) == 2 and row.country.isupper()]
    if not coded:
        return
    from globe.geo import country_name

    for row in coded:
        row.country = country_name(row.country) or row.country


def reverse_geocoded_names(
    lats: Sequence[float], lons: Sequence[float], reverse_geocode: ReverseGeocoder | None = None
) -> list[tuple[str | None, str | None]]:
    """``(country name, city)`` of the nearest GeoNames place to each point, for truth given only as coordinates.

    Defaults to ``globe.geo.reverse_many`` at city level: the city a person would name ("Paris",
    not the district "Paris 04"). City is None where the nearest place is only a country, and
    both are None where the geocoder found nothing.
    """
    if not lats:
        return []
    from globe.geo import country_name

    if reverse_geocode is None:
        from functools import partial

        from globe.geo import reverse_many

        reverse_geocode = partial(reverse_many, city_level=True)
    names: list[tuple[str | None, str | None]] = []
    for place in reverse_geocode(list(lats), list(lons)):
        if place is None:
            names.append((None, None))
            continue
        city = place.name if getattr(place, "level", "city") == "city" else None
        names.append((country_name(place.country_code) or place.country_code, city))
    if len(names) != len(lats):
        raise ValueError(f"reverse_geocode returned {len(names)} places for {len(lats)} coordinates")
    return names


def fill_missing_places(rows: list[GroundTruthRow], reverse_geocode: ReverseGeocoder | None = None) -> int:
    """Fill missing country/city from coordinates (nearest GeoNames place); returns rows filled."""
    todo = [row for row in rows if row.problem is None and (row.country is None or row.city is None)]
    names = reverse_geocoded_names([row.lat for row in todo], [row.lon for row in todo], reverse_geocode)
    for row, (country, city) in zip(todo, names, strict=True):
        row.country = row.country or country
        row.city = row.city or city
    return len(todo)
