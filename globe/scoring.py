"""One scoring path: answer text -> parsed names -> resolved place -> distance, level, and the "same place" rule.

The rewards, evaluation, distillation and the app all score an answer here, so the same answer gets
the same place, level and distance everywhere, and :func:`same_place` is the only rule for "the
right country / city"; each consumer applies its own policy on top (a reward's floor, eval's
buckets, distill's filter), never its own copy. No ms-swift, torch or network import: this is the
base layer. Which answer block counts, and what the accuracy rule accepts: README, "Rewards".
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, NamedTuple

from globe import geo
from globe.answers import answer_block_fields, parse_answer
from globe.geo import Place
from globe.geo.text import ascii_key, clean_text, name_key

#: The one level that is a city; anything else a resolver returns is not.
CITY_LEVEL = "city"
#: The released rule's length ratio: one name must contain the other and be >= 70% of its length.
RELEASED_MATCH_RATIO = 0.7
#: A district counts as its city when it lies within the city's core: the disc that would hold the
#: city's population at this density (20,000 people/km²: New York City 11.8 km, London 11.9 km,
#: Paris 5.8 km, Boston 3.2 km). Manhattan, Brooklyn, Shinjuku or Westminster count for their city;
#: Cambridge (4.2 km from Boston), Jersey City (another state) or Boulogne-Billancourt do not.
DISTRICT_CORE_DENSITY_PER_KM2 = 20_000.0

#: Country names people use for more than one country. ``country_code`` must pick one ("Congo" -> CG,
#: the ISO short name); when the named city settles which one was meant, the country counts.
AMBIGUOUS_COUNTRY_NAMES: dict[str, frozenset[str]] = {
    "congo": frozenset({"CG", "CD"}),
    "korea": frozenset({"KR", "KP"}),
    "guinea": frozenset({"GN", "GW", "GQ", "PG"}),
    "sudan": frozenset({"SD", "SS"}),
    "ireland": frozenset({"IE", "GB"}),  # the island: Belfast is in the UK
    "virgin islands": frozenset({"VG", "VI"}),
    "samoa": frozenset({"WS", "AS"}),
}

#: Statuses of a :class:`ScoredAnswer` (placed, no names found, names that could not be placed), and so of
#: every evaluation row the model answered, whatever its quality; any other row status is a failure
#: before an answer came (request, image, row), with its ``error``. Listed in the README ("Row statuses").
ANSWERED_STATUSES = ("ok", "no_answer", "unresolved")

PlaceResolver = Callable[[Any, Any], Any]


def is_city(level: object) -> bool:
    """Whether a place ``level`` is a city: only ``"city"`` is (a region, island or landmark is not)."""
    return level == CITY_LEVEL


@lru_cache(maxsize=1 << 16)
def resolve_place(country: str | None, city: str | None) -> Place | None:
    """:func:`globe.geo.resolve`, memoised; ``None`` when nothing (or nothing with coordinates) is found."""
    place = geo.resolve(country, city)
    if place is None or place.lat is None or place.lon is None:
        return None
    return place


def valid_point(lat: Any, lon: Any) -> tuple[float, float] | None:
    """``(lat, lon)`` as floats when both are numbers in range, else ``None`` (NaN, blanks, text)."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int such as 10**400
        return None
    if -90.0 <= lat_f <= 90.0 and -180.0 <= lon_f <= 180.0:  # NaN fails both comparisons
        return lat_f, lon_f
    return None


class ScoredAnswer(NamedTuple):
    """One answer scored: its names, place, distance to the truth, and why it has none.

    A named tuple: rewards build one per completion, thousands per step.
    """

    country: str | None
    city: str | None
    place: Place | None
    #: Geodesic km from the truth to ``place``; ``None`` without a place or valid truth coordinates.
    distance_km: float | None
    #: One of :data:`ANSWERED_STATUSES`.
    status: str
    #: Why there is no place (``None`` when placed).
    error: str | None = None
    #: The names came from an ``<answer>`` block (always, unless ``lenient=True`` found them elsewhere).
    in_answer_block: bool = False

    @property
    def level(self) -> str | None:
        """The place's level ("city", "country", "region", ...), ``None`` when not placed."""
        return None if self.place is None else self.place.level

    @property
    def is_city(self) -> bool:
        """Whether the answer was placed at city level."""
        return self.place is not None and is_city(self.place.level)


def score_names(
    country: str | None,
    city: str | None,
    lat: Any = None,
    lon: Any = None,
    *,
    resolver: PlaceResolver | None = None,
    in_answer_block: bool = True,
) -> ScoredAnswer:
    """Place already-parsed names and measure them against the truth ``(lat, lon)``.

    ``resolver`` defaults to the memoised offline :func:`resolve_place`; any other (an online
    geocoder) is called as is, and an exception from it is an ``"unresolved"`` answer with the
    error, not a crash (an outage must not stop a run).
    """
    if not (country or city):
        return ScoredAnswer(country, city, None, None, "no_answer", "no country:/city: lines found in the answer",
                            in_answer_block=False)
    error = None
    try:
        place = (resolver or resolve_place)(country, city)
    except Exception as exc:  # noqa: BLE001 - a geocoder failure is a per-answer status
        place, error = None, f"geocoder failed: {type(exc).__name__}: {exc}"
    if place is None or valid_point(place.lat, place.lon) is None:
        return ScoredAnswer(country, city, None, None, "unresolved",
                            error or f"could not place country={country!r} city={city!r}", in_answer_block)
    truth = valid_point(lat, lon)
    distance = None if truth is None else max(geo.distance_km(truth, (float(place.lat), float(place.lon))), 0.0)
    return ScoredAnswer(country, city, place, distance, "ok", None, in_answer_block)


def score_answer(
    text: str | None,
    lat: Any = None,
    lon: Any = None,
    *,
    lenient: bool = False,
    resolver: PlaceResolver | None = None,
) -> ScoredAnswer:
    """Score a model's answer text against the truth ``(lat, lon)`` (see the module docstring).

    ``lenient=False`` (training rewards): only the first ``<answer>`` block counts.
    ``lenient=True`` (evaluation, distillation): :func:`globe.answers.parse_answer`'s reading.
    """
    if lenient:
        parsed = parse_answer(text)
        country, city, in_block = parsed.country, parsed.city, parsed.in_answer_block
    else:
        country, city = answer_block_fields(text if isinstance(text, str) else None)
        in_block = True
    return score_names(country, city, lat, lon, resolver=resolver, in_answer_block=in_block)


# --------------------------------------------------------------------------- same place


def _core_radius_km(population: int) -> float:
    return math.sqrt(max(population, 0) / (math.pi * DISTRICT_CORE_DENSITY_PER_KM2))


def same_municipality(a: Place, b: Place) -> bool:
    """Whether two city-level places are one city: the same GeoNames place, or a district of it.

    A district: the smaller place lies within the larger one's core (see
    :data:`DISTRICT_CORE_DENSITY_PER_KM2`) in the same country and first-level division. GeoNames
    (as packaged) has no "part of" link, so this stands in for it: big cities absorb their
    central districts, and a neighbouring municipality, however close, stays another city. It
    errs on the strict side: outer districts beyond the core (Queens and the Bronx for New York
    City, 15 and 19 km from its point) count as other cities.
    """
    if a.geonameid is not None and a.geonameid == b.geonameid:
        return True
    if a.country_code != b.country_code or (a.admin1 and b.admin1 and a.admin1 != b.admin1):
        return False
    larger, smaller = (a, b) if a.population >= b.population else (b, a)
    km = geo.haversine_km(larger.lat, larger.lon, smaller.lat, smaller.lon)
    return float(km) <= _core_radius_km(larger.population)


@lru_cache(maxsize=1 << 16)
def _named_as_country(country: str | None) -> bool:
    return bool(country) and geo.country_code(country) is not None


def _truth_country(country: str | None, place: Place | None) -> str | None:
    """The truth's country code: its country column when recognisable, else its place's."""
    code = geo.country_code(country) if clean_text(country) else None
    return code if code is not None or place is None else place.country_code


def _may_denote(country: str | None, code: str | None) -> bool:
    """Whether an ambiguous country name ("Congo", "Korea") can mean the country ``code``."""
    text = clean_text(country)
    return bool(text) and code is not None and code in AMBIGUOUS_COUNTRY_NAMES.get(ascii_key(name_key(text)), ())


def _same_city(pred: Place, truth: Place, pred_city: str, truth_city: str) -> bool:
    """Whether two resolved places named as cities are one place (see :func:`same_place`)."""
    if pred.country_code != truth.country_code:
        return False
    if is_city(pred.level) and is_city(truth.level):
        return same_municipality(pred, truth)
    if pred.level != truth.level:  # a city is never a region, island or landmark, nor those each other
        return False
    if pred.level == "country":  # neither name is a known place: both fell back to the country
        return ascii_key(name_key(pred_city)) == ascii_key(name_key(truth_city))
    return (pred.name, pred.lat, pred.lon) == (truth.name, truth.lat, truth.lon)  # one region, island, landmark


@lru_cache(maxsize=1 << 16)
def same_place(
    pred_country: str | None, pred_city: str | None, gt_country: str | None, gt_city: str | None
) -> tuple[bool, bool]:
    """``(country_match, city_match)`` of a predicted place against the truth, by identity: the one rule.

    Rewards, evaluation, distillation and the app all decide "the same place" here (the README's
    ``globe_accuracy`` row says what counts). The country must be named as a country ("USA",
    "Deutschland", "日本"; "Massachusetts" matches nothing); a name shared by several countries
    (:data:`AMBIGUOUS_COUNTRY_NAMES`) counts for the one the named city is in. A city counts only
    together with its country, and only as one municipality (:func:`same_municipality`): "Manhattan"
    for New York City counts, "Cambridge" for Boston does not; a region, island or landmark matches
    only the same one, never a city; when neither name is a known place, equal folded names count.
    """
    if not _named_as_country(pred_country):
        return False, False
    pred, truth = resolve_place(pred_country, pred_city), resolve_place(gt_country, gt_city)
    pred_code, truth_code = geo.country_code(pred_country), _truth_country(gt_country, truth)
    pred_city_text, truth_city_text = clean_text(pred_city), clean_text(gt_city)
    city_match = bool(pred is not None and truth is not None and pred_city_text and truth_city_text
                      and _same_city(pred, truth, pred_city_text, truth_city_text))
    country_match = pred_code == truth_code or (city_match and _may_denote(pred_country, truth_code))
    return country_match, city_match and country_match


def released_match(pred: str, truth: str, ratio: float = RELEASED_MATCH_RATIO) -> bool:
    """The released substring rule, bit for bit: one contains the other, the shorter >= ``ratio`` of the longer.

    Case-insensitive; lengths are taken before lower-casing, as released. An empty prediction
    never matches; an empty truth matches nothing. Calls "USA" vs "United States" wrong and
    "Niger" vs "Nigeria" right, which is why :func:`same_place` is the headline rule.
    """
    pred_len, truth_len = len(pred), len(truth)
    pred, truth = pred.lower(), truth.lower()
    if pred_len == 0:
        return False
    return (pred in truth and pred_len / truth_len >= ratio) or (truth in pred and truth_len / pred_len >= ratio)
