"""Specification of globe.scoring: the one path from answer text to place, level and distance."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from globe import geo
from globe.geo import Place
from globe.scoring import (
    DISTRICT_CORE_DENSITY_PER_KM2,
    ScoredAnswer,
    is_city,
    same_place,
    released_match,
    resolve_place,
    same_municipality,
    score_answer,
    score_names,
    valid_point,
)

PARIS = (48.8566, 2.3522)


def tagged(country: str, city: str) -> str:
    return f"<think>Zinc roofs.</think>\n<answer>country: {country}\ncity: {city}</answer>"


# --------------------------------------------------------------------------- levels


@pytest.mark.parametrize("level, expected", [("city", True), ("country", False), ("region", False),
                                             ("island", False), ("landmark", False), (None, False), ("", False)])
def test_only_the_city_level_is_a_city(level, expected):
    assert is_city(level) is expected


# --------------------------------------------------------------------------- score_answer


def test_a_tagged_answer_is_placed_and_measured_from_the_truth():
    scored = score_answer(tagged("France", "Paris"), *PARIS)
    paris = geo.resolve("France", "Paris")
    assert (scored.status, scored.level, scored.place) == ("ok", "city", paris)
    assert scored.distance_km == geo.distance_km(PARIS, (paris.lat, paris.lon))
    assert scored.in_answer_block and scored.is_city


def test_by_default_only_the_first_answer_block_counts():
    text = "<answer>country: Italy\ncity: Rome</answer> no wait <answer>country: Spain\ncity: Madrid</answer>"
    assert (score_answer(text).country, score_answer(text).city) == ("Italy", "Rome")


@pytest.mark.parametrize(
    "text",
    [
        "country: France\ncity: Paris",  # no tags at all
        "<think>country: France\ncity: Paris</think><answer>not sure</answer>",  # lines only in the reasoning
        "<think>x</think>\ncountry: France\ncity: Paris",  # lines after the reasoning, no block
        "<answer>country: France\ncity: Paris",  # an unclosed block
    ],
)
def test_names_outside_the_first_answer_block_are_no_answer_by_default(text):
    scored = score_answer(text, *PARIS)
    assert (scored.status, scored.place, scored.distance_km) == ("no_answer", None, None)


def test_lenient_reading_finds_untagged_names_and_says_so():
    scored = score_answer("My guess:\ncountry: France\ncity: Paris", *PARIS, lenient=True)
    assert (scored.status, scored.city, scored.in_answer_block) == ("ok", "Paris", False)
    assert score_answer(tagged("France", "Paris"), lenient=True).in_answer_block is True


def test_a_country_only_answer_is_placed_at_country_level():
    scored = score_answer("<answer>country: France</answer>", *PARIS)
    assert (scored.status, scored.level, scored.is_city) == ("ok", "country", False)


def test_unplaceable_names_are_unresolved_with_the_reason():
    scored = score_answer(tagged("Atlantis", "Poseidonia"), *PARIS)
    assert scored.status == "unresolved" and scored.place is None
    assert scored.error == "could not place country='Atlantis' city='Poseidonia'"


@pytest.mark.parametrize("lat, lon", [(None, 2.35), (float("nan"), 2.35), (91.0, 2.35), ("north", 2.35), ("", "")])
def test_without_valid_truth_coordinates_the_place_has_no_distance(lat, lon):
    scored = score_answer(tagged("France", "Paris"), lat, lon)
    assert (scored.status, scored.distance_km) == ("ok", None)


def test_a_failing_resolver_is_an_unresolved_answer_not_a_crash():
    def broken(country, city):
        raise TimeoutError("geocoder down")

    scored = score_names("France", "Paris", *PARIS, resolver=broken)
    assert (scored.status, scored.error) == ("unresolved", "geocoder failed: TimeoutError: geocoder down")


def test_a_custom_resolver_decides_the_place_and_its_level():
    island = Place(name="Sicily", country_code="IT", lat=37.6, lon=14.0, level="island", confidence=0.9)
    scored = score_names("Italy", "Sicily", 37.5, 14.0, resolver=lambda country, city: island)
    assert (scored.level, scored.is_city) == ("island", False)
    assert scored.distance_km == pytest.approx(geo.distance_km((37.5, 14.0), (37.6, 14.0)))


def test_non_text_is_no_answer():
    assert score_answer(None).status == "no_answer"  # type: ignore[arg-type]
    assert isinstance(score_answer(None), ScoredAnswer)  # type: ignore[arg-type]


def test_resolve_place_is_geo_resolve_memoised():
    assert resolve_place("USA", "NYC") == geo.resolve("USA", "NYC")
    assert resolve_place("USA", "NYC") is resolve_place("USA", "NYC")


def test_valid_point():
    assert valid_point("48.5", 2) == (48.5, 2.0)
    assert valid_point(0, 180.5) is None
    assert valid_point(10**400, 0) is None  # too big for a float: no point, not a crash


# --------------------------------------------------------------------------- same_place


@pytest.mark.parametrize(
    "pred, truth, expected",
    [
        (("USA", "NYC"), ("United States", "New York City"), (True, True)),
        (("USA", "Manhattan"), ("United States", "New York City"), (True, True)),  # a district of the city
        (("USA", "Brooklyn"), ("United States", "New York City"), (True, True)),
        (("United States", "New York City"), ("United States", "Brooklyn"), (True, True)),  # the truth is the district
        (("Japan", "Shinjuku"), ("Japan", "Tokyo"), (True, True)),
        (("UK", "Westminster"), ("United Kingdom", "London"), (True, True)),
        (("United States", "Cambridge"), ("United States", "Boston"), (True, False)),  # another municipality
        (("United States", "Jersey City"), ("United States", "New York City"), (True, False)),  # another state
        (("France", "Boulogne-Billancourt"), ("France", "Paris"), (True, False)),
        (("Massachusetts", "Boston"), ("United States", "Boston"), (False, False)),  # not named as a country
        (("Ireland", "Belfast"), ("United Kingdom", "Belfast"), (True, True)),  # the island's name, Belfast decides
        (("France", "Geneva"), ("Switzerland", "Geneva"), (False, False)),
        (("France", None), ("France", "Paris"), (True, False)),
        ((None, "Paris"), ("France", "Paris"), (False, False)),
    ],
)
def test_same_place(pred, truth, expected):
    assert same_place(*pred, *truth) == expected


def _city(geonameid, lat, lon, population, admin1="NY", cc="US"):
    return Place(name=str(geonameid), country_code=cc, lat=lat, lon=lon, level="city", confidence=1.0,
                 geonameid=geonameid, population=population, admin1=admin1)


def test_a_district_is_within_the_core_radius_of_the_larger_place():
    radius = math.sqrt(1_000_000 / (math.pi * DISTRICT_CORE_DENSITY_PER_KM2))  # 3.99 km
    city = _city(1, 0.0, 0.0, 1_000_000)
    inside = _city(2, 0.0, (radius - 0.1) / 111.195, 50_000)
    outside = _city(3, 0.0, (radius + 0.1) / 111.195, 50_000)
    assert same_municipality(city, inside) and same_municipality(inside, city)
    assert not same_municipality(city, outside)
    assert not same_municipality(city, replace(inside, admin1="NJ"))  # another first-level division
    assert not same_municipality(city, replace(inside, country_code="CA"))


# --------------------------------------------------------------------------- the released rule


@pytest.mark.parametrize(
    "pred, truth, expected",
    [
        ("paris", "Paris", True),
        ("usa", "United States", False),
        ("niger", "Nigeria", True),  # 5/7 >= 0.7
        ("york", "new york", False),  # 4/8
        ("", "Paris", False),
        ("paris", "", False),
        ("new york city", "New York", False),  # 8/13
    ],
)
def test_released_match_is_the_released_rule(pred, truth, expected):
    assert released_match(pred, truth) is expected
