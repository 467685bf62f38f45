"""Accuracy floors of globe.geo.resolve on the labelled sets in tests/data (see bench/geo_accuracy.py).

The hold-out sets were written before the resolver learnt regions, islands and landmarks and are
never tuned on; the floors are the issue's targets, not the figures reached (those are printed by
``python bench/geo_accuracy.py``). ``geo_holdout2_places.csv`` was written afterwards, blind to the
hand-kept places table, to estimate coverage of places nobody anticipated: its floor is lower.
"""
from pathlib import Path

import pytest

from globe.geo.accuracy import FAR_KM, city_score, country_score, place_score, read_rows

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize("split", ["tuning", "holdout"])
def test_regions_islands_and_landmarks_resolve_within_their_extent(split):
    score = place_score(read_rows(DATA / f"geo_{split}_places.csv"))
    assert score.total >= 50
    assert score.rate >= 0.90, score.misses


@pytest.mark.parametrize("split", ["tuning", "holdout"])
def test_predicted_city_names_resolve_within_50_km(split):
    score = city_score(read_rows(DATA / f"geo_{split}_cities.csv"))
    assert score.total >= 35
    assert score.rate >= 0.98, score.misses


@pytest.mark.parametrize("split", ["tuning", "holdout"])
def test_country_variants_resolve_to_the_right_code(split):
    score = country_score(read_rows(DATA / f"geo_{split}_countries.csv"))
    assert score.total >= 35
    assert score.rate >= 0.98, score.misses


@pytest.mark.parametrize("name", ["tuning_places", "holdout_places", "holdout2_places", "tuning_cities", "holdout_cities"])
def test_no_answer_is_a_city_far_from_the_place_named(name):
    rows = read_rows(DATA / f"geo_{name}.csv")
    score = place_score(rows) if name.endswith("places") else city_score(rows)
    assert score.far_city == [], f"city-level answers more than {FAR_KM:.0f} km off: {score.far_city}"


def test_blind_hold_out_of_unanticipated_places_keeps_its_floor():
    score = place_score(read_rows(DATA / "geo_holdout2_places.csv"))
    assert score.total >= 60
    assert score.rate >= 0.65, score.misses
