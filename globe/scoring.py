"""One scoring path: answer text -> parsed names -> resolved place -> distance and level.

The rewards, evaluation, distillation and the app all score an answer here, so the same answer
gets the same place, level and distance everywhere; each applies its own policy on top (a
reward's floor, eval's buckets, distill's filter), never its own copy of these rules:

* **Which names.** :func:`score_answer` reads the first ``<answer>`` block only by default, the
  released reward's scope (:func:`globe.answers.answer_block_fields`); ``lenient=True`` is
  :func:`globe.answers.parse_answer`'s reading (last block, then lines outside the tags), for
  evaluation, which also reports whether the names came from an answer block
  (:attr:`ScoredAnswer.in_answer_block`).
* **Which place.** :func:`globe.geo.resolve` (memoised here: GRPO names the same few thousand
  places over and over), or any resolver with its signature (an online geocoder).
* **Which level.** The place's ``level``. Only ``"city"`` is a city (:func:`is_city`); every
  other level ("country", "region", "island", "landmark" and any added later) is not, so no
  consumer needs to know the list.
* **Which distance.** The geodesic km from the truth to the place (:func:`globe.geo.distance_km`),
  ``None`` when the truth has no valid coordinates.
* **Same place.** :func:`match_place`: identity of names (aliases, scripts, spellings), a
  country named as a country, and a different municipality is a different city.

No ms-swift, torch or network import: this is the base layer.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, NamedTuple

from globe import geo
from globe.answers import answer_block_fields, parse_answer
from globe.geo import Place

#: The one level that is a city; anything else a resolver returns is not.
CITY_LEVEL = "city"
#: The released rule's length ratio: one name must contain the other and be >= 70% of its length.
RELEASED_MATCH_RATIO = 0.7
#: A district counts as its city when it lies within the city's core: the disc that would hold the
#: city's population at this density (20,000 people/km²: New York City 11.8 km, London 11.9 km,
#: Paris 5.8 km, Boston 3.2 km). Manhattan, Brooklyn, Shinjuku or Westminster count for their city;
#: Cambridge (4.2 km from Boston), Jersey City (another state) or Boulogne-Billancourt do not.
DISTRICT_CORE_DENSITY_PER_KM2 = 20_000.0

#: Statuses of :class:`ScoredAnswer`: placed, no names found, names that could not be placed.
STATUSES = ("ok", "no_answer", "unresolved")

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
    #: One of :data:`STATUSES`.
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


@lru_cache(maxsize=1 << 16)
def match_place(
    pred_country: str | None, pred_city: str | None, gt_country: str | None, gt_city: str | None
) -> tuple[bool, bool]:
    """``(country_match, city_match)`` of a predicted place against the truth, by identity.

    * The country must be named as a country: "USA", "Deutschland", "日本" are; "Massachusetts"
      is not (it matches nothing, even with the right city). Names shared by several countries
      ("Congo", "Korea", "Ireland") count for the one the named city is in (:func:`globe.geo.same_place`).
    * A city counts only together with its country, and only when both resolve at city level to
      one municipality (:func:`same_municipality`): "Manhattan" for New York City counts,
      "Cambridge" for Boston does not. A region, island or landmark is not a city. When neither
      name is a known place (both fall back to the country), equal folded names count.
    """
    if not _named_as_country(pred_country):
        return False, False
    country_match, names_match = geo.same_place(pred_country, pred_city, gt_country, gt_city)
    if not country_match or not (pred_city and gt_city):
        return country_match, False
    pred, truth = resolve_place(pred_country, pred_city), resolve_place(gt_country, gt_city)
    if pred is None or truth is None:
        return True, False
    if is_city(pred.level) and is_city(truth.level):
        return True, same_municipality(pred, truth)
    if not is_city(pred.level) and not is_city(truth.level):
        return True, names_match
    return True, False


def released_match(pred: str, truth: str, ratio: float = RELEASED_MATCH_RATIO) -> bool:
    """The released substring rule, bit for bit: one contains the other, the shorter >= ``ratio`` of the longer.

    Case-insensitive; lengths are taken before lower-casing, as released. An empty prediction
    never matches; an empty truth matches nothing. Calls "USA" vs "United States" wrong and
    "Niger" vs "Nigeria" right, which is why :func:`match_place` is the headline rule.
    """
    pred_len, truth_len = len(pred), len(truth)
    pred, truth = pred.lower(), truth.lower()
    if pred_len == 0:
        return False
    return (pred in truth and pred_len / truth_len >= ratio) or (truth in pred and truth_len / pred_len >= ratio)
