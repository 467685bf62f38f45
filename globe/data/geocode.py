"""The converter's view of ``globe.geo``: canonical country names and batched reverse geocoding.

Kept behind one small class so the converter never pays for the geography index unless a file
needs it, each distinct country spelling is resolved once per run (MP16-Pro repeats ~200 names
4.6M times), and tests can hand in a stand-in with the same two methods.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class GeoLookup:
    """``canonical_country(name)`` and ``reverse_many(lats, lons)`` over ``globe.geo``."""

    def __init__(self, geo: Any = None) -> None:
        self._geo = geo
        self._countries: dict[str, str | None] = {}

    @property
    def geo(self) -> Any:
        if self._geo is None:
            import globe.geo as geo  # the index loads on first use, not at import of globe.data

            self._geo = geo
        return self._geo

    def canonical_country(self, name: str) -> str | None:
        """The canonical English short name ("United States", "Czechia"), or None if unknown.

        ISO 3166 alpha-2 codes (OSV-5M's ``country`` column) are accepted too.
        """
        key = name.strip()
        if not key:
            return None
        if key not in self._countries:
            geo = self.geo
            code = geo.country_code(key)
            if code is None and len(key) == 2 and key.isalpha():
                code = key.upper() if geo.country_name(key.upper()) else None
            self._countries[key] = geo.country_name(code) if code else None
        return self._countries[key]

    def reverse_many(self, lats: Sequence[float], lons: Sequence[float], *, min_population: int = 15_000,
                     max_km: float = 200.0) -> list[tuple[str, str] | None]:
        """``(country, city)`` of the nearest populated place for each coordinate.

        Labels are city-level (``globe.geo.reverse_many(city_level=True)``: "Paris", not the
        nearest district "Paris 04"); ``min_population`` skips hamlets; a point farther than
        ``max_km`` from any such place (open sea, ice) gets None, not a misleading label.
        """
        geo = self.geo
        places = geo.reverse_many(list(lats), list(lons), min_population=min_population, city_level=True)
        found = [p is not None and bool(getattr(p, "country_code", None)) for p in places]
        km = np.asarray(geo.haversine_km(
            np.asarray(lats, dtype=float), np.asarray(lons, dtype=float),
            np.array([p.lat if f else np.nan for p, f in zip(places, found)], dtype=float),
            np.array([p.lon if f else np.nan for p, f in zip(places, found)], dtype=float),
        ), dtype=float)
        out: list[tuple[str, str] | None] = []
        for place, ok, dist in zip(places, found, km.tolist()):
            if not ok or not dist <= max_km:
                out.append(None)
                continue
            country = geo.country_name(place.country_code) or place.country_code
            city = place.name if getattr(place, "level", "city") == "city" else ""
            out.append((country, city or ""))
        return out
