"""Property tests: whatever a model writes, every reward returns one float in [0, 1] per completion."""
from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from globe.rewards import (
    accuracy_rewards,
    distance_rewards,
    format_rewards,
    locatability_reward_from_logprobs,
    released_accuracy_rewards,
    released_format_rewards,
    visual_match_rewards,
)

# Derandomized: the same examples every run, so `make test` time is stable (a random 100 kB
# example can hit globe.answers' slowest paths); set derandomize=False locally to explore.
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)

TAG_PIECES = ["<think>", "</think>", "<answer>", "</answer>", "<THINK>", "<country>", "</city>", "country:",
              "city:", "**Country:**", "\n", " ", "\t", "France", "Paris", "東京", "Zürich", "[country name]", "é"]

# Text stitched from tag fragments and arbitrary unicode: nested, unclosed and repeated tags.
tagged_text = st.lists(st.one_of(st.sampled_from(TAG_PIECES), st.text(max_size=20)), max_size=40).map("".join)
# Up to ~25 kB at random (a random chunk repeated); the explicit examples below are 100 kB.
huge_text = st.tuples(tagged_text, st.integers(min_value=1, max_value=1000)).map(
    lambda pair: (pair[0] or "<think>")[:25] * pair[1]
)
completion = st.one_of(st.none(), st.text(), tagged_text, huge_text)
completions = st.lists(completion, max_size=6)

HUGE_NESTED = "<think>" * 12_000 + "</think><answer>" * 1_000  # 100 kB of nested, unclosed tags
HUGE_ANSWERS = ("<answer>country: France\ncity: Paris</answer>" * 2_500)[:100_000]
HUGE_UNICODE = ("Zürich 東京 \u202e\U0001f600 country: ?\n" * 4_000)[:100_000]


def assert_rewards(rewards, n):
    assert isinstance(rewards, list) and len(rewards) == n
    for reward in rewards:
        assert isinstance(reward, float) and 0.0 <= reward <= 1.0


@SETTINGS
@given(completions, st.data())
@example([HUGE_NESTED, HUGE_ANSWERS, HUGE_UNICODE, None], None)
def test_accuracy_is_a_float_in_unit_interval(texts, data):
    n = len(texts)
    solutions = data.draw(st.lists(st.one_of(st.none(), st.text(max_size=40), tagged_text), min_size=n, max_size=n)) \
        if data is not None else ["France\tParis"] * n
    assert_rewards(accuracy_rewards(texts, solution=solutions), n)


@SETTINGS
@given(completions, st.data())
@example([HUGE_NESTED, HUGE_ANSWERS, HUGE_UNICODE, None], None)
def test_visual_match_is_a_float_in_unit_interval(texts, data):
    n = len(texts)
    entity = st.one_of(st.text(max_size=15), st.fixed_dictionaries({"text": st.text(max_size=15)}))
    cell = st.one_of(st.none(), st.text(max_size=30), st.lists(entity, max_size=5))
    rows = data.draw(st.lists(cell, min_size=n, max_size=n)) if data is not None else [["bus", "Paris"]] * n
    assert_rewards(visual_match_rewards(texts, entities=rows), n)


@SETTINGS
@given(completions)
@example([HUGE_NESTED, HUGE_ANSWERS, HUGE_UNICODE, None])
def test_format_is_a_float_in_unit_interval(texts):
    assert_rewards(format_rewards(texts), len(texts))


@SETTINGS
@given(completions)
@example([HUGE_NESTED, HUGE_ANSWERS, HUGE_UNICODE, None])
def test_released_rewards_are_floats_in_unit_interval(texts):
    assert_rewards(released_format_rewards(texts), len(texts))
    assert_rewards(released_accuracy_rewards(texts, solution=["France\tParis"] * len(texts)), len(texts))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(tagged_text, st.sampled_from(["France\tParis", "Nigeria\tLagos", "United States\tNew York", "\t", "Japan\t"]))
def test_released_accuracy_agrees_with_the_released_regexes(text, solution):
    """The released reward as it was written (regex search, lengths before lower-casing), line by line."""
    import re

    from globe.rewards import released_accuracy_reward

    block = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
    region = block.group(1).strip() if block else ""
    found = {key: re.search(key + r":\s*([^\n]+)", region) for key in ("country", "city")}
    pred = {key: m.group(1).strip().lower() if m else "" for key, m in found.items()}
    truth = dict(zip(("country", "city"), solution.split("\t")))

    def same(a, b):
        la, lb = len(a), len(b)
        a, b = a.lower(), b.lower()
        return la > 0 and ((a in b and la / lb >= 0.7) or (b in a and lb / la >= 0.7))

    expected = (1.0 if same(pred["city"], truth["city"]) else 0.2) if same(pred["country"], truth["country"]) else 0.0
    assert released_accuracy_reward(text, truth["country"], truth["city"]) == expected


@settings(max_examples=200, deadline=None, derandomize=True)
@given(tagged_text)
def test_released_format_agrees_with_the_released_pattern(text):
    import re

    pattern = r"^<think>.*?</think>\s*<answer>.*?</answer>(?![\s\S])"
    assert released_format_rewards([text]) == [1.0 if re.match(pattern, text, re.DOTALL | re.MULTILINE) else 0.0]


@SETTINGS
@given(completions, st.data())
@example([HUGE_NESTED, HUGE_ANSWERS, HUGE_UNICODE, None], None)
def test_distance_is_a_float_in_unit_interval(texts, data):
    n = len(texts)
    coordinate = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5))
    if data is not None:
        lats = data.draw(st.lists(coordinate, min_size=n, max_size=n))
        lons = data.draw(st.lists(coordinate, min_size=n, max_size=n))
    else:
        lats, lons = [48.85] * n, [2.35] * n
    assert_rewards(distance_rewards(texts, lat=lats, lon=lons), n)


@SETTINGS
@given(st.dictionaries(
    st.one_of(st.sampled_from(["yes", " Yes", "\u0120YES", "no", "\u2581No", "NO", "maybe"]), st.text(max_size=6)),
    st.floats(allow_nan=True, allow_infinity=True),
    max_size=8,
))
def test_locatability_rule_is_none_or_in_unit_interval(logprobs):
    reward = locatability_reward_from_logprobs(logprobs)
    assert reward is None or (isinstance(reward, float) and 0.0 <= reward <= 1.0 and not math.isnan(reward))


WORDY = st.text(alphabet=st.sampled_from(list("abes -.'\u2019東京塔é_Z1\u00df\n")), max_size=12)


def contains_as_words(entity: str, text: str) -> bool:
    """The specification: the entity's tokens appear consecutively among the text's tokens, the last
    one possibly with a plural "s"/"es" added when it ends in a letter."""
    from globe.rewards import normalize_for_match

    wanted, tokens = normalize_for_match(entity).split(), normalize_for_match(text).split()
    if not wanted:
        return False
    *head, last = wanted
    endings = {last, last + "s", last + "es"} if "a" <= last[-1] <= "z" else {last}
    k = len(wanted)
    return any(tokens[i : i + k - 1] == head and tokens[i + k - 1] in endings for i in range(len(tokens) - k + 1))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(WORDY, WORDY)
@example("bus", "buses")
@example("bus", "business")
@example("bus", "abuse")
@example("peter's", "peters")
def test_entity_regex_agrees_with_token_containment(entity, text):
    """The fast per-entity regex finds exactly what whole-token matching on normalised text finds."""
    from globe.rewards import _entity_pattern, _fold

    pattern = _entity_pattern(entity)
    assert (pattern is not None and pattern.search(_fold(text)) is not None) == contains_as_words(entity, text)
