"""Specification of globe.eval.metrics: exact values on hand-made error lists."""
from __future__ import annotations

import math

import pytest

from globe.eval.metrics import (
    accuracy_within,
    breakdown,
    distance_accuracies,
    geoscore,
    identity_matches,
    median_km,
    prediction_level,
    string_accuracy,
    string_match,
    summarize,
)

# One row per bucket, plus a row without a prediction.
ERRORS = [0.5, 10.0, 100.0, 500.0, 2000.0, 5000.0, None]


def test_distance_accuracies_count_missing_rows_as_wrong():
    assert distance_accuracies(ERRORS) == {
        "acc_1km": 1 / 7, "acc_25km": 2 / 7, "acc_200km": 3 / 7, "acc_750km": 4 / 7, "acc_2500km": 5 / 7,
    }


def test_threshold_is_inclusive():
    assert accuracy_within([25.0, 25.000001], 25) == 0.5


def test_unparseable_and_negative_errors_are_missing():
    assert accuracy_within(["", "nan", float("nan"), -1.0, "abc", "3.5"], 25) == 1 / 6


def test_empty_input_gives_zero_not_an_error():
    assert accuracy_within([], 25) == 0.0
    assert geoscore([]) == 0.0
    assert median_km([]) is None


def test_median_treats_missing_as_infinite():
    assert median_km(ERRORS) == 500.0
    assert median_km([1.0, 3.0, None, None]) is None  # half the rows missing: the median is not finite
    assert median_km([1.0, 3.0, None]) == 3.0


def test_geoscore_is_geoguessr_formula():
    assert geoscore([0.0]) == 5000.0
    assert geoscore([1492.7]) == pytest.approx(5000.0 / math.e)
    assert geoscore([0.0, None]) == 2500.0  # a row without prediction scores 0


@pytest.mark.parametrize(
    "pred, truth, expected",
    [
        ("paris", "Paris", True),
        ("Paris ", "paris", True),
        ("usa", "United States", False),  # why identity matching is the headline metric
        ("Niger", "Nigeria", True),  # 5/7 >= 0.7: the released rule's false positive
        ("york", "new york", False),  # 4/8 < 0.7
        ("new york city", "New York", False),  # 8/13 < 0.7
        ("", "Paris", False),
        (None, "Paris", False),
        ("Paris", "", False),
    ],
)
def test_string_match_is_the_released_rule(pred, truth, expected):
    assert string_match(pred, truth) is expected


def test_string_accuracy():
    assert string_accuracy(["paris", "usa", None, "tokyo"], ["Paris", "United States", "Rome", "Tokyo"]) == 0.5


def test_identity_matches_compare_resolved_places():
    countries, cities = identity_matches(
        ["USA", "Deutschland", "France", None],
        ["NYC", "München", "Lyon", None],
        ["United States", "Germany", "France", "Italy"],
        ["New York City", "Munich", "Paris", "Rome"],
    )
    assert countries == [True, True, True, False]
    assert cities == [True, True, False, False]


def test_breakdown_groups_rows_largest_first():
    groups = breakdown(["Europe", "Asia", "Europe", None], [1.0, 30.0, None, 5.0], [True, True, False, True],
                       [True, False, False, False])
    assert list(groups) == ["Europe", "Asia", "unknown"]
    assert groups["Europe"]["n"] == 2
    assert groups["Europe"]["acc_1km"] == 0.5
    assert groups["Europe"]["country_acc"] == 0.5
    assert groups["Asia"]["acc_25km"] == 0.0 and groups["Asia"]["acc_200km"] == 1.0


def _row(status, pred_country, pred_city, gt_country, gt_city, error_km):
    return dict(status=status, pred_country=pred_country, pred_city=pred_city, gt_country=gt_country,
                gt_city=gt_city, error_km=error_km)


def test_summarize_counts_failed_rows_as_wrong_everywhere():
    rows = [
        _row("ok", "France", "Paris", "France", "Paris", 0.4),
        _row("ok", "Japan", "Osaka", "Japan", "Tokyo", 393.0),
        _row("unresolved", "Atlantis", "Poseidonia", "Greece", "Athens", None),
        _row("no_answer", None, None, "Italy", "Rome", None),
        # a failed row whose stale prediction columns must not count:
        _row("http_500", "United States", "New York City", "United States", "New York City", 0.0),
    ]
    summary = summarize(rows)
    assert summary["n"] == 5
    assert summary["n_failed"] == 1
    assert summary["n_no_answer"] == 1 and summary["n_unresolved"] == 1
    assert summary["country_acc"] == 2 / 5
    assert summary["city_acc"] == 1 / 5
    assert summary["country_acc_string"] == 2 / 5 and summary["city_acc_string"] == 1 / 5
    assert (summary["acc_1km"], summary["acc_25km"], summary["acc_750km"]) == (1 / 5, 1 / 5, 2 / 5)
    assert summary["median_km"] is None  # 3 of 5 rows have no distance
    assert summary["status_counts"] == {"http_500": 1, "no_answer": 1, "ok": 2, "unresolved": 1}
    assert summary["by_continent"]["Europe"]["n"] == 3
    assert summary["by_country"]["Japan"]["acc_750km"] == 1.0
    assert summary["by_country"]["United States"]["country_acc"] == 0.0


def test_country_level_answer_5_km_off_counts_at_200_km_but_not_at_25_km():
    country_only = _row("ok", "France", None, "France", "Orléans", 5.0) | {"pred_level": "country"}
    summary = summarize([country_only])
    assert (summary["acc_1km"], summary["acc_25km"]) == (0.0, 0.0)
    assert (summary["acc_200km"], summary["acc_750km"], summary["acc_2500km"]) == (1.0, 1.0, 1.0)
    assert summary["median_km"] == 5.0  # the median and GeoScore still use the distance
    assert summary["geoscore"] == pytest.approx(5000 * math.exp(-5.0 / 1492.7))
    assert summary["n_country_level"] == 1


def test_city_answer_5_km_off_counts_at_25_km():
    city = _row("ok", "France", "Paris", "France", "Paris", 5.0) | {"pred_level": "city"}
    summary = summarize([city])
    assert (summary["acc_1km"], summary["acc_25km"], summary["acc_200km"]) == (0.0, 1.0, 1.0)
    assert summary["n_country_level"] == 0


def test_country_level_rule_applies_at_every_city_scale_threshold_including_zero_km():
    errors, levels = [0.0, 0.0, 30.0], ["country", "city", "country"]
    assert distance_accuracies(errors, levels=levels) == {
        "acc_1km": 1 / 3, "acc_25km": 1 / 3, "acc_200km": 1.0, "acc_750km": 1.0, "acc_2500km": 1.0,
    }
    assert accuracy_within(errors, 26, levels) == 2 / 3  # above 25 km a country-level answer counts by distance
    assert accuracy_within(errors, 25) == 2 / 3  # without levels every prediction is city-level


def test_levels_must_align_with_errors():
    with pytest.raises(ValueError, match="2 prediction levels for 3 errors"):
        accuracy_within([1.0, 2.0, 3.0], 25, ["city", "city"])


def test_breakdown_applies_the_country_level_rule_per_group():
    groups = breakdown(["Europe", "Europe"], [5.0, 5.0], [True, True], [False, True], ["country", "city"])
    assert groups["Europe"]["acc_25km"] == 0.5 and groups["Europe"]["acc_200km"] == 1.0


@pytest.mark.parametrize("row, expected", [
    ({"pred_level": "country", "pred_country": "France", "pred_city": "Paris"}, "country"),  # the column wins
    ({"pred_level": "city", "pred_country": "France", "pred_city": ""}, "city"),
    ({"pred_level": " Country "}, "country"),
    # no column, or an empty cell (a CSV from before the column existed): guessed from the names
    ({"pred_country": "France", "pred_city": ""}, "country"),
    ({"pred_level": "", "pred_country": "France", "pred_city": None}, "country"),
    ({"pred_country": "France", "pred_city": "Paris"}, "city"),
    ({"pred_country": "", "pred_city": "Paris"}, "city"),
    # any level the geocoder gave is kept (regions, islands, landmarks); only a city counts at city scale
    ({"pred_level": "region", "pred_country": "France", "pred_city": "Lyon"}, "region"),
])
def test_prediction_level(row, expected):
    assert prediction_level(row) == expected


def test_summary_counts_only_answered_rows_as_country_level():
    rows = [
        _row("ok", "France", None, "France", "Paris", 300.0),  # no pred_level column: no city -> country-level
        _row("ok", "France", "Lyon", "France", "Paris", 392.0),
        _row("http_500", "Japan", None, "Japan", "Tokyo", None),  # failed: not a prediction at all
    ]
    summary = summarize(rows)
    assert summary["n_country_level"] == 1
    assert summary["acc_750km"] == 2 / 3


@pytest.mark.parametrize("level", ["region", "island", "landmark"])
def test_a_place_that_is_not_a_city_never_counts_at_city_scale(level):
    from globe.eval.metrics import counts_within

    assert not counts_within(0.5, 1, level) and not counts_within(0.5, 25, level)
    assert counts_within(0.5, 200, level) and counts_within(0.5, 1, "city") and counts_within(0.5, 1, None)


def test_string_accuracy_uses_the_released_extraction_of_the_prediction_text():
    rows = [
        # the first answer block counts, not our parser's last one
        dict(_row("ok", "Italy", "Rome", "France", "Paris", 0.0),
             prediction="<answer>country: France\ncity: Paris</answer><answer>country: Italy\ncity: Rome</answer>"),
        # no block: the whole text, first case-sensitive key
        dict(_row("ok", "France", "Paris", "France", "Paris", 0.0), prediction="country: France\ncity: Paris"),
        dict(_row("ok", "France", "Paris", "France", "Paris", 0.0), prediction="Country: France\nCity: Paris"),
        # a failed request: the released script's text was "", whatever our row still holds
        dict(_row("timeout", "France", "Paris", "France", "Paris", None), prediction="country: France\ncity: Paris"),
        # an unresolved answer still has its text
        dict(_row("unresolved", "Atlantis", "Poseidonia", "Atlantis", "Poseidonia", None),
             prediction="<answer>country: Atlantis\ncity: Poseidonia</answer>"),
    ]
    summary = summarize(rows)
    assert summary["country_acc_string"] == 3 / 5 and summary["city_acc_string"] == 3 / 5


def test_summarize_counts_region_level_answers_beside_country_level_ones():
    rows = [
        {**_row("ok", "Canada", "Ontario", "Canada", "Toronto", 10.0), "pred_level": "region"},
        {**_row("ok", "France", None, "France", "Paris", 5.0), "pred_level": "country"},
        {**_row("ok", "France", "Paris", "France", "Paris", 0.5), "pred_level": "city"},
        # a failed row's stale level does not count
        {**_row("timeout", "Canada", "Ontario", "Canada", "Toronto", None), "pred_level": "region"},
    ]
    summary = summarize(rows)
    assert (summary["n_region_level"], summary["n_country_level"]) == (1, 1)
    assert summary["acc_25km"] == 1 / 4  # only the city-level answer counts at city scale
    assert "n_samples" not in summary  # no samples column: a single-answer run
