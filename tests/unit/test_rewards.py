"""Specification of globe.rewards: exact reward values for real completions."""
from __future__ import annotations

import json
import logging
import math

import pytest

from globe import geo
from globe.rewards import (
    COUNTRY_LEVEL_FLOOR_KM,
    COUNTRY_REWARD,
    DEFAULT_TAU_KM,
    REWARDS,
    accuracy_rewards,
    completion_text,
    distance_rewards,
    entity_texts,
    format_rewards,
    REGION_LEVEL_FLOOR_KM,
    level_floor_km,
    locatability_reward_from_logprobs,
    normalize_for_match,
    released_accuracy_rewards,
    released_format_rewards,
    reward_table,
    split_solution,
    visual_match_rewards,
)


def answer(country: str, city: str, think: str = "Looking at the signs and the architecture.") -> str:
    return f"<think>{think}</think>\n<answer>country: {country}\ncity: {city}</answer>"


# --------------------------------------------------------------------------- accuracy: paper values


def test_city_and_country_right_is_one():
    assert accuracy_rewards([answer("France", "Paris")], solution=["France\tParis"]) == [1.0]


def test_only_country_right_is_point_two():
    assert COUNTRY_REWARD == 0.2
    assert accuracy_rewards([answer("France", "Lyon")], solution=["France\tParis"]) == [0.2]


def test_wrong_country_is_zero_even_with_a_same_named_city():
    # Paris, Texas is not Paris, France: a city only counts together with its country.
    assert accuracy_rewards([answer("United States", "Paris")], solution=["France\tParis"]) == [0.0]


def test_no_answer_is_zero():
    assert accuracy_rewards(["<think>I am not sure.</think>"], solution=["France\tParis"]) == [0.0]


def test_batch_keeps_order_and_length():
    completions = [answer("France", "Paris"), answer("France", "Nice"), answer("Spain", "Madrid")]
    assert accuracy_rewards(completions, solution=["France\tParis"] * 3) == [1.0, 0.2, 0.0]


# --------------------------------------------------------------------------- accuracy: names


@pytest.mark.parametrize(
    "country, city, solution",
    [
        ("USA", "NYC", "United States\tNew York City"),
        ("U.S.A.", "New York", "United States\tNew York City"),
        ("UK", "London", "United Kingdom\tLondon"),
        ("Deutschland", "München", "Germany\tMunich"),
        ("Germany", "Munchen", "Germany\tMunich"),
        ("日本", "東京", "Japan\tTokyo"),
        ("Czech Republic", "Praha", "Czechia\tPrague"),
        ("Brazil", "Sao Paulo", "Brazil\tSão Paulo"),
        ("Russia", "Moscow", "Russian Federation\tMoscow"),
    ],
)
def test_aliases_scripts_and_spellings_count_as_the_same_place(country, city, solution):
    assert accuracy_rewards([answer(country, city)], solution=[solution]) == [1.0]


@pytest.mark.parametrize(
    "country, city, solution",
    [
        ("Niger", "Niamey", "Nigeria\tLagos"),  # the released 0.7-ratio substring rule matched these
        ("Dominica", "Roseau", "Dominican Republic\tSanto Domingo"),
        ("Georgia", "Atlanta", "United States\tAtlanta"),  # the country Georgia, not the state
    ],
)
def test_names_that_merely_overlap_do_not_match(country, city, solution):
    assert accuracy_rewards([answer(country, city)], solution=[solution]) == [0.0]


# --------------------------------------------------------------------------- accuracy: answer parsing


def test_first_answer_block_counts_as_released():
    text = "<answer>country: France\ncity: Paris</answer> On reflection: <answer>country: Italy\ncity: Rome</answer>"
    assert accuracy_rewards([text], solution=["France\tParis"]) == [1.0]
    assert accuracy_rewards([text], solution=["Italy\tRome"]) == [0.0]


def test_markdown_and_extra_whitespace_are_ignored():
    text = "<think>hm</think><answer>\n  **Country:**   Japan \n  **City:**  Kyoto.  \n</answer>"
    assert accuracy_rewards([text], solution=["Japan\tKyoto"]) == [1.0]


@pytest.mark.parametrize(
    "text",
    [
        "country: Peru\ncity: Cusco",  # a correct answer without tags
        "<think>country: Peru\ncity: Cusco</think><answer>not sure</answer>",  # the lines only in the reasoning
        "<think>Andes.</think>\ncountry: Peru\ncity: Cusco",  # after the reasoning, no answer block
        "<think>Andes.</think><answer>country: Peru\ncity: Cusco",  # an unclosed answer block
    ],
)
def test_only_an_answer_block_counts_as_released(text):
    assert accuracy_rewards([text], solution=["Peru\tCusco"]) == [0.0]


# --------------------------------------------------------------------------- accuracy: which place is the truth's


@pytest.mark.parametrize(
    "country, city, solution, expected",
    [
        ("United States", "Cambridge", "United States\tBoston", 0.2),  # a neighbouring municipality
        ("Massachusetts", "Boston", "United States\tBoston", 0.0),  # a state is not a country
        ("USA", "Manhattan", "United States\tNew York City", 1.0),  # a district of the city
        ("USA", "Brooklyn", "United States\tNew York City", 1.0),
        ("United States", "Jersey City", "United States\tNew York City", 0.2),  # across the river, another state
        ("Japan", "Shinjuku", "Japan\tTokyo", 1.0),
        ("France", "Boulogne-Billancourt", "France\tParis", 0.2),
    ],
)
def test_the_country_is_named_as_a_country_and_another_municipality_is_another_city(country, city, solution, expected):
    assert accuracy_rewards([answer(country, city)], solution=[solution]) == [expected]


# --------------------------------------------------------------------------- accuracy: the released rule


def released_oracle(text: str, solution: str) -> float:
    """The released reward, restated from its description: first block, first key match, 0.7 substring rule."""
    import re

    block = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
    region = block.group(1).strip() if block else ""
    truth_country, truth_city = solution.split("\t")

    def field(key):
        found = re.search(key + r":\s*([^\n]+)", region)
        return found.group(1).strip().lower() if found else ""

    def same(pred, truth):
        n_pred, n_truth = len(pred), len(truth)
        pred, truth = pred.lower(), truth.lower()
        return n_pred > 0 and ((pred in truth and n_pred / n_truth >= 0.7) or (truth in pred and n_truth / n_pred >= 0.7))

    if same(field("city"), truth_city) and same(field("country"), truth_country):
        return 1.0
    return 0.2 if same(field("country"), truth_country) else 0.0


RELEASED_CASES = [
    (answer("France", "Paris"), "France\tParis", 1.0),
    (answer("USA", "NYC"), "United States\tNew York City", 0.0),  # no substring
    (answer("Niger", "Niamey"), "Nigeria\tLagos", 0.2),  # 5/7 >= 0.7
    (answer("United States", "Cambridge"), "United States\tBoston", 0.2),
    (answer("Massachusetts", "Boston"), "United States\tBoston", 0.0),
    ("country: France\ncity: Paris", "France\tParis", 0.0),  # no block
    ("<think>country: France\ncity: Paris</think><answer>not sure</answer>", "France\tParis", 0.0),
    ("<answer>Country: France\ncity: Paris</answer>", "France\tParis", 0.0),  # "Country:" is not "country:"
    ("<answer>country: france\ncity: paris</answer><answer>country: Italy</answer>", "France\tParis", 1.0),
    ("<answer>country: [country name]\ncity: Paris</answer>", "France\tParis", 0.0),
    ("<answer>country: France (probably)\ncity: Paris</answer>", "France\tParis", 0.0),  # 6/17 < 0.7
    ("<answer>country: France\ncity: Paris</answer>", "France\t", 0.2),  # an empty truth city matches nothing
]


@pytest.mark.parametrize("text, solution, expected", RELEASED_CASES)
def test_released_accuracy_is_the_released_rule(text, solution, expected):
    assert released_oracle(text, solution) == expected
    assert released_accuracy_rewards([text], solution=[solution]) == [expected]


def test_released_accuracy_reads_country_and_city_columns_without_a_solution():
    assert released_accuracy_rewards([answer("France", "Paris")], country=["France"], city=["Paris"]) == [1.0]
    assert released_accuracy_rewards([answer("France", "Paris")], solution=[None], country=[None]) == [0.0]


def test_released_accuracy_names_a_solution_without_one_tab():
    with pytest.raises(ValueError, match="row 0's solution 'France' is not \"country<TAB>city\""):
        released_accuracy_rewards([answer("France", "Paris")], solution=["France"])


def test_prompt_placeholders_are_no_answer():
    text = answer("[country name]", "[city name]")
    assert accuracy_rewards([text], solution=["France\tParis"]) == [0.0]


def test_city_without_country_is_zero():
    text = "<think>x</think><answer>city: Paris</answer>"
    assert accuracy_rewards([text], solution=["France\tParis"]) == [0.0]


# --------------------------------------------------------------------------- accuracy: ground truth


def test_ground_truth_from_country_and_city_columns():
    rewards = accuracy_rewards([answer("Kenya", "Nairobi"), answer("Kenya", "Mombasa")],
                               country=["Kenya", "Kenya"], city=["Nairobi", "Nairobi"])
    assert rewards == [1.0, 0.2]


def test_columns_fill_what_the_solution_lacks():
    assert accuracy_rewards([answer("Kenya", "Nairobi")], solution=["Kenya"], city=["Nairobi"]) == [1.0]


def test_without_a_ground_truth_city_the_best_is_country_credit():
    assert accuracy_rewards([answer("Kenya", "Nairobi")], solution=["Kenya"]) == [0.2]


def test_row_without_ground_truth_is_zero():
    assert accuracy_rewards([answer("Kenya", "Nairobi")], solution=[None]) == [0.0]


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("France\tParis", ("France", "Paris")),
        ("  France \t Paris \n", ("France", "Paris")),
        ("<country>France</country><city>Paris</city>", ("France", "Paris")),
        ("country: France\ncity: Paris", ("France", "Paris")),
        ("France", ("France", None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_solution_formats(cell, expected):
    assert split_solution(cell) == expected


def test_missing_ground_truth_columns_is_an_error_naming_them():
    with pytest.raises(ValueError, match="`solution` column"):
        accuracy_rewards([answer("France", "Paris")])


def test_misaligned_column_is_an_error():
    with pytest.raises(ValueError, match="'solution' has 1 values for 2 completions"):
        accuracy_rewards([answer("France", "Paris")] * 2, solution=["France\tParis"])


def test_conversational_completions_are_read_like_strings():
    completion = [{"role": "assistant", "content": answer("France", "Paris")}]
    assert completion_text(completion) == answer("France", "Paris")
    assert accuracy_rewards([completion], solution=["France\tParis"]) == [1.0]


# --------------------------------------------------------------------------- visual match


def test_all_entities_named_in_reasoning_is_one():
    text = answer("UK", "London", think="A red double-decker bus passes Big Ben.")
    assert visual_match_rewards([text], entities=[[{"text": "double-decker bus"}, {"text": "Big Ben"}]]) == [1.0]


def test_recall_is_the_share_of_entities_found():
    text = answer("UK", "London", think="A red double-decker bus in the rain.")
    entities = [[{"text": "bus"}, {"text": "Big Ben"}, {"text": "rain"}, {"text": "taxi"}]]
    assert visual_match_rewards([text], entities=entities) == [0.5]


@pytest.mark.parametrize("think", ["A business district.", "Signs against abuse.", "A busker sings.",
                                   "An omnibus ticket.", "Bussing tables."])
def test_entities_match_whole_words_only(think):
    text = answer("UK", "London", think=think)
    assert visual_match_rewards([text], entities=[["bus"]]) == [0.0]


@pytest.mark.parametrize(
    "entity, think",
    [
        ("bus", "Red buses everywhere."),
        ("bus", "The bus's roof is red."),
        ("palm tree", "A row of palm trees."),
        ("glass", "Mirrored glasses on the facade."),
        ("Peter", "Queues outside St Peter's."),
        ("St. Peter's Basilica", "The dome of St Peters Basilica."),
        ("St Peters Basilica", "The dome of St. Peter\u2019s Basilica."),  # typographic apostrophe
    ],
)
def test_plural_and_possessive_of_an_entity_count(entity, think):
    text = answer("Italy", "Rome", think=think)
    assert visual_match_rewards([text], entities=[[entity]]) == [1.0]


@pytest.mark.parametrize(
    "entity, think",
    [
        ("palm tree", "Palms, tree ferns."),  # only the last word may be plural
        ("palm tree", "Two palms trees."),
        ("1960", "A car from the 1960s."),  # numbers take no plural
        ("Peters", "St Peter's"),  # the plural ending is added to the entity, never removed from it
    ],
)
def test_plural_allowance_is_only_a_suffix_of_the_last_word(entity, think):
    text = answer("Italy", "Rome", think=think)
    assert visual_match_rewards([text], entities=[[entity]]) == [1.0 if entity == "Peters" else 0.0]


def test_case_whitespace_punctuation_and_diacritics_are_normalised():
    text = answer("Switzerland", "Zurich", think="Blue ZURICH   tram;\nthe Grossmünster towers.")
    entities = [["Zürich tram", "Großmünster", "grossmunster towers"]]
    assert visual_match_rewards([text], entities=entities) == [1.0]


def test_entities_outside_the_reasoning_do_not_count():
    text = "<think>Tall palms.</think><answer>country: Spain\ncity: Barcelona\nSagrada Familia</answer>"
    assert visual_match_rewards([text], entities=[["palms", "Sagrada Familia"]]) == [0.5]


def test_duplicate_entities_count_once():
    text = answer("Japan", "Tokyo", think="A torii gate.")
    assert visual_match_rewards([text], entities=[["torii gate", "Torii Gate", "pagoda"]]) == [0.5]


def test_unspaced_scripts_match_inside_running_text():
    text = answer("Japan", "Tokyo", think="我看到了东京塔和红色的鸟居")
    assert visual_match_rewards([text], entities=[["东京塔", "鸟居", "富士山"]]) == [pytest.approx(2 / 3)]


def test_reasoning_without_think_tags_is_the_text_before_the_answer():
    text = "The kanji signs suggest Japan.\n<answer>country: Japan\ncity: Osaka</answer>"
    assert visual_match_rewards([text], entities=[["kanji signs"]]) == [1.0]


@pytest.mark.parametrize(
    "entities",
    [
        [{"text": "torii gate"}, {"text": "pagoda"}],
        ["torii gate", "pagoda"],
        json.dumps([{"text": "torii gate"}, {"text": "pagoda"}]),
        json.dumps(["torii gate", "pagoda"]),
        {"text": ["torii gate", "pagoda"]},
    ],
)
def test_entity_column_shapes(entities):
    text = answer("Japan", "Kyoto", think="A vermilion torii gate.")
    assert visual_match_rewards([text], entities=[entities]) == [0.5]


@pytest.mark.parametrize("entities", [None, [], "", "[]", [{"text": ""}], [{"text": "!!!"}], [{"other": "x"}]])
def test_row_without_entities_scores_zero(entities):
    text = answer("Japan", "Kyoto", think="A vermilion torii gate.")
    assert visual_match_rewards([text], entities=[entities]) == [0.0]


def test_plain_string_entity_that_is_not_json_is_one_entity():
    assert entity_texts("torii gate") == ["torii gate"]


def test_missing_entities_column_is_an_error():
    with pytest.raises(ValueError, match="`entities` column"):
        visual_match_rewards([answer("Japan", "Kyoto")])


def test_normalisation_keeps_word_tokens_only():
    assert normalize_for_match("  Double-Decker   BUS, São\tPaulo! ") == " double decker bus sao paulo "


def test_normalisation_joins_apostrophes_inside_words_only():
    assert normalize_for_match("St. Peter's 'Basilica' rock'n'roll") == " st peters basilica rocknroll "


# --------------------------------------------------------------------------- format


@pytest.mark.parametrize(
    "text",
    [
        "<think>Signs in French.</think><answer>country: France\ncity: Paris</answer>",
        "<think>Signs in French.</think>\n\n<answer>\ncountry: France\ncity: Paris\n</answer>\n",
        "  <think>x</think><answer>**Country:** France\n**City:** Paris</answer>",
        "<think></think><answer>country: France\ncity: Paris</answer>",  # empty reasoning passes, as released
    ],
)
def test_well_formed_completions_score_one(text):
    assert format_rewards([text]) == [1.0]


@pytest.mark.parametrize(
    "text, why",
    [
        ("<answer>country: France\ncity: Paris</answer>", "no think block"),
        ("<think>x</think>country: France\ncity: Paris", "no answer block"),
        ("<think>x</think><answer>country: France</answer>", "no city line"),
        ("<think>x</think><answer>city: Paris</answer>", "no country line"),
        ("<think>x</think><answer>France, Paris</answer>", "no field lines"),
        ("<think>x</think><answer>country: [country name]\ncity: [city name]</answer>", "placeholders"),
        ("<think>x</think><answer>country: France\ncity: Paris</answer><answer>country: Italy\ncity: Rome</answer>",
         "two answers"),
        ("<think>x<think>y</think></think><answer>country: France\ncity: Paris</answer>", "nested think"),
        ("<think>x</think><answer>country: France\ncity: Paris</answer> Hope this helps!", "text after the answer"),
        ("Sure! <think>x</think><answer>country: France\ncity: Paris</answer>", "text before the reasoning"),
        ("<think>x</think> so <answer>country: France\ncity: Paris</answer>", "text between the blocks"),
        ("<THINK>x</THINK><ANSWER>country: France\ncity: Paris</ANSWER>", "upper-case tags"),
        ("<think>x<answer>country: France\ncity: Paris</answer>", "unclosed think"),
        ("<answer>country: France\ncity: Paris</answer><think>x</think>", "blocks in the wrong order"),
        ("", "empty"),
    ],
)
def test_malformed_completions_score_zero(text, why):
    assert format_rewards([text]) == [0.0], why


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>x</think><answer>country: France\ncity: Paris</answer>", 1.0),
        ("<think>x</think>\n\n<answer>France, Paris</answer>", 1.0),  # no field lines needed
        ("<think></think><answer></answer>", 1.0),
        ("<think>x</think><answer>a</answer><answer>b</answer>", 1.0),  # a second block passes, as released
        ("<think>x</think><answer>a</answer>\n", 0.0),  # nothing at all may follow, not even a newline
        (" <think>x</think><answer>a</answer>", 0.0),
        ("<THINK>x</THINK><ANSWER>a</ANSWER>", 0.0),
        ("<think>x</think> so <answer>a</answer>", 0.0),
        ("<think>x<answer>a</answer>", 0.0),
        ("", 0.0),
    ],
)
def test_external_math_format_is_the_released_pattern(text, expected):
    assert released_format_rewards([text]) == [expected]


# --------------------------------------------------------------------------- distance


def test_answer_at_the_true_coordinates_scores_one():
    paris = geo.resolve("France", "Paris")
    assert distance_rewards([answer("France", "Paris")], lat=[paris.lat], lon=[paris.lon]) == [1.0]


def test_distance_reward_is_exp_of_minus_km_over_tau():
    london, paris = geo.resolve("United Kingdom", "London"), geo.resolve("France", "Paris")
    km = geo.distance_km(london, paris)
    assert 330 < km < 360
    [reward] = distance_rewards([answer("UK", "London")], lat=[paris.lat], lon=[paris.lon])
    assert reward == pytest.approx(math.exp(-km / DEFAULT_TAU_KM), rel=1e-12)
    [sharper] = distance_rewards([answer("UK", "London")], lat=[paris.lat], lon=[paris.lon], tau_km=100.0)
    assert sharper == pytest.approx(math.exp(-km / 100.0), rel=1e-12)


COUNTRY_ONLY = "<think>French road signs.</think><answer>country: France</answer>"


def test_country_level_floor_is_200_km():
    assert COUNTRY_LEVEL_FLOOR_KM == 200.0


def test_country_only_answer_counts_as_at_least_200_km_off():
    paris, france = geo.resolve("France", "Paris"), geo.resolve("France", None)
    assert france.level == "country"
    km = geo.distance_km(france, paris)
    [reward] = distance_rewards([COUNTRY_ONLY], lat=[paris.lat], lon=[paris.lon])
    assert reward == pytest.approx(math.exp(-max(km, COUNTRY_LEVEL_FLOOR_KM) / DEFAULT_TAU_KM), rel=1e-12)


def test_country_only_answer_is_capped_even_for_a_photo_at_the_country_point():
    """Without the cap this scores 1.0: the best a country-only answer can get is exp(-200 / tau)."""
    france = geo.resolve("France", None)
    for tau in (DEFAULT_TAU_KM, 100.0):
        [reward] = distance_rewards([COUNTRY_ONLY], lat=[france.lat], lon=[france.lon], tau_km=tau)
        assert reward == pytest.approx(math.exp(-200.0 / tau), rel=1e-12)


@pytest.mark.parametrize("where", ["country point", "Paris"])
def test_made_up_city_in_a_real_country_gets_the_country_level_cap(where):
    assert geo.resolve("France", "Qwertyville").level == "country"
    truth = geo.resolve("France", None) if where == "country point" else geo.resolve("France", "Paris")
    made_up, country_only = distance_rewards([answer("France", "Qwertyville"), COUNTRY_ONLY],
                                             lat=[truth.lat] * 2, lon=[truth.lon] * 2)
    km = geo.distance_km(geo.resolve("France", None), truth)
    assert made_up == country_only == pytest.approx(math.exp(-max(km, 200.0) / DEFAULT_TAU_KM), rel=1e-12)


def test_floors_by_level():
    assert [level_floor_km(level) for level in ("city", "country", "region", "island", "landmark")] == [
        0.0, COUNTRY_LEVEL_FLOOR_KM, REGION_LEVEL_FLOOR_KM, REGION_LEVEL_FLOOR_KM, REGION_LEVEL_FLOOR_KM]
    assert 25.0 < REGION_LEVEL_FLOOR_KM < COUNTRY_LEVEL_FLOOR_KM


def test_a_region_answer_is_scored_from_its_point_with_the_region_floor(monkeypatch):
    from globe import scoring

    sicily = geo.Place(name="Sicily", country_code="IT", lat=37.6, lon=14.0, level="region", confidence=0.9)
    real = scoring.resolve_place
    monkeypatch.setattr(scoring, "resolve_place",
                        lambda country, city: sicily if city == "Sicily" else real(country, city))
    palermo = geo.resolve("Italy", "Palermo")
    far = (37.6, 14.0 + 400 / 88.0)  # ~400 km east of the region's point
    region, right_city = distance_rewards([answer("Italy", "Sicily"), answer("Italy", "Palermo")],
                                          lat=[palermo.lat] * 2, lon=[palermo.lon] * 2)
    km = geo.distance_km((palermo.lat, palermo.lon), (sicily.lat, sicily.lon))
    assert region == pytest.approx(math.exp(-max(km, REGION_LEVEL_FLOOR_KM) / DEFAULT_TAU_KM), rel=1e-12)
    assert right_city == 1.0 > region  # naming the region never beats the right city
    [at_the_point] = distance_rewards([answer("Italy", "Sicily")], lat=[sicily.lat], lon=[sicily.lon])
    assert at_the_point == pytest.approx(math.exp(-REGION_LEVEL_FLOOR_KM / DEFAULT_TAU_KM), rel=1e-12)
    [far_photo] = distance_rewards([answer("Italy", "Sicily")], lat=[far[0]], lon=[far[1]])
    assert far_photo == pytest.approx(math.exp(-geo.distance_km(far, (37.6, 14.0)) / DEFAULT_TAU_KM), rel=1e-12)


def test_a_region_answer_earns_country_credit_only():
    from globe import scoring

    sicily = geo.Place(name="Sicily", country_code="IT", lat=37.6, lon=14.0, level="island", confidence=0.9)
    assert not scoring.is_city(sicily.level)
    assert accuracy_rewards([answer("Italy", "Qwertyville")], solution=["Italy\tPalermo"]) == [0.2]


def test_real_city_50_km_off_is_not_capped_and_beats_any_country_only_answer():
    paris, fontainebleau = geo.resolve("France", "Paris"), geo.resolve("France", "Fontainebleau")
    assert fontainebleau.level == "city"
    km = geo.distance_km(fontainebleau, paris)
    assert 40 < km < 70
    [reward] = distance_rewards([answer("France", "Fontainebleau")], lat=[paris.lat], lon=[paris.lon])
    assert reward == pytest.approx(math.exp(-km / DEFAULT_TAU_KM), rel=1e-12)
    assert reward > math.exp(-COUNTRY_LEVEL_FLOOR_KM / DEFAULT_TAU_KM)


@pytest.mark.parametrize(
    "text, lat, lon",
    [
        (answer("Atlantis", "Poseidonia"), 48.85, 2.35),  # does not resolve
        ("<think>no idea</think>", 48.85, 2.35),  # no answer
        (answer("France", "Paris"), float("nan"), 2.35),
        (answer("France", "Paris"), None, 2.35),
        (answer("France", "Paris"), 91.0, 2.35),
        (answer("France", "Paris"), "north", 2.35),
    ],
)
def test_unresolvable_answers_or_bad_coordinates_score_zero(text, lat, lon):
    assert distance_rewards([text], lat=[lat], lon=[lon]) == [0.0]


def distance_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "globe.rewards" and r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    "lats, lons, columns",
    [
        ([None] * 4, [None] * 4, "the `lat` and `lon` columns are empty"),
        ([""] * 4, [float("nan")] * 4, "the `lat` and `lon` columns are empty"),
        ([None] * 4, [2.35] * 4, "the `lat` column is empty"),
    ],
)
def test_empty_coordinate_columns_log_one_warning_per_batch(caplog, lats, lons, columns):
    caplog.set_level(logging.WARNING, logger="globe.rewards")
    assert distance_rewards([answer("France", "Paris")] * 4, lat=lats, lon=lons) == [0.0] * 4
    [message] = distance_warnings(caplog)
    assert message.startswith(f"distance reward: {columns} in all 4 rows of this batch, so every distance reward is 0")


def test_partly_filled_coordinates_do_not_warn(caplog):
    caplog.set_level(logging.WARNING, logger="globe.rewards")
    paris = geo.resolve("France", "Paris")
    rewards = distance_rewards([answer("France", "Paris")] * 2, lat=[None, paris.lat], lon=[None, paris.lon])
    assert rewards == [0.0, 1.0]
    assert distance_warnings(caplog) == []


def test_distance_needs_coordinates_and_a_positive_tau():
    with pytest.raises(ValueError, match="`lat` and `lon` columns"):
        distance_rewards([answer("France", "Paris")])
    with pytest.raises(ValueError, match="tau_km must be a positive"):
        distance_rewards([answer("France", "Paris")], lat=[0.0], lon=[0.0], tau_km=0)


# --------------------------------------------------------------------------- locatability scoring rule


def test_p_yes_over_p_yes_plus_p_no():
    logprobs = {"yes": math.log(0.6), "no": math.log(0.2), "The": math.log(0.1)}
    assert locatability_reward_from_logprobs(logprobs) == pytest.approx(0.75, abs=1e-12)


def test_case_and_leading_space_variants_are_summed():
    logprobs = {"yes": math.log(0.3), "Yes": math.log(0.2), " YES": math.log(0.1),
                "\u0120no": math.log(0.1), "\u2581No": math.log(0.05), "NO": math.log(0.05)}
    assert locatability_reward_from_logprobs(logprobs) == pytest.approx(0.6 / 0.8, abs=1e-12)


def test_only_yes_or_only_no_is_one_or_zero():
    assert locatability_reward_from_logprobs({"Yes": -0.01, "Maybe": -3.0}) == 1.0
    assert locatability_reward_from_logprobs({"no": -0.01}) == 0.0


@pytest.mark.parametrize("logprobs", [{}, None, {"yesterday": -0.1, "nope": -1.0}, {"yes": float("-inf")}])
def test_neither_yes_nor_no_is_none(logprobs):
    assert locatability_reward_from_logprobs(logprobs) is None


# --------------------------------------------------------------------------- registry


def test_every_reward_name_says_what_it_gives_and_an_alias_names_a_reward():
    assert {"globe_accuracy", "globe_locatability", "globe_visual_match", "globe_format"} <= set(REWARDS)
    for name, reward in REWARDS.items():
        assert reward.value, name
        assert reward.alias_of is None or REWARDS[reward.alias_of].alias_of is None, name


def test_the_reward_table_has_one_row_per_reward_and_its_aliases_on_that_row():
    rows = reward_table().splitlines()[2:]
    assert len(rows) == sum(reward.alias_of is None for reward in REWARDS.values())
    assert any(row.startswith("| `globe_locatability` (alias `globe_locatablity`) |") for row in rows)
