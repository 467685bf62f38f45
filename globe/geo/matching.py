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

# Country names people use for more than one country. country_code() must pick one ("Congo" ->
# CG, the ISO short name); when the named city settles which one was meant, the country counts.
AMBIGUOUS_COUNTRY_NAMES: dict[str, frozenset[str]] = {
    "congo": frozenset({"CG", "CD"}),
    "korea": frozenset({"KR", "KP"}),
    "guinea": frozenset({"GN", "GW", "GQ", "PG"}),
    "sudan": frozenset({"SD", "SS"}),
    "ireland": frozenset({"IE", "GB"}),  # the island: Belfast is in the UK
    "virgin islands": frozenset({"VG", "VI"}),
    "samoa": frozenset({"WS", "AS"}),
}


def _country_of(country: object, place: Place | None) -> str | None:
    """The stated country if recognisable (it is what the model claimed), else the place's."""
    code = country_code(country) if clean_text(country) else None
    if code is None and place is not None:
        code = place.country_code
    return code


def _may_denote(country: object, code: str | None) -> bool:
    """Whether an ambiguous country name ("Congo", "Korea") can mean the country ``code``."""
    text = clean_text(country)
    if not text or code is None:
        return False
    return code in AMBIGUOUS_COUNTRY_NAMES.get(ascii_key(name_key(text)), frozenset())


def same_place(pred_country: object, pred_city: object, gt_country: object, gt_city: object) -> tuple[bool, bool]:
    """(country_match, city_match) between a prediction and the ground truth.

    Countries match by ISO code ("USA" == "United States" == "Vereinigte Staaten"); a name used
    for several countries ("Congo", "Korea", see AMBIGUOUS_COUNTRY_NAMES) matches whichever of
    them the named city is in. Cities match when both resolve at city level to the same GeoNames
    id, or to places within CITY_MATCH_KM in the same country; a region, island or landmark
    matches only the same one ("Sicilia" == "Sicily"), never a city; when neither is in the
    gazetteer (both fell back to the country), the ASCII-folded names must be equal.

    A city counts only together with its country, as in the paper's accuracy: "France, Geneva"
    for a photo of Geneva names the wrong country and matches neither, so city accuracy can
    never exceed country accuracy. A namesake city in the wrong country ("Canada", "Paris") is
    a different place.
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
        elif pred.level == gt.level:  # the same region / island / landmark, however spelled
            city_match = (pred.name, pred.lat, pred.lon) == (gt.name, gt.lat, gt.lon)
    if city_match and not country_match and _may_denote(pred_country, gt_cc):
        country_match = True
    return country_match, city_match and country_match
