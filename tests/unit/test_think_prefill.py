"""A completion scores and reads the same whatever think prefill the family's template wrote before it.

ms-swift 4.x returns the template's prefill at the front of every completion (see
``globe/families.py``). For each family and thinking setting, the model's own text is built the
way that family's SFT target teaches it (:func:`globe.prompts.format_answer` with the prefill) and
scored as ``prefill + what the model wrote``; the reference is the same reasoning and answer
written with both tags and no prefill (Qwen2.5-VL's case).
"""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from globe.answers import model_text, parse_answer, think_text, verdict_from_text
from globe.families import EMPTY_THINK_BLOCK, FAMILIES, OPEN_THINK, parse_enable_thinking, sft_prefill
from globe.locatability import rm_input_text
from globe.prompts import format_answer
from globe.rewards import (
    accuracy_rewards,
    format_rewards,
    released_accuracy_rewards,
    released_format_rewards,
    visual_match_rewards,
)

PREFILLS = sorted({family.prefill(thinking) for family in FAMILIES.values() for thinking in (None, True, False)})
ENTITIES = ["Eiffel Tower", "red double-decker bus", "palm tree", "Cyrillic sign", "tram", "mosque"]
PLACES = [("France", "Paris"), ("United Kingdom", "London"), ("Japan", "Tokyo"), ("Russia", "Moscow")]


def reasoning_texts(seed: int, n: int) -> list[str]:
    """Seeded reasoning: entities among filler words, sometimes over several lines."""
    rng = random.Random(seed)
    words = ["the", "street", "shows", "a", "and", "near", "roof", "sky", "signs", "in", "light", "with"]
    texts = []
    for _ in range(n):
        parts = [rng.choice(words) for _ in range(rng.randint(1, 12))]
        for entity in rng.sample(ENTITIES, rng.randint(0, 3)):
            parts.insert(rng.randint(0, len(parts)), entity)
        sep = rng.choice([" ", "\n", ". "])
        texts.append(sep.join(parts))
    return texts


def scored(completions: list[str], country: str, city: str) -> dict[str, list[float]]:
    n = len(completions)
    return {
        "format": format_rewards(completions),
        "accuracy": accuracy_rewards(completions, solution=[f"{country}\t{city}"] * n),
        "visual": visual_match_rewards(completions, entities=[[{"text": e} for e in ENTITIES]] * n),
    }


def test_the_families_prefill_what_ms_swift_4_6_prefills() -> None:
    assert PREFILLS == ["", OPEN_THINK, EMPTY_THINK_BLOCK]
    assert FAMILIES["qwen3_5"].prefill() == "<think>\n\n</think>\n\n"
    assert FAMILIES["qwen3_5"].prefill(True) == "<think>\n"
    assert FAMILIES["qwen3_vl"].prefill() == "" and FAMILIES["qwen3_vl"].prefill(True) == "<think>\n"
    assert FAMILIES["qwen2_5_vl"].prefill(True) == ""


@pytest.mark.parametrize("prefill", PREFILLS)
@pytest.mark.parametrize("seed", range(4))
def test_a_completion_after_a_prefill_scores_as_the_same_text_with_both_tags(prefill: str, seed: int) -> None:
    country, city = PLACES[seed % len(PLACES)]
    reasonings = reasoning_texts(seed, 25)
    written = [format_answer(country, city, r, prefill) for r in reasonings]  # what SFT teaches, prefill first
    reference = [format_answer(country, city, r) for r in reasonings]
    assert all(text.startswith(prefill) for text in written)
    assert scored(written, country, city) == scored(reference, country, city)
    assert [think_text(t) for t in written] == [think_text(t) for t in reference]
    assert all(score == 1.0 for score in scored(written, country, city)["format"])


@settings(max_examples=200, deadline=None)
@given(
    prefill=st.sampled_from(["<think>\n\n</think>\n\n", "<think>\n", "<think></think>", " <THINK>\n\n</Think>\n"]),
    reasoning=st.text(st.characters(blacklist_characters="<>"), max_size=80),
    answer=st.sampled_from(["country: France\ncity: Paris", "country: Japan\ncity: Tokyo", "city: Rome"]),
)
def test_the_models_own_think_block_after_a_prefill_reads_as_if_no_prefill(prefill: str, reasoning: str,
                                                                           answer: str) -> None:
    own = f"<think>{reasoning}</think><answer>{answer}</answer>"
    completion = prefill + own
    assert model_text(completion) == own
    assert parse_answer(completion) == parse_answer(own)
    assert think_text(completion) == think_text(own)
    assert format_rewards([completion]) == format_rewards([own])
    truth = ["France\tParis"]
    assert accuracy_rewards([completion], solution=truth) == accuracy_rewards([own], solution=truth)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_text_without_a_prefill_before_an_own_think_block_is_read_unchanged(text: str) -> None:
    text = text.replace("<", "(")  # texts that cannot hold the prefill shape (no tag at all)
    assert model_text(text) == text
    assert model_text("<think>\n" + text) == "<think>\n" + text


def test_an_empty_prefill_followed_by_a_direct_answer_is_an_empty_reasoning() -> None:
    """Qwen3.5 with thinking off answering at once: as if the model wrote <think></think> itself."""
    text = EMPTY_THINK_BLOCK + "<answer>country: France\ncity: Paris</answer>"
    assert model_text(text) == text
    assert format_rewards([text]) == format_rewards(["<think></think><answer>country: France\ncity: Paris</answer>"])
    assert think_text(text) == ""
    assert visual_match_rewards([text], entities=[[{"text": "Eiffel Tower"}]]) == [0.0]


def test_the_released_rewards_read_the_raw_text() -> None:
    """RECIPE=released keeps the released code's behaviour: no prefill handling there."""
    own = "<think>Eiffel Tower</think><answer>country: France\ncity: Paris</answer>"
    raw = "<think>\n<think>Eiffel Tower</think><answer>country: France\ncity: Paris</answer>"
    assert released_format_rewards([own, raw, "Eiffel Tower</think><answer>country: France\ncity: Paris</answer>"]) == [
        1.0, 1.0, 0.0]  # the released lazy pattern accepts a doubled opening tag, as released
    assert released_accuracy_rewards([raw], solution=["France\tParis"]) == [1.0]
    assert rm_input_text(raw) == raw  # the released RM request sends the completion as it came
    assert rm_input_text(EMPTY_THINK_BLOCK + own, "reasoning") == "Eiffel Tower"


def test_a_verdict_after_an_empty_think_prefill_is_read() -> None:
    assert verdict_from_text(EMPTY_THINK_BLOCK + "yes") == 1.0
    assert verdict_from_text("<think>It shows a sign.</think>\nNo.") == 0.0
    assert verdict_from_text("<think>unclosed yes") is None
    assert verdict_from_text("Yes") == 1.0


@pytest.mark.parametrize(("family", "thinking", "expected"), [
    ("qwen2_5_vl", None, "<think>R</think><answer>country: France\ncity: Paris</answer>"),
    ("qwen3_5", None, "<think>\n\n</think>\n\n<think>R</think><answer>country: France\ncity: Paris</answer>"),
    ("qwen3_5", "true", "<think>\nR</think><answer>country: France\ncity: Paris</answer>"),
    ("qwen3_vl", "true", "<think>\nR</think><answer>country: France\ncity: Paris</answer>"),
    ("qwen3_vl", "false", "<think>R</think><answer>country: France\ncity: Paris</answer>"),
])
def test_sft_targets_start_with_the_prefill_of_the_family_served(family: str, thinking: str | None,
                                                                 expected: str) -> None:
    env = {"MODEL_FAMILY": family, **({"ENABLE_THINKING": thinking} if thinking else {})}
    assert format_answer("France", "Paris", " R ", sft_prefill(env)) == expected


def test_sft_prefill_names_a_bad_setting() -> None:
    with pytest.raises(ValueError, match="MODEL_FAMILY 'qwen9'"):
        sft_prefill({"MODEL_FAMILY": "qwen9"})
    with pytest.raises(ValueError, match="ENABLE_THINKING='maybe'"):
        parse_enable_thinking("maybe")
    assert sft_prefill({}) == ""
