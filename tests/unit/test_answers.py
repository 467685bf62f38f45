"""How a model's completion is read: which answer counts, and what its reasoning is."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from globe.answers import (
    answer_block_fields,
    clean_value,
    completion_text,
    content_text,
    field_values,
    parse_answer,
    released_answer_fields,
    think_text,
    verdict_from_text,
    verdict_probability,
    without_field_lines,
)
from globe.prompts import format_answer, geo_prompt


def test_well_formed_completion() -> None:
    parsed = parse_answer("<think>Cyrillic signs, Tatra T3 trams.</think><answer>country: Czechia\ncity: Prague</answer>")
    assert (parsed.country, parsed.city) == ("Czechia", "Prague")
    assert parsed.think == "Cyrillic signs, Tatra T3 trams."
    assert parsed.has_think and parsed.has_answer and parsed.n_answer_blocks == 1


def test_markdown_bold_and_spacing_are_ignored() -> None:
    parsed = parse_answer("<answer>\n  **Country:** **Japan**  \n - City : Kyoto.\n</answer>")
    assert (parsed.country, parsed.city) == ("Japan", "Kyoto")


def test_the_last_answer_block_counts() -> None:
    parsed = parse_answer(
        "<think>x</think><answer>country: Italy\ncity: Rome</answer> wait <answer>country: Spain\ncity: Madrid</answer>"
    )
    assert (parsed.country, parsed.city) == ("Spain", "Madrid")
    assert parsed.n_answer_blocks == 2


def test_lines_after_think_count_when_answer_tags_are_missing() -> None:
    parsed = parse_answer("<think>country: Peru is my guess</think>\ncountry: Chile\ncity: Santiago")
    assert (parsed.country, parsed.city) == ("Chile", "Santiago")
    assert not parsed.has_answer


def test_untagged_lines_anywhere_count_as_a_last_resort() -> None:
    assert parse_answer("My final guess:\ncountry: Kenya\ncity: Nairobi").country == "Kenya"


def test_released_tag_format_is_read() -> None:
    parsed = parse_answer("<country>United States</country><city>New York</city>")
    assert (parsed.country, parsed.city) == ("United States", "New York")


def test_placeholders_copied_from_the_prompt_are_no_answer() -> None:
    parsed = parse_answer("<answer>country: [country name]\ncity: unknown</answer>")
    assert (parsed.country, parsed.city) == (None, None)


def test_full_width_colon_is_accepted() -> None:
    assert parse_answer("<answer>country\uff1a\u65e5\u672c\ncity\uff1a\u6771\u4eac</answer>").city == "\u6771\u4eac"


def test_unclosed_think_runs_to_the_answer() -> None:
    assert think_text("<think>wet streets, red buses <answer>country: UK</answer>") == "wet streets, red buses"


def test_reasoning_without_tags_is_the_text_before_the_answer() -> None:
    assert think_text("Red buses everywhere.<answer>country: UK</answer>") == "Red buses everywhere."


def test_clean_value_strips_quotes_and_rejects_long_values() -> None:
    assert clean_value(' "S\u00e3o Paulo". ') == "S\u00e3o Paulo"
    assert clean_value("x" * 500) is None


def test_format_answer_round_trips_through_the_parser() -> None:
    target = format_answer("Brazil", "Rio de Janeiro", "Christ the Redeemer on the hill.")
    parsed = parse_answer(target)
    assert (parsed.country, parsed.city, parsed.think) == ("Brazil", "Rio de Janeiro", "Christ the Redeemer on the hill.")


def test_train_and_eval_share_the_cot_prompt() -> None:
    assert "<think>" in geo_prompt(use_cot=True) and "<think>" not in geo_prompt(use_cot=False)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=2000) | st.from_regex(r"(<think>|</think>|<answer>|</answer>|country:|city:|\n|[a-z ]{0,9})*"))
def test_any_text_parses_without_raising(text: str) -> None:
    parsed = parse_answer(text)
    assert parsed.country is None or isinstance(parsed.country, str)
    assert isinstance(parsed.think, str)


def test_non_string_input_is_an_empty_answer() -> None:
    assert parse_answer(None).country is None  # type: ignore[arg-type]


def test_country_and_city_on_one_line() -> None:
    parsed = parse_answer("<answer>country: France, city: Paris</answer>")
    assert (parsed.country, parsed.city) == ("France", "Paris")


def test_unclosed_answer_tag_still_gives_the_fields() -> None:
    parsed = parse_answer("<think>Baguettes.</think><answer>country: France\ncity: Lyon")
    assert (parsed.country, parsed.city, parsed.has_answer) == ("France", "Lyon", False)


def test_field_values_lists_every_usable_value_in_order() -> None:
    assert field_values("country: [country name]\ncountry: Peru\n**Country:** Chile", "country") == ["Peru", "Chile"]


@pytest.mark.timeout(60)  # a hang guard: the lazy-regex parser needed minutes for these, now milliseconds
def test_degenerate_repeated_tags_are_parsed() -> None:
    for text in ("<think>" * 14000, "<answer>" * 12000, "<country>" * 12000 + "</city>"):
        parsed = parse_answer(text)
        assert (parsed.country, parsed.has_answer, parsed.has_think) == (None, False, False)


@pytest.mark.parametrize(
    "answer",
    ["country: France city: Paris", "**Country:** France **City:** Paris", "Country: France; City: Paris"],
)
def test_both_fields_on_one_line_without_a_comma(answer: str) -> None:
    parsed = parse_answer(f"<answer>{answer}</answer>")
    assert (parsed.country, parsed.city) == ("France", "Paris")


def test_a_bare_city_comma_country_answer_is_read() -> None:
    assert (parse_answer("<answer>Paris, France</answer>").city, parse_answer("<answer>Paris, France</answer>").country) == (
        "Paris", "France")
    parsed = parse_answer("<answer>Springfield, Illinois, United States</answer>")
    assert (parsed.city, parsed.country) == ("Springfield", "United States")


def test_prose_in_an_answer_block_is_not_a_bare_place() -> None:
    parsed = parse_answer("<answer>I cannot tell where this is.</answer>")
    assert (parsed.city, parsed.country) == (None, None)


def test_a_field_word_inside_a_value_does_not_split_it() -> None:
    parsed = parse_answer("<answer>country: Vatican City\ncity: Vatican City</answer>")
    assert (parsed.country, parsed.city) == ("Vatican City", "Vatican City")


def test_the_last_closing_think_tag_counts_whatever_its_case() -> None:
    parsed = parse_answer("<think>a</think>country: Peru\n</THINK>country: Chile\ncity: Santiago")
    assert (parsed.country, parsed.city) == ("Chile", "Santiago")


# --------------------------------------------------------------------------- the rewards' scope


def test_answer_block_fields_read_the_first_block_only() -> None:
    text = "<answer>country: Italy\ncity: Rome</answer> wait <answer>country: Spain\ncity: Madrid</answer>"
    assert answer_block_fields(text) == ("Italy", "Rome")
    assert answer_block_fields("<answer>\n **Country:** Japan\n City : Kyoto.\n</answer>") == ("Japan", "Kyoto")


@pytest.mark.parametrize(
    "text",
    [
        "country: Peru\ncity: Cusco",
        "<think>country: Peru\ncity: Cusco</think><answer>not sure</answer>",
        "<think>x</think>country: Peru\ncity: Cusco",
        "<answer>Cusco, Peru</answer>",  # no field lines: the released reward read nothing either
        "<answer>country: Peru\ncity: Cusco",
        "<ANSWER>country: Peru\ncity: Cusco</ANSWER>",  # the released tags are lower case
        None,
    ],
)
def test_answer_block_fields_find_nothing_outside_a_block(text) -> None:
    assert answer_block_fields(text) == (None, None)


@pytest.mark.parametrize(
    "text, whole_text, expected",
    [
        ("<think>x</think><answer>country: France\ncity: Paris</answer>", True, ("france", "paris")),
        ("<answer>country: France\ncountry: Italy\ncity: Paris</answer>", True, ("france", "paris")),  # the first
        ("<answer>Country: France\ncity: Paris</answer>", True, ("", "paris")),  # case-sensitive key
        ("<answer>country:\nFrance\ncity:Paris </answer>", True, ("france", "paris")),  # \s* crosses the line
        ("country: France\ncity: Paris", True, ("france", "paris")),  # no block: the whole text
        ("country: France\ncity: Paris", False, ("", "")),  # no block: nothing (the released reward)
        ("<answer>x</answer> country: France", True, ("", "")),
        ("<answer>ethnicity: Lyon</answer>", True, ("", "lyon")),  # a substring search, as released
        ("", True, ("", "")),
    ],
)
def test_released_answer_fields_are_the_released_extraction(text, whole_text, expected) -> None:
    assert released_answer_fields(text, whole_text_without_block=whole_text) == expected


@pytest.mark.timeout(60)
def test_released_extraction_is_linear_on_degenerate_text() -> None:
    assert released_answer_fields("<answer>" * 20000) == ("", "")
    assert answer_block_fields("<answer>" * 20000) == (None, None)


def test_parse_answer_says_whether_the_names_came_from_an_answer_block() -> None:
    assert parse_answer("<answer>country: Peru\ncity: Lima</answer>").in_answer_block is True
    assert parse_answer("<answer>Lima, Peru</answer>").in_answer_block is True
    assert parse_answer("<answer>?</answer>\ncountry: Peru").in_answer_block is False
    assert parse_answer("country: Peru").in_answer_block is False


# --------------------------------------------------------------------------- message text


@pytest.mark.parametrize(
    "content, expected",
    [("hi", "hi"), (None, ""), ([{"type": "text", "text": "a"}, {"type": "image_url"}, {"text": "b"}], "ab"),
     ([{"type": "text", "text": None}], ""), (42, None), ({"text": "x"}, None)],
)
def test_content_text(content, expected) -> None:
    assert content_text(content) == expected


@pytest.mark.parametrize(
    "completion, expected",
    [("plain", "plain"), ({"role": "assistant", "content": "m"}, "m"),
     ([{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "text", "text": "a"}]}], "a"),
     (None, ""), ([], ""), (3.5, ""), ({"content": 7}, "")],
)
def test_completion_text(completion, expected) -> None:
    assert completion_text(completion) == expected


# --------------------------------------------------------------------------- verdicts


def test_verdict_probability_is_p_yes_over_p_yes_plus_p_no() -> None:
    logprobs = {"yes": math.log(0.3), "Yes": math.log(0.2), " YES": math.log(0.1),
                "\u0120no": math.log(0.1), "\u2581No": math.log(0.05), "NO": math.log(0.05), "The": -1.0}
    assert verdict_probability(logprobs) == pytest.approx(0.6 / 0.8, abs=1e-12)


@pytest.mark.parametrize("logprobs", [{}, None, {"yesterday": -0.1, "nope": -1.0}, {"yes": float("-inf")}, ["yes"]])
def test_verdict_probability_without_yes_or_no_is_none(logprobs) -> None:
    assert verdict_probability(logprobs) is None


@pytest.mark.parametrize(
    "text, expected",
    [("yes", 1.0), ("Yes.", 1.0), ('"YES", it is', 1.0), ("**Yes**", 1.0), ("\u201cno\u201d", 0.0), ("No.", 0.0),
     ("Nope", None), ("yesterday", None), ("I cannot tell", None), ("", None), (None, None), ("42", None)],
)
def test_verdict_from_text_reads_the_first_word(text, expected) -> None:
    assert verdict_from_text(text) == expected


def test_without_field_lines_keeps_the_reasoning() -> None:
    text = "Red buses.\n**Country:** UK\n- city : London\nA country: of tea is not a line start."
    assert without_field_lines(text) == "Red buses.\n\n\nA country: of tea is not a line start."
