"""Reading teacher answers: what real teachers return, and what they get wrong."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from globe.distill.teacher import find_json_object, parse_teacher_answer, read_confidence, read_locatable

FULL = {
    "locatable": "yes",
    "confidence": 0.9,
    "reasoning": "Cream stone facades and a wrought-iron tower.",
    "entities": ["Eiffel Tower", "Haussmann facades"],
    "country": "France",
    "city": "Paris",
}


def test_plain_json_object_gives_every_field():
    answer = parse_teacher_answer(json.dumps(FULL))
    assert answer.usable and answer.source == "json" and answer.problems == ()
    assert (answer.locatable, answer.confidence) == (True, 0.9)
    assert answer.reasoning == FULL["reasoning"]
    assert answer.entities == ("Eiffel Tower", "Haussmann facades")
    assert (answer.country, answer.city) == ("France", "Paris")


def test_json_in_a_code_fence_with_preamble_and_answer_lines():
    text = "Sure! Here is my analysis:\n```json\n" + json.dumps(FULL, indent=2) + "\n```\ncountry: France\ncity: Paris\n"
    answer = parse_teacher_answer(text)
    assert answer.usable and answer.source == "json"
    assert (answer.country, answer.city, answer.confidence) == ("France", "Paris", 0.9)
    assert "json_lines_disagree" not in answer.problems


def test_json_followed_by_trailing_text_is_still_read():
    text = json.dumps(FULL) + "\n\nI hope this helps; the {braces} here are not JSON."
    answer = parse_teacher_answer(text)
    assert answer.usable and answer.city == "Paris" and answer.problems == ()


def test_raw_newlines_inside_a_json_string_are_accepted():
    text = '{"locatable": "yes", "confidence": 0.8, "reasoning": "Step 1: signs.\nStep 2: trams.", "country": "Czechia", "city": "Prague"}'
    answer = parse_teacher_answer(text)
    assert answer.reasoning == "Step 1: signs.\nStep 2: trams."
    assert "repaired_json" not in answer.problems


def test_single_quotes_trailing_commas_and_bare_keys_are_repaired_without_eval():
    text = "{'locatable': true, confidence: 0.75, 'reasoning': 'Kanji signs.', 'entities': ['kanji signage',], 'country': 'Japan', 'city': 'Tokyo',}"
    answer = parse_teacher_answer(text)
    assert answer.usable and "repaired_json" in answer.problems
    assert (answer.locatable, answer.confidence, answer.entities) == (True, 0.75, ("kanji signage",))
    assert (answer.country, answer.city) == ("Japan", "Tokyo")


def test_code_is_never_evaluated():
    obj, _ = find_json_object("{'country': __import__('os').system('echo hacked')}")
    assert obj is None


def test_missing_city_in_json_is_taken_from_the_answer_lines():
    data = {k: v for k, v in FULL.items() if k != "city"}
    answer = parse_teacher_answer(json.dumps(data) + "\ncountry: France\ncity: Paris")
    assert answer.city == "Paris" and answer.source == "json+lines"
    assert "city_from_lines" in answer.problems


def test_json_place_wins_over_disagreeing_lines_and_the_disagreement_is_recorded():
    answer = parse_teacher_answer(json.dumps(FULL) + "\ncountry: Belgium\ncity: Brussels")
    assert (answer.country, answer.city) == ("France", "Paris")
    assert "json_lines_disagree" in answer.problems


def test_missing_fields_are_listed_as_problems_but_the_answer_stays_usable():
    answer = parse_teacher_answer(json.dumps({"reasoning": "Red buses on the left.", "country": "United Kingdom", "city": "London"}))
    assert answer.usable
    assert (answer.locatable, answer.confidence, answer.entities) == (None, None, ())
    assert {"missing_locatable", "missing_confidence", "missing_entities"} <= set(answer.problems)


def test_nested_location_object_is_read():
    data = {"locatable": "yes", "confidence": 0.9, "reasoning": "r", "location": {"country": "Peru", "city": "Lima"}}
    answer = parse_teacher_answer(json.dumps(data))
    assert (answer.country, answer.city) == ("Peru", "Lima")


def test_placeholder_places_count_as_missing():
    answer = parse_teacher_answer(json.dumps({**FULL, "country": "unknown", "city": "[city name]"}))
    assert answer.failure == "no_country" and answer.city is None


def test_json_without_reasoning_is_unusable():
    answer = parse_teacher_answer(json.dumps({**FULL, "reasoning": ""}))
    assert answer.failure == "no_reasoning"


def test_reasoning_given_as_a_list_of_steps_is_joined():
    answer = parse_teacher_answer(json.dumps({**FULL, "reasoning": ["Trams.", "Cyrillic signs."]}))
    assert answer.reasoning == "Trams.\nCyrillic signs."


def test_free_text_with_answer_lines_falls_back_to_parse_answer():
    text = "<think>Onion domes and Cyrillic shop signs.</think><answer>country: Russia\ncity: Moscow</answer>"
    answer = parse_teacher_answer(text)
    assert answer.usable and answer.source == "lines"
    assert (answer.country, answer.city) == ("Russia", "Moscow")
    assert answer.reasoning == "Onion domes and Cyrillic shop signs."
    assert answer.locatable is None and "missing_locatable" in answer.problems


def test_untagged_free_text_loses_its_answer_lines_from_the_reasoning():
    answer = parse_teacher_answer("Tuk-tuks and Thai script everywhere.\n**Country:** Thailand\n**City:** Bangkok")
    assert (answer.country, answer.city) == ("Thailand", "Bangkok")
    assert answer.reasoning == "Tuk-tuks and Thai script everywhere."


@pytest.mark.parametrize("text, failure", [
    ("", "empty_answer"),
    (None, "empty_answer"),
    ("   \n", "empty_answer"),
    ("lorem ipsum dolor sit amet", "unparseable"),
    ('{"locatable": "yes", "confidence": 0.9', "unparseable"),  # cut off by max_tokens
    ("{{{{ ]]] ''' ", "unparseable"),
    ("刺 ĉ §§ 0x1f", "unparseable"),
])
def test_garbage_is_unusable_with_a_reason(text, failure):
    answer = parse_teacher_answer(text)
    assert answer.failure == failure and not answer.usable and answer.country is None


@pytest.mark.parametrize("value, expected", [
    ("yes", True), ("Yes.", True), (True, True), (1, True), ("no", False), (False, False), (0, False),
    ("maybe", None), (None, None), (0.5, None),
])
def test_locatable_values(value, expected):
    assert read_locatable(value) is expected


@pytest.mark.parametrize("value, expected, problem", [
    (0.8, 0.8, None), ("0.65", 0.65, None), (1, 1.0, None), (0, 0.0, None),
    (85, 0.85, "confidence_percent"), ("85%", 0.85, "confidence_percent"),
    (-0.1, None, "confidence_out_of_range"), (250, None, "confidence_out_of_range"),
    ("high", None, "confidence_unreadable"), (None, None, "missing_confidence"), (True, None, "confidence_unreadable"),
])
def test_confidence_values(value, expected, problem):
    assert read_confidence(value) == (pytest.approx(expected) if expected is not None else None, problem)


def test_answer_round_trips_through_its_ledger_dict():
    answer = parse_teacher_answer(json.dumps(FULL))
    from globe.distill.teacher import TeacherAnswer

    assert TeacherAnswer.from_dict(json.loads(json.dumps(answer.to_dict()))) == answer



@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("{}[]'\":,\n\\ ab0.9%") + ["null", "```", "true", "country", "city", "reasoning",
                                                                  "confidence", "yes"]), max_size=60).map("".join))
def test_parsing_never_raises_and_usable_means_a_country_and_reasoning(text):
    answer = parse_teacher_answer(text)
    assert answer.usable == (answer.country is not None and bool(answer.reasoning))
    assert answer.confidence is None or 0.0 <= answer.confidence <= 1.0
