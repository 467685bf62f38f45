"""What a conversion did: rows kept, skipped on resume, dropped by reason, warnings, examples."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DROP_REASONS: dict[str, str] = {
    "malformed_row": "the CSV line has the wrong number of fields or cannot be parsed (e.g. an unclosed quote)",
    "missing_id": "the id column is empty",
    "non_numeric_coords": "lat/lon empty or not a number",
    "coords_out_of_range": "lat outside [-90, 90] or lon outside [-180, 180]",
    "empty_country": "no country in the row (use --fill-missing to geocode it from lat/lon)",
    "duplicate_id": "an earlier row already used this id (the first one wins)",
    "missing_image": "no image file for the id under --image-root",
    "outside_image_root": "the id is absolute, leaves --image-root or links outside it (refused)",
    "unreadable_image": "the image file is empty, truncated or not an image",
    "geocode_failed": "reverse geocoding found no populated place near the coordinates",
}

WARNINGS: dict[str, str] = {
    "country_unresolved": "country name not recognised: kept as written",
    "empty_city": "row kept with an empty city",
    "country_filled": "country filled by reverse geocoding",
    "city_filled": "city filled by reverse geocoding",
    "entities_unparsed": "entity cell looked like a list but did not parse: kept what could be split",
    "locatable_unparsed": "locatable label not yes/no: left empty",
}

MAX_EXAMPLES = 5


@dataclass
class ConversionReport:
    """Counts and examples; ``summary()`` is what the CLI prints."""

    source: str
    output: str | None
    layout: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    kept: int = 0
    resumed: int = 0
    dropped: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    unresolved_countries: Counter = field(default_factory=Counter)
    lat_lon_swapped: bool = False
    swap_evidence: str = ""
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    ids_fingerprint: str | None = None  # globe.catalog.ids_fingerprint of every data row's id (validate)
    #: The catalog's standard file this one was compared with (:meth:`compare_with_standard`).
    standard: dict[str, Any] | None = None

    def compare_with_standard(self, dataset: str, expected_rows: int | None, expected_fingerprint: str | None) -> bool:
        """Record how this file compares with a test set's standard one; False on a known mismatch.

        A value the catalog does not record is reported as such, never as a match.
        """
        rows_ok = None if expected_rows is None else self.rows_read == expected_rows
        ids_ok = None if expected_fingerprint is None or self.ids_fingerprint is None else (
            self.ids_fingerprint == expected_fingerprint)
        self.standard = {"dataset": dataset, "expected_rows": expected_rows, "rows_match": rows_ok,
                         "expected_ids_fingerprint": expected_fingerprint, "ids_match": ids_ok}
        return rows_ok is not False and ids_ok is not False

    def _standard_lines(self) -> list[str]:
        lines = []
        if self.ids_fingerprint is not None:
            lines.append(f"{'id fingerprint':<32}{self.ids_fingerprint:>16}   (SHA-256 of the sorted ids)")
        standard = self.standard
        if not standard:
            return lines
        verdict = {True: "matches", False: "DIFFERS", None: "not recorded"}
        expected_rows = standard["expected_rows"]
        lines.append(f"standard {standard['dataset']}: rows {verdict[standard['rows_match']]}"
                     + (f" (standard file: {expected_rows:,} rows, this file: {self.rows_read:,})"
                        if expected_rows is not None else ""))
        if standard["expected_ids_fingerprint"] is None:
            lines.append(f"standard {standard['dataset']}: id fingerprint not recorded in globe/catalog.py (no "
                         "trusted copy was at hand); compare the one above with a copy you trust")
        else:
            lines.append(f"standard {standard['dataset']}: id fingerprint {verdict[standard['ids_match']]} "
                         f"(standard: {standard['expected_ids_fingerprint']})")
        return lines

    def drop(self, reason: str, where: str, detail: str) -> None:
        self.dropped[reason] += 1
        self._example(reason, where, detail)

    def warn(self, kind: str, where: str = "", detail: str = "", count: int = 1) -> None:
        self.warnings[kind] += count
        if where:
            self._example(kind, where, detail)

    def _example(self, key: str, where: str, detail: str) -> None:
        examples = self.examples.setdefault(key, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(f"{where}: {detail}" if detail else where)

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def total_kept(self) -> int:
        """Rows the output holds for this source: written now plus kept from an earlier run."""
        return self.kept + self.resumed

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": self.output,
            "layout": self.layout,
            "columns": self.columns,
            "rows_read": self.rows_read,
            "kept": self.kept,
            "resumed": self.resumed,
            "dropped": dict(self.dropped),
            "warnings": dict(self.warnings),
            "examples": self.examples,
            "unresolved_countries": dict(self.unresolved_countries.most_common(50)),
            "lat_lon_swapped": self.lat_lon_swapped,
            "swap_evidence": self.swap_evidence,
            "notes": self.notes,
            "elapsed_s": round(self.elapsed_s, 3),
            "ids_fingerprint": self.ids_fingerprint,
            "standard": self.standard,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def summary(self) -> str:
        """A plain-text table: kept, resumed, dropped by reason, warnings, with examples."""
        lines = [f"source   {self.source}", f"layout   {self.layout}  columns: {self.columns}"]
        if self.output:
            lines.append(f"output   {self.output}")
        if self.lat_lon_swapped:
            lines.append(f"NOTE     header LAT/LON swapped: values read the other way round ({self.swap_evidence})")
        lines.extend(f"NOTE     {note}" for note in self.notes)
        rate = self.rows_read / self.elapsed_s if self.elapsed_s > 0 else 0.0
        lines += ["", f"{'rows read':<32}{self.rows_read:>12,}"]
        if self.output:
            lines += [f"{'kept (written now)':<32}{self.kept:>12,}",
                      f"{'kept (already in output)':<32}{self.resumed:>12,}"]
        else:
            lines.append(f"{'valid (nothing written)':<32}{self.kept:>12,}")
        lines.append(f"{'dropped':<32}{self.total_dropped:>12,}")
        for reason, count in self.dropped.most_common():
            lines.append(f"  {reason:<30}{count:>12,}   {DROP_REASONS.get(reason, '')}")
        if self.warnings:
            lines.append(f"{'warnings (rows kept)':<32}")
            for kind, count in self.warnings.most_common():
                lines.append(f"  {kind:<30}{count:>12,}   {WARNINGS.get(kind, '')}")
        if self.unresolved_countries:
            top = ", ".join(f"{name!r} x{n}" for name, n in self.unresolved_countries.most_common(10))
            lines.append(f"  unresolved country names: {top}")
        if self.examples:
            lines.append("examples")
            for key, examples in self.examples.items():
                for example in examples:
                    lines.append(f"  [{key}] {example}")
        lines.extend(self._standard_lines())
        lines.append(f"time     {self.elapsed_s:.2f} s ({rate:,.0f} rows/s)")
        return "\n".join(lines)
