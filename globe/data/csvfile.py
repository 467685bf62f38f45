"""Reading a ground-truth CSV record by record, so one bad line never hides the rest of the file.

The one CSV reader of ``globe-data`` (convert, validate), ``globe-eval`` and ``globe-distill``.
Two failures of a plain ``csv.reader`` are handled here:

- **A long cell** (a 150 KB reasoning) exceeds Python's default field size limit of 131,072
  characters; the limit is raised, so long cells are read as they are.
- **An unclosed quote** makes ``csv`` read every following line into one field, so a file of 200
  rows looks like 5. A record that runs to the end of the file inside a quote, or spans several
  lines and comes out with the wrong number of fields, is reported as one unreadable line (the
  one that opened the quote), and reading resumes on the next line.

Either way each line ends up as a record or as a counted, line-numbered error, never lost.
Swapped ``LAT``/``LON`` headers (an old IM2GPS3K commit) are detected here too, from the values.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from globe.runfiles import lift_csv_field_limit

from .layouts import CSV, ColumnMap, LayoutError, TableFormat

SWAP_PROBE_ROWS = 20_000


@dataclass(frozen=True)
class CsvRecord:
    """One record: the line it starts on, and its fields, or None with the reason it cannot be read
    (``error``, which does not repeat the line number)."""

    line: int
    fields: list[str] | None
    error: str = ""


class CsvEncodingError(ValueError):
    """A line of a CSV read with ``errors="strict"`` is not UTF-8."""


class CountingReader(io.RawIOBase):
    """Counts bytes read from a binary file, for a byte-accurate progress bar over CSV text."""

    def __init__(self, raw: io.BufferedIOBase):
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.bytes_read += n or 0
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


class _Lines:
    """Physical lines with their numbers; a record's lines can be pushed back to be read again."""

    def __init__(self, text: Any):
        self._text = text
        self._back: list[tuple[int, str]] = []
        self._number = 0
        self.taken: list[tuple[int, str]] = []
        self.exhausted = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            item = self._back.pop()
        else:
            line = self._text.readline()
            if not line:
                self.exhausted = True
                raise StopIteration
            self._number += 1
            item = (self._number, line)
        self.taken.append(item)
        return item[1]

    def push_back(self, items: list[tuple[int, str]]) -> None:
        self._back.extend(reversed(items))
        self.exhausted = False


def records(text: Any, table: TableFormat = CSV) -> Iterator[CsvRecord]:
    """Every non-blank record of CSV ``text`` (a text file opened with ``newline=""``), header first.

    A line that cannot be read (see the module docstring) comes back with ``fields=None`` and the
    reason; the lines after it are read normally. ``table`` gives the delimiter and quoting (a
    layout's :class:`~globe.data.layouts.TableFormat`).
    """
    lift_csv_field_limit()
    lines = _Lines(text)

    def reader_of(source: Any) -> Any:
        return csv.reader(source, delimiter=table.delimiter, quoting=table.quoting)

    reader = reader_of(lines)
    width: int | None = None
    while True:
        lines.taken = []
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            first = lines.taken[0][0] if lines.taken else 0
            lines.push_back(lines.taken[1:])
            reader = reader_of(lines)
            yield CsvRecord(first, None, str(exc))
            continue
        taken = lines.taken
        first, last = taken[0][0], taken[-1][0]
        runaway = lines.exhausted or (len(taken) > 1 and width is not None and len(fields) != width)
        if runaway and '"' in taken[0][1]:
            if lines.exhausted:
                error = "a quote opened on this line is never closed (it runs to the end of the file)"
            else:
                error = (f"a quote opened on this line closes only on line {last}, making a record of "
                         f"{len(fields)} fields (the header has {width})")
            lines.push_back(taken[1:])
            reader = reader_of(lines)
            yield CsvRecord(first, None, error + "; fix the quoting of this line")
            continue
        if not fields or all(not value.strip() for value in fields):
            continue  # blank lines are not records
        if width is None:
            width = len(fields)
        yield CsvRecord(first, fields)


@contextmanager
def open_csv(path: Path, errors: str = "replace",
             table: TableFormat = CSV) -> Iterator[tuple[Iterator[CsvRecord], CountingReader]]:
    """The records of a CSV file and a byte counter of what has been read (for progress bars).

    ``errors="replace"`` (the converter's choice) turns undecodable bytes into U+FFFD, so the row
    they are in is checked like any other; ``"strict"`` raises :class:`CsvEncodingError` naming the line.
    ``table``: the file's delimiter and quoting (:class:`~globe.data.layouts.TableFormat`).
    """
    counter = CountingReader(open(path, "rb"))  # noqa: SIM115 - closed by the text wrapper
    text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 20), encoding="utf-8-sig", errors=errors, newline="")
    try:
        yield records(text, table), counter
    except UnicodeDecodeError as exc:  # only with errors="strict"; the text is decoded in blocks, so find the line
        raise CsvEncodingError(f"line {_first_undecodable_line(path)} is not UTF-8 text ({exc.reason}); "
                               "re-save the file as UTF-8") from None
    finally:
        text.close()


def _first_undecodable_line(path: Path) -> int:
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def skip_header(rows: Iterator[CsvRecord], table: TableFormat = CSV) -> None:
    """Step past the header record of ``rows`` when the file has one (a headerless table has none)."""
    if table.has_header:
        next(rows, None)


def read_header(csv_path: Path, table: TableFormat = CSV) -> list[str]:
    """The first non-blank record of a CSV (a headerless table's own column names); LayoutError if there is none."""
    if not table.has_header:
        assert table.header is not None
        return list(table.header)
    with open_csv(csv_path, table=table) as (rows, _):
        for record in rows:
            if record.fields is None:
                raise LayoutError(f"{csv_path}: the header line cannot be parsed as CSV ({record.error})")
            return record.fields
    raise LayoutError(f"{csv_path}: the file is empty (no header row)")


def detect_swap(csv_path: Path, columns: ColumnMap, probe_rows: int = SWAP_PROBE_ROWS,
                table: TableFormat = CSV) -> tuple[bool, str]:
    """Whether the "LAT" column holds longitudes (and "LON" latitudes), judged on the first rows.

    Longitudes beyond +-90 are common in any worldwide sample; latitudes never are. So the
    header is taken as swapped when at least 3 rows (and 1 % of those read) have |LAT| in
    (90, 180] while no row has |LON| > 90. A few corrupt latitudes in a correct file do not
    flip it: they are then dropped as out of range.
    """
    lat_i, lon_i = columns.index["lat"], columns.index["lon"]
    lat_beyond = lon_beyond = numeric = 0
    with open_csv(csv_path, table=table) as (rows, _):
        skip_header(rows, table)
        for record in rows:
            row = record.fields
            if row is None or len(row) <= max(lat_i, lon_i):
                continue
            try:
                lat, lon = float(row[lat_i]), float(row[lon_i])
            except ValueError:
                continue
            numeric += 1
            if 90 < abs(lat) <= 180:
                lat_beyond += 1
            if abs(lon) > 90:
                lon_beyond += 1
            if numeric >= probe_rows:
                break
    evidence = (
        f"of the first {numeric:,} rows, {lat_beyond:,} have |{columns.header[lat_i]}| > 90 "
        f"and {lon_beyond:,} have |{columns.header[lon_i]}| > 90"
    )
    swapped = lon_beyond == 0 and lat_beyond >= max(3, 0.01 * numeric)
    return swapped, evidence
