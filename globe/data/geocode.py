"""Ground-truth place labels from ``globe.geo``: canonical country names and the one reverse-geocoding rule.

:func:`place_labels` is how every tool names the place of a coordinate that comes without a
city/country (IM2GPS3K has none): ``globe-data convert --fill-missing``, ``globe-eval`` and
``globe-eval score`` call it, so "city accuracy" does not depend on which tool read the file.

:class:`GeoLookup` keeps it behind one small object so the converter never pays for the
geography index unless a file needs it, resolves each distinct country spelling once per run
(MP16-Pro repeats ~200 names 4.6M times), and lets tests hand in a stand-in with the same two
methods.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: The rule's defaults: the nearest place of at least this many people ("London", not the
#: borough "Brent") ...
GEOCODE_MIN_POPULATION = 15_000
#: ... and no label at all farther than this from any such place (open sea, ice).
GEOCODE_MAX_KM = 200.0

PlaceLabel = tuple[str, str]  # (country name, city name or "" where the nearest place is only a country)


def place_labels(lats: Sequence[float], lons: Sequence[float], *, min_population: int = GEOCODE_MIN_POPULATION,
                 max_km: float = GEOCODE_MAX_KM, geo: Any = None) -> list[PlaceLabel | None]:
    """``(country, city)`` of the nearest populated place to each coordinate, or None.

    City-level (``globe.geo.reverse_many(city_level=True)``: "Paris", not the district
    "Paris 04"); places under ``min_population`` are skipped; a point farther than ``max_km``
    from any such place, or an invalid coordinate, gets None rather than a misleading label.
    Country names are canonical English ("United States"), cities GeoNames' names.
    """
    if len(lats) != len(lons):
        raise ValueError(f"place_labels: {len(lats)} latitudes but {len(lons)} longitudes")
    if not len(lats):
        return []
    if geo is None:
        import globe.geo as geo  # the index loads on first use, not at import of globe.data
    from globe.geo.countries import expand_country_code

    places = geo.reverse_many(list(lats), list(lons), min_population=min_population, city_level=True)
    found = [p is not None and bool(getattr(p, "country_code", None)) for p in places]
    km = np.asarray(geo.haversine_km(
        np.asarray(lats, dtype=float), np.asarray(lons, dtype=float),
        np.array([p.lat if f else np.nan for p, f in zip(places, found)], dtype=float),
        np.array([p.lon if f else np.nan for p, f in zip(places, found)], dtype=float),
    ), dtype=float)
    out: list[PlaceLabel | None] = []
    for place, ok, dist in zip(places, found, km.tolist()):
        if not ok or not dist <= max_km:
            out.append(None)
            continue
        city = place.name if getattr(place, "level", "city") == "city" else ""
        out.append((expand_country_code(place.country_code), city or ""))
    return out


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

        ISO 3166 alpha-2 codes (OSV-5M's ``country`` column) are accepted too, in either case.
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

    def reverse_many(self, lats: Sequence[float], lons: Sequence[float], *,
                     min_population: int = GEOCODE_MIN_POPULATION,
                     max_km: float = GEOCODE_MAX_KM) -> list[PlaceLabel | None]:
        """:func:`place_labels` over this lookup's geography."""
        return place_labels(lats, lons, min_population=min_population, max_km=max_km, geo=self.geo)
