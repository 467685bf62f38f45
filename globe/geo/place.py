"""The resolved-place record shared by every geo function."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Place:
    """A resolved place.

    level: "city" (a GeoNames populated place) or "country" (only the country is known; lat/lon
    is the country's reference point, see ``gazetteer`` module docs).
    confidence: in [0, 1]; how sure the resolver is that this is the place meant (exact
    unambiguous name ~1, ambiguous names share by population, fuzzy and neighbour-country hits
    lower, country-level 0.3, reverse hits decay with distance).
    geonameid: GeoNames id of the city, or of the country for level "country".
    """

    name: str
    country_code: str
    lat: float
    lon: float
    level: str
    confidence: float
    geonameid: int | None = None
    population: int = 0
    admin1: str | None = None

    @property
    def latlon(self) -> tuple[float, float]:
        return (self.lat, self.lon)
