"""A geocoder benchmark: how often ``globe.geo.resolve`` places labelled names right (``bench/geo_accuracy.py``).

Three kinds of labelled CSV (UTF-8, header row), as kept in ``tests/data/geo_{tuning,holdout}_*.csv``:

- places: ``country,name,lat,lon,extent_km,kind``: a region, island or landmark and a radius
  that covers it; a hit is an answer within ``extent_km`` of the true point.
- cities: ``country,city,lat,lon``: a predicted city name in some spelling; a hit is an answer
  within ``CITY_HIT_KM`` of the city.
- countries: ``text,code``: a country name variant and its ISO 3166-1 alpha-2 code.

A *far city answer* is a city-level answer more than ``FAR_KM`` from the true place: the
"confident far namesake" that the resolver must never give.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from globe.geo import Place, country_code, haversine_km, resolve

CITY_HIT_KM = 50.0
FAR_KM = 1000.0


@dataclass
class Score:
    """Hits out of total, with the misses kept for the report."""

    hits: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)
    far_city: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 0.0


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """Rows of a labelled CSV as dicts (header names as keys)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _km(place: Place | None, lat: float, lon: float) -> float:
    return float("inf") if place is None else float(haversine_km(place.lat, place.lon, lat, lon))


def _score_points(rows: list[dict[str, str]], name_col: str, radius: Callable[[dict[str, str]], float]) -> Score:
    score = Score()
    for row in rows:
        lat, lon = float(row["lat"]), float(row["lon"])
        place = resolve(row["country"], row[name_col])
        km = _km(place, lat, lon)
        score.total += 1
        label = f"{row['country']} / {row[name_col]}"
        got = "None" if place is None else f"{place.name} [{place.level}]"
        if km <= radius(row):
            score.hits += 1
        else:
            score.misses.append(f"{label} -> {got}, {km:.0f} km")
        if place is not None and place.level == "city" and km > FAR_KM:
            score.far_city.append(f"{label} -> {got}, {km:.0f} km")
    return score


def place_score(rows: list[dict[str, str]]) -> Score:
    """Regions, islands and landmarks resolved within their extent."""
    return _score_points(rows, "name", lambda r: float(r["extent_km"]))


def city_score(rows: list[dict[str, str]]) -> Score:
    """Predicted city names resolved within CITY_HIT_KM of the city."""
    return _score_points(rows, "city", lambda r: CITY_HIT_KM)


def country_score(rows: list[dict[str, str]]) -> Score:
    """Country name variants mapped to the right ISO code."""
    score = Score()
    for row in rows:
        got = country_code(row["text"])
        score.total += 1
        if got == row["code"]:
            score.hits += 1
        else:
            score.misses.append(f"{row['text']} -> {got} (want {row['code']})")
    return score
