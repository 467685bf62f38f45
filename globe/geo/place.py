"""The resolved-place record shared by every geo function."""
from __future__ import annotations

from dataclasses import dataclass

# Every ``Place.level``, most specific first. Only "city" is a city: consumers treat the others
# as not-a-city (accuracy) and score them at their point (distance), like "country".
PLACE_LEVELS = ("city", "landmark", "island", "region", "country")
AREA_LEVELS = ("landmark", "island", "region")


@dataclass(frozen=True, slots=True)
class Place:
    """A resolved place.

    level: one of PLACE_LEVELS: "city" (a GeoNames populated place); "landmark" (a site: lat/lon
    is the site itself), "island" (an island or archipelago), "region" (a state, province or
    region: lat/lon is its population-weighted centre, see ``areas``); or "country" (only the
    country is known; lat/lon is the country's reference point, see ``gazetteer`` module docs).
    confidence: in [0, 1]; how sure the resolver is that this is the place meant (exact
    unambiguous name ~1, ambiguous names share by population, fuzzy and neighbour-country hits
    lower, areas 0.8, country-level 0.3, reverse hits decay with distance).
    geonameid: GeoNames id of the city, or of the country for level "country"; None for areas.
    admin1: GeoNames admin-1 code of a city or region (None when unknown).
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
