"""Stream a released CSV into the JSONL rows ``globe/dataset.py`` registers, checking every row.

Design constraints, and how they are met:

- **Bounded memory.** Rows are read with the ``csv`` module (not pandas: its C parser cannot
  count the malformed lines it skips) and handled in chunks of ``chunk_size``; only the
  duplicate-id index grows with the file, at 8 bytes per row (:mod:`globe.data.idset`).
- **Never crash mid-way.** Every problem with a row becomes a counted drop reason with
  examples (:mod:`globe.data.report`); only a missing/unusable *file* raises, before any work.
- **Resumable and idempotent.** Kept rows are appended and flushed chunk by chunk. On a
  re-run, the ids already in the output are skipped (a line torn by a kill is cut off first),
  so a killed run resumes without duplicates and a finished run re-runs as a no-op.
- **Swapped LAT/LON headers** (an old IM2GPS3K commit) are detected from the values: a "LAT"
  column holding longitudes beyond +-90 while the "LON" column never leaves +-90.

Output row (one JSON object per line, every key always present)::

    {"image_id": "7e_c3_8163912402.jpg", "images": ["images/7e_c3_8163912402.jpg"],
     "country": "France", "city": "Paris", "lat": 48.8566, "lon": 2.3522,
     "solution": "France\\tParis", "entities": [{"text": "Eiffel Tower"}],
     "reasoning": "..." | null, "locatable": "yes" | "no" | null}

Image paths are relative to the output file's folder (``--absolute-paths`` writes absolute
ones); the registry resolves them against that folder, so a data folder can be moved whole.
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from globe.catalog import JSONL_KEYS, GroundTruthRow, ids_fingerprint
from globe.runfiles import (
    AppendOnlyFile,
    atomic_write_text,
    iter_jsonl_lines,
    read_jsonl,
    truncate_torn_tail,
)

from .csvfile import detect_swap, open_csv, read_header, skip_header
from .fields import (
    FieldError,
    cell_text,
    check_lat_lon,
    parse_coordinate,
    parse_entities,
    parse_solution,
    parse_yes_no,
)
from .geocode import GEOCODE_MAX_KM, GEOCODE_MIN_POPULATION, GeoLookup
from .idset import IdSet, digests
from .image_paths import ImageOutsideRoot, confined_names, find_layout_image
from .images import IMAGE_CHECKS, image_problem
from .layouts import CSV, ColumnMap, Layout, detect_file_layout, get_layout, resolve_layout
from .report import ConversionReport

DEDUPE_KEYS = ("id", "id+reasoning")
OUTPUT_PREFIX = b'{"image_id": '  # every output line starts so: how a resume recognises its own file
OUTPUT_KEYS = JSONL_KEYS


@dataclass
class ConvertOptions:
    """Knobs of one conversion; the CLI flags map one to one."""

    layout: str = "auto"
    image_root: str | os.PathLike | None = None  # None: the CSV's folder
    image_check: str = "decode"  # decode | exists | none (see globe.data.images)
    swap_lat_lon: str = "auto"  # auto | yes | no
    fill_missing: bool = False  # reverse-geocode empty country/city from lat/lon
    min_population: int = GEOCODE_MIN_POPULATION  # reverse geocoding: nearest place at least this large
    max_geocode_km: float = GEOCODE_MAX_KM  # ... and no farther than this, else the row is dropped
    normalise_countries: bool = True
    absolute_paths: bool = False
    chunk_size: int = 10_000
    workers: int = 4  # threads for image checks (PIL decodes without the GIL)
    limit: int | None = None  # stop after this many data rows
    dedupe_by: str = "id"  # id | id+reasoning (reward-model data: one image, several reasonings)
    progress: bool = True
    #: Keep every data row's id to report their fingerprint (globe.catalog.ids_fingerprint); the
    #: ids are held in memory (validate of a test set; ~80 bytes a row).
    fingerprint_ids: bool = False

    def check(self) -> None:
        if self.image_check not in IMAGE_CHECKS:
            raise ValueError(f"image_check={self.image_check!r}: choose one of {', '.join(IMAGE_CHECKS)}")
        if self.swap_lat_lon not in ("auto", "yes", "no"):
            raise ValueError(f"swap_lat_lon={self.swap_lat_lon!r}: choose auto, yes or no")
        if self.dedupe_by not in DEDUPE_KEYS:
            raise ValueError(f"dedupe_by={self.dedupe_by!r}: choose one of {', '.join(DEDUPE_KEYS)}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size={self.chunk_size}: must be at least 1")


@dataclass
class _Candidate(GroundTruthRow):
    """A ground-truth row on its way through the checks (``image_path``: the file name under the image root)."""

    line: int = 0
    row: list[str] = field(default_factory=list)
    key: str = ""
    geocode: bool = False

    @property
    def where(self) -> str:
        return f"line {self.line} (id {self.image_id})"


def row_key(image_id: str, reasoning: str | None) -> str:
    """The duplicate/resume key of a row under ``dedupe_by="id+reasoning"``."""
    return f"{image_id}\x00{reasoning or ''}"


def existing_ids(out_path: Path, dedupe_by: str = "id") -> IdSet:
    """Keys of the rows already in an output JSONL; a torn last line (killed writer) is cut off first."""
    ids = IdSet()
    if not out_path.exists():
        return ids
    with open(out_path, "rb") as f:
        head = f.read(len(OUTPUT_PREFIX))
    if head and head != OUTPUT_PREFIX:
        raise ValueError(f"{out_path}:1 is not a globe-data output line (it does not start with "
                         f"{OUTPUT_PREFIX.decode()!r}); pass --rm-out to start this output afresh")
    truncate_torn_tail(out_path)
    batch: list[str] = []
    for number, record in iter_jsonl_lines(out_path, hint="pass --rm-out to start this output afresh"):
        try:
            batch.append(record["image_id"] if dedupe_by == "id" else row_key(record["image_id"], record.get("reasoning")))
        except KeyError as exc:
            raise ValueError(f"{out_path}:{number} is not a globe-data output line (no {exc}); "
                             "pass --rm-out to start this output afresh") from None
        if len(batch) >= 100_000:
            ids.add_ids(batch)
            batch.clear()
    ids.add_ids(batch)
    return ids


class Converter:
    """One pass over one CSV; use :func:`convert` / :func:`validate`."""

    def __init__(self, csv_path: str | os.PathLike, out_path: str | os.PathLike | None,
                 options: ConvertOptions, geo: GeoLookup | None) -> None:
        options.check()
        self.csv_path = Path(csv_path)
        if not self.csv_path.is_file():
            raise FileNotFoundError(f"{self.csv_path}: no such CSV file (check the --csv path)")
        self.out_path = Path(out_path) if out_path is not None else None
        self.options = options
        self.geo = geo or GeoLookup()
        root = Path(options.image_root) if options.image_root is not None else self.csv_path.parent
        if options.image_check != "none" and not root.is_dir():
            raise FileNotFoundError(
                f"{root}: image folder not found (check --image-root; it is the folder holding the "
                "files the id column names)"
            )
        self.image_root = root.resolve()
        self.root_str = str(self.image_root)
        self.image_prefix = self.root_str + os.sep  # absolute paths unless run() writes relative ones
        self.report = ConversionReport(source=str(self.csv_path), output=str(self.out_path) if self.out_path else None)
        self.seen = IdSet()
        self.previous = IdSet()
        self.swapped = False
        self.has_location = True
        self.geocode_places = False
        self.table = CSV
        self.ids: list[str] | None = [] if options.fingerprint_ids else None

    # -- setup ---------------------------------------------------------------------------------
    def _prepare(self) -> tuple[Layout, ColumnMap]:
        name = detect_file_layout(self.csv_path) if self.options.layout == "auto" else self.options.layout
        header = read_header(self.csv_path, get_layout(name).table)
        layout, columns = resolve_layout(header, name, str(self.csv_path))
        self.table = layout.table
        self.report.layout = layout.name
        self.report.columns = columns.names()
        if columns.has("lat"):
            if self.options.swap_lat_lon == "auto":
                self.swapped, self.report.swap_evidence = detect_swap(self.csv_path, columns, table=layout.table)
            else:
                self.swapped = self.options.swap_lat_lon == "yes"
                self.report.swap_evidence = f"--swap-lat-lon {self.options.swap_lat_lon}"
            self.report.lat_lon_swapped = self.swapped
        self.has_location = columns.has("country") or columns.has("solution") or columns.has("lat")
        self.geocode_places = layout.places == "geocode"
        if not self.has_location:
            self.report.notes.append("no country/city and no coordinates in this file: rows keep empty locations")
        elif not (columns.has("country") or columns.has("solution")):
            self.report.notes.append("no country/city columns: both come from reverse geocoding lat/lon")
        return layout, columns

    # -- per row -------------------------------------------------------------------------------
    def _candidate(self, line: int, row: list[str], columns: ColumnMap, layout: Layout) -> _Candidate | None:
        report = self.report
        if not layout.row_fits(row, columns):
            report.drop("malformed_row", f"line {line}", f"{len(row)} fields, the header has {len(columns.header)}")
            return None
        image_id = row[columns.index["id"]].strip()
        if not image_id:
            report.drop("missing_id", f"line {line}", f"empty {columns.header[columns.index['id']]!r}")
            return None
        where = f"line {line} (id {image_id})"
        lat = lon = None
        if columns.has("lat"):
            try:
                lat = parse_coordinate(row[columns.index["lat"]], "lat")
                lon = parse_coordinate(row[columns.index["lon"]], "lon")
                if self.swapped:
                    lat, lon = lon, lat
                check_lat_lon(lat, lon)
            except FieldError as exc:
                report.drop(exc.reason, where, exc.detail)
                return None
        country = columns.get(row, "country").strip()
        city = columns.get(row, "city").strip()
        if (not country or not city) and columns.has("solution"):
            parsed = parse_solution(columns.get(row, "solution"))
            if parsed:
                country, city = country or parsed[0], city or parsed[1]
        geocode = False
        if self.geocode_places and lat is not None:  # the layout's names come from the coordinates
            geocode = not (country and city)
        elif columns.has("country") or columns.has("solution"):
            if not country:
                if self.options.fill_missing and lat is not None:
                    geocode = True
                else:
                    report.drop("empty_country", where, "country is empty")
                    return None
            elif not city and self.options.fill_missing and lat is not None:
                geocode = True
        elif lat is not None:
            geocode = True
        key = image_id
        if self.options.dedupe_by == "id+reasoning":
            key = row_key(image_id, cell_text(columns.get(row, "reasoning")))
        return _Candidate(country=country, city=city, lat=lat, lon=lon, image_id=image_id, line=line, row=row,
                          key=key, geocode=geocode)

    def _dedupe(self, candidates: list[_Candidate]) -> list[_Candidate]:
        keys = digests(c.key for c in candidates)
        in_run = self.seen.contains(keys)
        in_previous = self.previous.contains(keys)
        self.seen.add(keys)
        fresh: list[_Candidate] = []
        chunk_keys: set[int] = set()
        for candidate, key, dup, old in zip(candidates, keys.tolist(), in_run.tolist(), in_previous.tolist()):
            if dup or key in chunk_keys:
                what = "id" if self.options.dedupe_by == "id" else "id and reasoning"
                self.report.drop("duplicate_id", candidate.where, f"{what} already used by an earlier row")
                continue
            chunk_keys.add(key)
            if old:
                self.report.resumed += 1
                continue
            fresh.append(candidate)
        return fresh

    def _check_image(self, candidate: _Candidate, layout: Layout) -> tuple[str, str] | None:
        mode = self.options.image_check
        try:
            if mode == "none":
                candidate.image_path = confined_names(candidate.image_id, layout.image_names)[0]
                return None
            name, names = find_layout_image(self.root_str, candidate.image_id, layout.image_names, layout.file_id)
        except ImageOutsideRoot as exc:
            return "outside_image_root", str(exc)
        if name is None:
            return "missing_image", f"none of [{', '.join(names)}] under {self.root_str}"
        candidate.image_path = name
        return image_problem(os.path.join(self.root_str, name), mode)

    def _check_images(self, candidates: list[_Candidate], layout: Layout,
                      pool: ThreadPoolExecutor | None) -> list[_Candidate]:
        if pool is not None and self.options.image_check == "decode":
            problems = list(pool.map(lambda c: self._check_image(c, layout), candidates))
        else:
            problems = [self._check_image(c, layout) for c in candidates]
        kept = []
        for candidate, problem in zip(candidates, problems):
            if problem:
                self.report.drop(problem[0], candidate.where, problem[1])
            else:
                kept.append(candidate)
        return kept

    def _geocode(self, candidates: list[_Candidate]) -> list[_Candidate]:
        todo = [c for c in candidates if c.geocode]
        if not todo:
            return candidates
        try:
            places = self.geo.reverse_many([c.lat for c in todo], [c.lon for c in todo],
                                           min_population=self.options.min_population,
                                           max_km=self.options.max_geocode_km)
        except Exception as exc:  # noqa: BLE001 - one failing batch must not end the run
            places = [None] * len(todo)
            self.report.notes.append(f"reverse geocoding raised {type(exc).__name__}: {exc}")
        failed: set[int] = set()
        for candidate, place in zip(todo, places):
            if place is None or not place[0]:
                self.report.drop("geocode_failed", candidate.where,
                                 f"no populated place within {self.options.max_geocode_km:g} km of "
                                 f"({candidate.lat}, {candidate.lon})")
                failed.add(id(candidate))
                continue
            country, city = place
            if not candidate.country:
                candidate.country = country
                self.report.warn("country_filled")
            if not candidate.city and city:
                candidate.city = city
                self.report.warn("city_filled")
        return [c for c in candidates if id(c) not in failed]

    def _output_row(self, candidate: _Candidate, columns: ColumnMap) -> dict[str, Any]:
        report = self.report
        country = candidate.country
        if self.options.normalise_countries and country:
            canonical = self.geo.canonical_country(country)
            if canonical is None:
                report.warn("country_unresolved", candidate.where, repr(country))
                report.unresolved_countries[country] += 1
            else:
                country = canonical
        city = candidate.city
        if not city and self.has_location:
            report.warn("empty_city", candidate.where, "no city")
        entities: list[dict[str, str]] = []
        if columns.has("entities"):
            entities, ok = parse_entities(columns.get(candidate.row, "entities"))
            if not ok:
                report.warn("entities_unparsed", candidate.where, columns.get(candidate.row, "entities")[:80])
        reasoning = cell_text(columns.get(candidate.row, "reasoning")) or None
        locatable = None
        if columns.has("locatable"):
            raw = columns.get(candidate.row, "locatable")
            locatable = parse_yes_no(raw)
            if locatable is None and raw.strip():
                report.warn("locatable_unparsed", candidate.where, repr(raw))
        return {
            "image_id": candidate.image_id,
            "images": [self.image_prefix + candidate.image_path] if candidate.image_path is not None else [],
            "country": country,
            "city": city,
            "lat": candidate.lat,
            "lon": candidate.lon,
            "solution": f"{country}\t{city}",
            "entities": entities,
            "reasoning": reasoning,
            "locatable": locatable,
        }


    # -- driver --------------------------------------------------------------------------------
    def run(self, rm_out: bool = False, write_report: bool = True) -> ConversionReport:
        start = time.perf_counter()
        layout, columns = self._prepare()
        out = None
        if self.out_path is not None:
            self.out_path.parent.mkdir(parents=True, exist_ok=True)
            if rm_out and self.out_path.exists():
                self.out_path.unlink()
            self.previous = existing_ids(self.out_path, self.options.dedupe_by)
            if not self.options.absolute_paths:
                relative = Path(os.path.relpath(self.image_root, self.out_path.parent.resolve())).as_posix()
                self.image_prefix = "" if relative == "." else relative + "/"
            out = AppendOnlyFile(self.out_path)
        options = self.options
        pool = ThreadPoolExecutor(options.workers) if options.workers > 1 and options.image_check == "decode" else None
        try:
            with open_csv(self.csv_path, table=self.table) as (rows, counter), self._progress() as bar:
                skip_header(rows, self.table)
                chunk: list[_Candidate] = []
                last_bytes = 0
                for record in rows:
                    if options.limit is not None and self.report.rows_read >= options.limit:
                        break
                    self.report.rows_read += 1
                    if record.fields is None:
                        self.report.drop("malformed_row", f"line {record.line}", record.error)
                        continue
                    if self.ids is not None:
                        self.ids.append(columns.get(record.fields, "id"))
                    candidate = self._candidate(record.line, record.fields, columns, layout)
                    if candidate is not None:
                        chunk.append(candidate)
                    if len(chunk) >= options.chunk_size:
                        self._flush(chunk, layout, columns, pool, out)
                        chunk = []
                    if bar is not None and counter.bytes_read - last_bytes >= 1 << 20:
                        bar.update(counter.bytes_read - last_bytes)
                        last_bytes = counter.bytes_read
                self._flush(chunk, layout, columns, pool, out)
                if bar is not None:
                    bar.update(counter.bytes_read - last_bytes)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if out is not None:
                out.close()
            self.report.elapsed_s = time.perf_counter() - start
        if self.ids is not None:
            self.report.ids_fingerprint = ids_fingerprint(self.ids)
        if self.out_path is not None and write_report:
            report_path = self.out_path.with_name(self.out_path.name + ".report.json")
            atomic_write_text(report_path, self.report.to_json() + "\n")
        return self.report

    def _flush(self, chunk: list[_Candidate], layout: Layout, columns: ColumnMap,
               pool: ThreadPoolExecutor | None, out: Any) -> None:
        if not chunk:
            return
        fresh = self._dedupe(chunk)
        fresh = self._check_images(fresh, layout, pool)
        fresh = self._geocode(fresh)
        rows = [self._output_row(c, columns) for c in fresh]
        self.report.kept += len(rows)
        if out is not None and rows:
            out.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def _progress(self) -> Any:
        if not self.options.progress:
            return nullcontext(None)
        from tqdm import tqdm

        return tqdm(total=self.csv_path.stat().st_size, unit="B", unit_scale=True,
                    desc=f"globe-data {self.csv_path.name}", file=sys.stderr, leave=False)


def convert(csv_path: str | os.PathLike, out_path: str | os.PathLike, options: ConvertOptions | None = None,
            *, rm_out: bool = False, geo: GeoLookup | None = None, write_report: bool = True) -> ConversionReport:
    """Convert ``csv_path`` into ``out_path`` (JSONL), resuming if ``out_path`` exists.

    ``write_report`` also saves the summary as ``<out>.report.json``.
    """
    return Converter(csv_path, out_path, options or ConvertOptions(), geo).run(rm_out=rm_out, write_report=write_report)


def validate(csv_path: str | os.PathLike, options: ConvertOptions | None = None,
             *, geo: GeoLookup | None = None) -> ConversionReport:
    """Run every check of :func:`convert` and report, writing nothing."""
    return Converter(csv_path, None, options or ConvertOptions(), geo).run()


__all__ = ["ConvertOptions", "Converter", "convert", "validate", "existing_ids", "read_jsonl",
           "OUTPUT_KEYS"]
