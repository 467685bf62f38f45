"""Each distillation filter's exact logic, one behaviour per test."""
from __future__ import annotations

import pytest

from globe.catalog import GroundTruthRow as GroundTruth
from globe.distill.filters import (
    AnswerVerdict,
    FilterSettings,
    FunnelResult,
    PlaceComparison,
    compare_places,
    funnel,
    grounded_entities,
    judge_answer,
    largest_agreeing_group,
    locatability_failure,
    reward_model_labels,
    verifier_says,
)
from globe.distill.teacher import TeacherAnswer

PARIS = GroundTruth("France", "Paris", 48.8566, 2.3522)


def answer(country="France", city="Paris", locatable=True, confidence=0.9, reasoning="clues", failure=None):
    return TeacherAnswer(locatable=locatable, confidence=confidence, reasoning=reasoning, country=country,
                         city=city, source="json", failure=failure)


def verdict(answer_failure=None, locatability=None, gt=None):
    return AnswerVerdict(answer_failure, locatability, None, gt)


# ----------------------------------------------------------------------------- locatability


@pytest.mark.parametrize("locatable, confidence, expected", [
    (True, 0.7, None),  # the threshold itself passes
    (True, 0.95, None),
    (True, 0.6999, "low_confidence"),
    (False, 0.99, "judged_unlocatable"),
    (None, 0.9, "no_locatability"),
    (True, None, "no_locatability"),
])
def test_locatability_needs_yes_and_confidence_at_least_the_threshold(locatable, confidence, expected):
    assert locatability_failure(answer(locatable=locatable, confidence=confidence), 0.7) == expected


# ----------------------------------------------------------------------------- place matching


@pytest.mark.parametrize("mode, km, expected", [
    ("city", 25, False), ("km", 25, True), ("km", 10, False), ("city-or-km", 25, True), ("country", 25, True),
])
def test_match_modes_on_a_neighbouring_town(mode, km, expected):
    versailles = PlaceComparison(country_match=True, city_match=False, distance_km=17.0)
    assert versailles.matches(mode, km) is expected


def test_a_country_level_prediction_never_matches_by_distance():
    country_only = PlaceComparison(country_match=True, city_match=False, distance_km=None)
    assert not country_only.matches("km", 20000)
    assert country_only.matches("country", 1)


def test_unknown_mode_raises_naming_the_choices():
    with pytest.raises(ValueError, match="city-or-km"):
        PlaceComparison(True, True, 0.0).matches("continent", 1)


def test_compare_places_uses_identity_and_geodesic_distance():
    versailles = compare_places("France", "Versailles", "France", "Paris", (48.8566, 2.3522))
    assert (versailles.country_match, versailles.city_match) == (True, False)
    assert versailles.distance_km == pytest.approx(17.0, abs=1.5)
    munich = compare_places("Deutschland", "München", "Germany", "Munich")
    assert (munich.country_match, munich.city_match) == (True, True)


def test_ground_truth_agreement_default_accepts_a_district_and_rejects_another_city():
    settings = FilterSettings()
    nyc = GroundTruth("United States", "New York City", 40.7128, -74.0060)
    assert judge_answer(answer("USA", "Brooklyn"), nyc, settings).gt_failure is None
    assert judge_answer(answer("France", "Lyon"), PARIS, settings).gt_failure == "gt_mismatch"
    assert judge_answer(answer("France", "Lyon"), PARIS, FilterSettings(gt_match="country")).gt_failure is None


def test_ground_truth_agreement_in_city_mode_rejects_a_town_within_the_radius():
    v = judge_answer(answer("France", "Versailles"), PARIS, FilterSettings(gt_match="city"))
    assert v.gt_failure == "gt_mismatch" and v.gt.country_match and not v.gt.city_match


def test_an_answer_without_a_place_fails_ground_truth_agreement():
    v = judge_answer(answer(country=None, city=None, failure="no_country"), PARIS, FilterSettings())
    assert v.gt is None and v.gt_failure == "gt_mismatch" and v.answer_failure == "no_country"


def test_disabled_filters_never_fail_but_the_comparison_is_still_made():
    settings = FilterSettings(locatability=False, gt_agreement=False)
    v = judge_answer(answer("France", "Lyon", locatable=False), PARIS, settings)
    assert (v.locatability_failure, v.gt_failure) == (None, None)
    assert v.gt is not None and v.gt.city_match is False and v.passed


# ----------------------------------------------------------------------------- the funnel


def test_one_teacher_is_dropped_at_the_first_failing_stage():
    settings = FilterSettings()
    assert funnel([verdict("unparseable", "no_locatability", "gt_mismatch")], settings, lambda i, j: True) == \
        FunnelResult(False, "answer", "unparseable")
    assert funnel([verdict(None, "low_confidence", "gt_mismatch")], settings, lambda i, j: True) == \
        FunnelResult(False, "locatability", "low_confidence")
    assert funnel([verdict(None, None, "gt_mismatch")], settings, lambda i, j: True) == \
        FunnelResult(False, "gt_agreement", "gt_mismatch")
    passed = funnel([verdict()], settings, lambda i, j: True)
    assert passed.passed and passed.chosen == 0


def test_with_two_teachers_both_must_pass_and_agree_by_default():
    settings = FilterSettings()
    result = funnel([verdict(), verdict(None, "judged_unlocatable")], settings, lambda i, j: True)
    assert result == FunnelResult(False, "locatability", "judged_unlocatable")
    assert funnel([verdict(), verdict()], settings, lambda i, j: False) == \
        FunnelResult(False, "teacher_agreement", "teachers_disagree")
    assert funnel([verdict(), verdict()], settings, lambda i, j: True).group == (0, 1)


def test_the_drop_reason_is_the_first_teacher_eliminated_at_that_stage():
    settings = FilterSettings()
    result = funnel([verdict(None, "low_confidence"), verdict(None, "judged_unlocatable")], settings, lambda i, j: True)
    assert result.reason == "low_confidence"


def test_min_agreeing_one_keeps_the_first_surviving_teacher():
    settings = FilterSettings(min_agreeing=1)
    result = funnel([verdict(None, None, "gt_mismatch"), verdict()], settings, lambda i, j: False)
    assert result.passed and result.chosen == 1


def test_two_of_three_teachers_agreeing_is_enough_with_min_agreeing_two():
    agree = {(0, 1): False, (0, 2): True, (1, 2): False}
    settings = FilterSettings(min_agreeing=2)
    result = funnel([verdict(), verdict(), verdict()], settings, lambda i, j: agree[(min(i, j), max(i, j))])
    assert result.passed and result.group == (0, 2)


def test_teacher_agreement_off_needs_only_one_surviving_answer():
    settings = FilterSettings(teacher_agreement=False)
    result = funnel([verdict("unparseable"), verdict()], settings, lambda i, j: False)
    assert result.passed and result.chosen == 1


def test_largest_agreeing_group_breaks_ties_by_teacher_order():
    assert largest_agreeing_group([0, 1, 2, 3], lambda a, b: {a, b} in ({1, 2}, {0, 3})) == [0, 3]
    assert largest_agreeing_group([1, 2], lambda a, b: False) == [1]
    assert largest_agreeing_group([], lambda a, b: True) == []


def test_settings_check_names_the_bad_value():
    with pytest.raises(ValueError, match="min_agreeing=3"):
        FilterSettings(min_agreeing=3).check(2)
    with pytest.raises(ValueError, match="gt_match='town'"):
        FilterSettings(gt_match="town").check(1)
    with pytest.raises(ValueError, match="min_confidence=1.5"):
        FilterSettings(min_confidence=1.5).check(1)
    assert FilterSettings().required_answers(3) == 3
    assert FilterSettings(min_agreeing=2).required_answers(3) == 2
    assert FilterSettings(teacher_agreement=False).required_answers(3) == 1


# ----------------------------------------------------------------------------- grounding


@pytest.mark.parametrize("text, expected", [
    ("yes", True), ("Yes.", True), ("YES, it is visible", True), ('"yes"', True), ("**Yes**", True),
    ("no", False), ("No.", False), ("Nope", None), ("yesterday", None), ("", None), (None, None),
    ("I cannot tell", None),
])
def test_verifier_answer_is_its_first_word(text, expected):
    assert verifier_says(text) is expected


def test_grounding_keeps_seen_entities_and_drops_rows_with_too_few():
    entities = ["Eiffel Tower", "palm trees", "Haussmann facades"]
    assert grounded_entities(entities, [True, False, True], 2) == (["Eiffel Tower", "Haussmann facades"], None)
    assert grounded_entities(entities, [True, None, False], 2) == (["Eiffel Tower"], "too_few_grounded_entities")
    assert grounded_entities([], [], 1) == ([], "too_few_grounded_entities")
    assert grounded_entities([], [], 0) == ([], None)
    with pytest.raises(ValueError):
        grounded_entities(["a"], [], 1)


# ----------------------------------------------------------------------------- reward-model labels


def test_reward_model_labels_yes_for_the_kept_answer_and_no_for_content_failures():
    answers = [answer(), answer(), answer(reasoning=""), answer()]
    verdicts = [verdict(), verdict(None, None, "gt_mismatch"), verdict("no_reasoning"), verdict(None, "no_locatability")]
    result = FunnelResult(True, group=(0,))
    assert reward_model_labels(verdicts, answers, result, grounding_failed=False) == {0: "yes", 1: "no"}
    assert reward_model_labels(verdicts, answers, result, grounding_failed=True) == {0: "no", 1: "no"}


def test_reward_model_labels_of_a_dropped_row_are_only_its_rejected_answers():
    answers = [answer(), answer()]
    verdicts = [verdict(None, "judged_unlocatable"), verdict()]
    result = FunnelResult(False, "locatability", "judged_unlocatable")
    assert reward_model_labels(verdicts, answers, result, grounding_failed=False) == {0: "no"}
