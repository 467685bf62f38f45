"""Prediction vs ground truth by resolved identity, not spelling: the one rule (globe.scoring.same_place)."""
import pytest

from globe.scoring import same_place


@pytest.mark.parametrize(
    "pred, gt",
    [
        (("USA", "NYC"), ("United States", "New York City")),
        (("Deutschland", "München"), ("Germany", "Munich")),
        (("UK", "London"), ("England", "London")),
        (("Japan", "東京"), ("Japan", "Tokyo")),
        (("Россия", "Санкт-Петербург"), ("Russia", "St. Petersburg")),
        (("India", "Bombay"), ("India", "Mumbai")),
        (("USA", "Portland"), ("United States", "Portland, Oregon")),
        (("USA", "Manhattan"), ("USA", "New York City")),  # a district inside its city's core
        (("France", "Mont Saint-Michel"), ("France", "Mont-Saint-Michel")),  # the same landmark
        (("Italy", "Sicilia"), ("Italy", "Sicily")),  # the same island
        (("France", "Normandie"), ("France", "Normandy")),  # the same region
    ],
)
def test_same_city_spelled_differently_matches(pred, gt):
    assert same_place(*pred, *gt) == (True, True)


@pytest.mark.parametrize(
    "pred, gt",
    [
        (("USA", "Portland, Oregon"), ("USA", "Portland, Maine")),
        (("France", "Paris"), ("France", "Lyon")),
        (("USA", "Springfield, Illinois"), ("USA", "Springfield, Missouri")),
    ],
)
def test_different_cities_in_the_same_country(pred, gt):
    assert same_place(*pred, *gt) == (True, False)


def test_same_name_in_different_countries_matches_nothing():
    assert same_place("USA", "Paris", "France", "Paris") == (False, False)


def test_georgia_the_country_is_not_georgia_the_state():
    assert same_place("Georgia", "Tbilisi", "USA", "Atlanta, Georgia") == (False, False)


def test_country_only_prediction_can_match_the_country():
    assert same_place("Deutschland", None, "Germany", "Berlin") == (True, False)


def test_a_city_without_a_country_matches_nothing():
    # the country must be named as a country, as the accuracy reward has always required
    assert same_place(None, "Paris", "France", "Paris") == (False, False)
    assert same_place("Massachusetts", "Boston", "United States", "Boston") == (False, False)


def test_a_neighbouring_municipality_is_another_city_however_close():
    assert same_place("United States", "Cambridge", "United States", "Boston") == (True, False)  # 4.2 km
    assert same_place("USA", "Brooklyn", "United States", "New York City") == (True, True)  # inside the core


def test_the_right_city_with_the_wrong_country_matches_neither():
    # as in the paper's accuracy, a city counts only together with its country
    assert same_place("France", "Geneva", "Switzerland", "Geneva") == (False, False)
    assert same_place("Spain", "Paris", "France", "Paris") == (False, False)


def test_an_ambiguous_name_does_not_stretch_to_an_unrelated_country():
    assert same_place("Korea", "Tokyo", "Japan", "Tokyo") == (False, False)


def test_ireland_as_the_island_covers_belfast():
    assert same_place("Ireland", "Belfast", "United Kingdom", "Belfast") == (True, True)


def test_an_ambiguous_country_name_is_settled_by_the_matching_city():
    # "Congo" alone reads as the Republic of the Congo (CG); Kinshasa is in the DR Congo (CD)
    assert same_place("Congo", "Kinshasa", "Democratic Republic of the Congo", "Kinshasa") == (True, True)


@pytest.mark.parametrize(
    "pred, gt",
    [(("Canada", "Paris"), ("France", "Paris")), (("USA", "Geneva"), ("Switzerland", "Geneva")),
     (("Congo", "Brazzaville"), ("Democratic Republic of the Congo", "Kinshasa"))],
)
def test_a_wrong_country_with_its_own_namesake_or_other_city_matches_nothing(pred, gt):
    assert same_place(*pred, *gt) == (False, False)


@pytest.mark.parametrize("pred", [(None, None), ("", ""), ("asdf", "qwer"), ("x" * 5000, None)])
def test_unusable_prediction_matches_nothing(pred):
    assert same_place(*pred, "France", "Paris") == (False, False)


def test_no_other_module_keeps_a_same_place_rule_or_renames_this_one():
    import re

    from globe import REPO_ROOT

    second_rule = re.compile(r"^\s*def (same_place|match_place|same_city)\b|CITY_MATCH_KM|\bas same_place\b|"
                             r"import same_place as\b", re.MULTILINE)
    offenders = sorted(str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "globe").rglob("*.py")
                       if path.name != "scoring.py" and second_rule.search(path.read_text(encoding="utf-8")))
    assert offenders == []
