"""How a model's completion is read: which answer counts, and what its reasoning is."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from globe.answers import clean_value, field_values, parse_answer, think_text
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
