"""Compare a predicted place with the ground truth by identity, not by spelling."""
from __future__ import annotations

from .countries import country_code
from .distance import haversine_km
from .gazetteer import resolve
from .place import Place
from .text import ascii_key, clean_text, name_key

# Two city-level resolutions this close (same country) are the same city: covers a district
# resolved instead of its city ("Manhattan" vs "New York City") without merging real neighbours.
CITY_MATCH_KM = 10.0


def _country_of(country: object, place: Place | None) -> str | None:
    """The stated country if recognisable (it is what the model claimed), else the place's."""
    code = country_code(country) if clean_text(country) else None
    if code is None and place is not None:
        code = place.country_code
    return code


def same_place(pred_country: object, pred_city: object, gt_country: object, gt_city: object) -> tuple[bool, bool]:
    """(country_match, city_match) between a prediction and the ground truth.

    Countries match by ISO code ("USA" == "United States" == "Vereinigte Staaten").
    Cities match when both resolve at city level to the same GeoNames id, or to places within
    CITY_MATCH_KM in the same country; when neither is in the gazetteer (both fell back to the
    country), the ASCII-folded names must be equal. A city never matches across countries.

    When the cities match, the countries match too: the named city decides the country. A
    stated country can be ambiguous ("Congo" reads as CG, Kinshasa is in CD) or name the wrong
    side of a border ("France", "Geneva"); a right city with a "wrong" country would make city
    accuracy exceed country accuracy. A namesake city in the wrong country ("Canada", "Paris")
    is a different place, so it matches neither.
    """
    pred = resolve(pred_country, pred_city)
    gt = resolve(gt_country, gt_city)
    pred_cc = _country_of(pred_country, pred)
    gt_cc = _country_of(gt_country, gt)
    country_match = pred_cc is not None and pred_cc == gt_cc

    city_match = False
    pred_city_text, gt_city_text = clean_text(pred_city), clean_text(gt_city)
    if pred is not None and gt is not None and pred_city_text and gt_city_text and pred.country_code == gt.country_code:
        if pred.level == "city" and gt.level == "city":
            city_match = pred.geonameid == gt.geonameid or (
                haversine_km(pred.lat, pred.lon, gt.lat, gt.lon) <= CITY_MATCH_KM
            )
        elif pred.level == "country" and gt.level == "country":
            city_match = ascii_key(name_key(pred_city_text)) == ascii_key(name_key(gt_city_text))
    return country_match or city_match, city_match
