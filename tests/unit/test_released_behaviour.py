"""The released variants behave as the released code does, checked against oracles on generated inputs.

:mod:`released_oracle` restates each released rule (rewards, RM verdict reading, the eval's field
extraction and string accuracy); GLOBE's released variants must agree with it on every one of a
few thousand generated completions (tags present, missing, doubled, out of order, any case,
unicode, empty entity lists and strings, text before ``<think>``, no ``</think>``) and on the hand
cases of issue 22. The fidelity test at the end reads the reward names the released launchers
pass to ``--reward_funcs`` and demands, for each, that the ORM ms-swift builds from that name
scores the corpus as the released reward would: a launcher naming a reward that behaves
differently fails here, whatever its name.
"""
from __future__ import annotations

import itertools
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import released_oracle as oracle  # tests/unit is on sys.path
from globe.answers import released_answer_fields, released_verdict_probability, verdict_probability
from globe.rewards import (
    released_accuracy_rewards,
    released_format_rewards,
    released_visual_match_reward,
    released_visual_match_rewards,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER_DIR = REPO_ROOT / "examples" / "train" / "grpo" / "globe"
PLUGIN_FILE = REPO_ROOT / "globe" / "plugin.py"
CORPUS_SIZE = 4000


@pytest.fixture(scope="module")
def corpus() -> dict[str, list]:
    rng = random.Random(22)
    pairs = [oracle.answered(rng) if rng.random() < 0.3 else (oracle.completion(rng), oracle.solution(rng))
             for _ in range(CORPUS_SIZE)]
    return {
        "completions": [text for text, _ in pairs],
        "entities": [oracle.entity_list(rng) for _ in range(CORPUS_SIZE)],
        "solutions": [solution for _, solution in pairs],
    }


def mismatches(ours: list, theirs: list, inputs: list) -> list:
    return [(case, mine, released) for case, mine, released in zip(inputs, ours, theirs) if mine != released][:5]


# --------------------------------------------------------------------------- the generator covers the cases


def test_the_corpus_holds_the_shapes_that_tell_the_rules_apart(corpus):
    texts = corpus["completions"]
    assert sum("</think>" not in text and "<think>" in text for text in texts) > 100
    assert sum(text.count("<answer>") > 1 for text in texts) > 50
    assert sum(text.find("</think>") > text.find("<answer>") >= 0 for text in texts) > 30
    assert sum(not text.startswith("<think>") and "<think>" in text for text in texts) > 200
    assert sum(entities == [] for entities in corpus["entities"]) > 500
    assert sum("" in entities for entities in corpus["entities"]) > 100
    scores = [oracle.visual_match(t, e) for t, e in zip(texts, corpus["entities"])]
    assert len(set(scores)) > 5 and sum(0 < s < 1 for s in scores) > 300
    accuracies = [oracle.accuracy(t, s) for t, s in zip(texts, corpus["solutions"])]
    assert {0.0, 0.2, 1.0} <= set(accuracies)
    assert 0 < sum(map(oracle.think_format, texts)) < len(texts)


# --------------------------------------------------------------------------- rewards


def test_visual_match_released_equals_the_released_rule_on_the_corpus(corpus):
    texts, entities = corpus["completions"], corpus["entities"]
    rows = [[{"text": text} for text in row] for row in entities]  # the dataset's shape
    ours = released_visual_match_rewards(texts, entities=rows)
    theirs = [oracle.visual_match(text, row) for text, row in zip(texts, entities)]
    assert mismatches(ours, theirs, list(zip(texts, entities))) == []


def test_accuracy_released_equals_the_released_rule_on_the_corpus(corpus):
    texts, solutions = corpus["completions"], corpus["solutions"]
    ours = released_accuracy_rewards(texts, solution=solutions)
    theirs = [oracle.accuracy(text, sol) for text, sol in zip(texts, solutions)]
    assert mismatches(ours, theirs, list(zip(texts, solutions))) == []


def test_external_math_format_equals_the_released_rule_on_the_corpus(corpus):
    texts = corpus["completions"]
    assert mismatches(released_format_rewards(texts), [oracle.think_format(t) for t in texts], texts) == []


@pytest.mark.parametrize("text, entities, expected", [
    ("I see a bus.<think>palm</think>", ["Bus", "palm tree"], 0.5),  # text before <think> counts
    ("<think>a red roof<answer>country: France</answer>", ["France"], 1.0),  # no </think>: the answer is searched
    ("<think>business district</think>", ["bus"], 1.0),  # a plain substring, no word boundary
    ("<think>buses</think>", ["Bus", "bus", "BUS"], 1.0),  # one distinct entity after lower-casing
    ("<think>nothing</think>", ["", "tower"], 0.5),  # an empty entity string is always found
    ("<think>anything</think>", [], 0.0),  # no entities: 0.0
    ("<think>zurich</think>", ["Zürich"], 0.0),  # no diacritic folding
    ("<think>a</think> palm tree", ["palm tree"], 0.0),  # after the first </think>: not searched
    ("<think>x</think><think>palm tree</think>", ["palm tree"], 0.0),
    ("<THINK>y</THINK>", ["think"], 1.0),  # only the exact "<think>" is removed
    ("<think>STRASSE</think>", ["Straße"], 0.0),  # str.lower, not casefold
])
def test_visual_match_released_hand_cases(text, entities, expected):
    assert released_visual_match_reward(text, entities) == expected == oracle.visual_match(text, entities)


def test_visual_match_released_reads_the_column_shapes_and_refuses_an_entity_without_text():
    texts = ["<think>a bus</think>"] * 3
    assert released_visual_match_rewards(texts, entities=['[{"text": "bus"}]', ["bus", "car"], None]) == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError, match=r"row 1's entity .*fix the dataset's entities column"):
        released_visual_match_rewards(texts[:2], entities=[[{"text": "bus"}], [{"text": None}]])
    with pytest.raises(ValueError, match="needs an `entities` column"):
        released_visual_match_rewards(texts)


# --------------------------------------------------------------------------- locatability verdict


def test_released_verdict_reading_equals_the_released_rule_on_generated_logprobs():
    rng = random.Random(7)
    cases = [oracle.top_logprobs(rng) for _ in range(CORPUS_SIZE)]
    ours = [released_verdict_probability(entries) for entries in cases]
    # None means "no yes/no token": the released reward's 0.0 under GLOBE_RM_NO_VERDICT=zero (its value)
    assert mismatches([0.0 if value is None else value for value in ours], [oracle.verdict(e) for e in cases],
                      cases) == []


def test_released_verdict_sums_repeats_and_ignores_marked_tokens_unlike_globe_reading():
    entries = [("yes", -1.0), ("yes", -1.0), (" yes", -0.1), ("Ġno", -0.2), ("no", -2.0)]
    assert released_verdict_probability(entries) == oracle.verdict(entries)
    two_yes, one_no = 2 * math.exp(-1.0), math.exp(-2.0)
    assert released_verdict_probability(entries) == pytest.approx(two_yes / (two_yes + one_no), abs=1e-15)
    assert verdict_probability(dict(reversed(entries))) != released_verdict_probability(entries)
    assert released_verdict_probability([(" yes", -0.1), ("maybe", -0.5)]) is None


# --------------------------------------------------------------------------- eval extraction


@pytest.mark.parametrize("use_cot", [True, False])
def test_released_eval_extraction_equals_the_released_rule_on_the_corpus(corpus, use_cot):
    texts = corpus["completions"]
    ours = [released_answer_fields(text, use_cot=use_cot) for text in texts]
    assert mismatches(ours, [oracle.eval_fields(text, use_cot) for text in texts], texts) == []


def test_direct_prompt_answers_are_read_from_the_first_field_anywhere():
    text = "country: Spain\ncity: Madrid\n<answer>country: France\ncity: Paris</answer>"
    assert released_answer_fields(text, use_cot=False) == ("spain", "madrid")
    assert released_answer_fields(text, use_cot=True) == ("france", "paris")


# --------------------------------------------------------------------------- fidelity of the launchers


def released_reward_names(script: str) -> tuple[list[str], str]:
    """``(names, how)``: the ``--reward_funcs`` words of a launcher's RECIPE=released command.

    Read from the script's own ``--reward_funcs`` line; when that line is absent or uses shell
    variables, from the command ``DRY_RUN=1 bash script`` prints. ``how`` says which: the one
    expected failure below applies only to launchers without the flag in their text (those
    before engineer i24a's rewrite), so once the flag is in a script every name must pass.
    """
    text = (LAUNCHER_DIR / f"{script}.sh").read_text()
    line = re.search(r"^\s*--reward_funcs[ \t]+([^\n]*?)\s*\\?$", text, re.MULTILINE)
    if line and "$" not in line.group(1):
        return line.group(1).split(), "script"
    how = "dry run" if line else "dry run of a launcher without the flag"  # the latter: before i24a's rewrite
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "DRY_RUN": "1", "RECIPE": "released",
           "PYTHONPATH": str(REPO_ROOT), "HOME": str(Path.home())}
    printed = subprocess.run(["bash", str(LAUNCHER_DIR / f"{script}.sh")], env=env, capture_output=True,
                             text=True, timeout=60, cwd=REPO_ROOT)
    assert printed.returncode == 0, printed.stderr
    words = printed.stdout.replace("\\\n", " ").split()
    assert "--reward_funcs" in words, f"{script}.sh printed no --reward_funcs:\n{printed.stdout}"
    names = list(itertools.takewhile(lambda word: not word.startswith("--"), words[words.index("--reward_funcs") + 1:]))
    return names, how


REWARD_LAUNCHERS = ["train_one_reward", "train_two_rewards", "train_all_rewards"]
LAUNCHER_REWARDS = [(script, name, how) for script in REWARD_LAUNCHERS
                    for names, how in [released_reward_names(script)] for name in names]
LOCATABILITY_NAMES = {"globe_locatablity", "globe_locatability"}


def fidelity_case(script: str, name: str, how: str):
    marks = []
    if name == "globe_visual_match" and how == "dry run of a launcher without the flag":
        marks.append(pytest.mark.xfail(strict=True, reason=(
            "the launchers still name GLOBE's globe_visual_match under RECIPE=released; engineer i24a's rewrite "
            "of the launchers names globe_visual_match_released there (the flag then appears in the script)")))
    return pytest.param(script, name, id=f"{script}-{name}", marks=marks)


@pytest.fixture(scope="module")
def orms():
    """The plugin loaded with ms-swift's own loader (as ``--external_plugins`` does)."""
    from swift.rewards import orms as registry
    from swift.utils import import_external_file

    saved = list(sys.path)
    try:
        import_external_file(str(PLUGIN_FILE))
    finally:
        sys.path[:] = saved
    return registry


def test_the_released_launchers_name_rewards(corpus):
    assert {script for script, _, _ in LAUNCHER_REWARDS} == set(REWARD_LAUNCHERS)


@pytest.mark.parametrize("script, name", [fidelity_case(*case) for case in LAUNCHER_REWARDS])
def test_each_reward_a_released_launcher_names_behaves_as_the_released_one(script, name, corpus, orms):
    texts, entities, solutions = corpus["completions"], corpus["entities"], corpus["solutions"]
    if name in LOCATABILITY_NAMES:
        from globe.locatability import LocatabilityConfig

        config = LocatabilityConfig.from_env(env={"GLOBE_RM_URL": "http://127.0.0.1:9/v1"})
        assert (config.verdict, config.no_verdict, config.fallback, config.input) == ("released", "zero", 0.0,
                                                                                      "completion")
        assert (config.temperature, config.max_tokens, config.top_logprobs) == (0.6, 5, 5)
        return  # the verdict rule itself: test_released_verdict_reading_equals_the_released_rule...
    released = {
        "globe_accuracy": lambda: [oracle.accuracy(t, s) for t, s in zip(texts, solutions)],
        "globe_visual_match": lambda: [oracle.visual_match(t, e) for t, e in zip(texts, entities)],
        "external_math_format": lambda: [oracle.think_format(t) for t in texts],
    }
    released_name = name.removesuffix("_released")  # our released variants carry the released name + suffix
    assert released_name in released, f"{script}.sh names {name!r}, which is not one of the released rewards"
    reward = orms[name](args=None)
    ours = reward(texts, solution=solutions, entities=[[{"text": text} for text in row] for row in entities])
    assert mismatches(ours, released[released_name](), texts) == [], (
        f"{script}.sh (RECIPE=released) names {name!r}, whose scores differ from the released {released_name!r}")


@pytest.mark.parametrize("variable, expected", [
    (None, oracle.verdict([("yes", -1.0), ("yes", -1.0), (" yes", -0.1), ("NO", -0.7), ("\u0120no", -0.2)])),
    ("released", oracle.verdict([("yes", -1.0), ("yes", -1.0), (" yes", -0.1), ("NO", -0.7), ("\u0120no", -0.2)])),
    ("globe", (math.exp(-1.0) + math.exp(-0.1)) / (math.exp(-1.0) + math.exp(-0.1) + math.exp(-0.7) + math.exp(-0.2))),
])
def test_locatability_reads_the_served_verdict_by_GLOBE_RM_VERDICT(variable, expected):
    """The whole path: the RM's listed entries (a repeat, marked tokens) through the client to the reward."""
    import asyncio

    from globe.locatability import LocatabilityScorer
    from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg

    entries = [{"token": token, "logprob": logprob}
               for token, logprob in [("yes", -1.0), ("yes", -1.0), (" yes", -0.1), ("NO", -0.7), ("\u0120no", -0.2)]]
    env = {} if variable is None else {"GLOBE_RM_VERDICT": variable}
    with FakeOpenAIServer(default_answer="yes", raw_top_logprobs=entries) as server:
        scorer = LocatabilityScorer(url=server.url, env=env, timeout=5.0)
        rewards = asyncio.run(scorer.score(["<think>a tram</think>"], [[{"bytes": marked_jpeg("A"), "path": None}]]))
    assert rewards == [pytest.approx(expected, abs=1e-15)]


def test_an_unknown_verdict_reading_is_an_error_naming_the_variable():
    from globe.locatability import LocatabilityConfig

    with pytest.raises(ValueError, match="GLOBE_RM_VERDICT must be released or globe"):
        LocatabilityConfig.from_env(env={"GLOBE_RM_URL": "http://127.0.0.1:9/v1", "GLOBE_RM_VERDICT": "wide"})


@pytest.mark.parametrize("use_cot", [True, False])
def test_released_string_accuracy_equals_the_released_eval_on_generated_ground_truth(corpus, use_cot):
    """Rows kept or skipped, truth cells as written (codes, blanks, missing columns), each reading of the answer."""
    from globe.eval.metrics import released_string_accuracies, released_truth_cells

    rng = random.Random(5)
    n_kept = 0
    for start in range(0, CORPUS_SIZE, 50):  # many small files: each its own denominator
        texts = corpus["completions"][start:start + 50]
        truth = [oracle.ground_truth_row(rng) for _ in texts]
        rows = [{**row, "released_truth": released_truth_cells(row), "prediction": text, "status": "ok"}
                for row, text in zip(truth, texts)]
        ours = released_string_accuracies(rows, use_cot)
        kept = sum(map(oracle.kept_by_released_eval, truth))
        n_kept += kept
        assert ours["n_string_rows"] == kept
        if kept:
            assert (ours["country_acc_string"], ours["city_acc_string"]) == oracle.string_accuracies(truth, texts,
                                                                                                        use_cot)
        else:
            assert ours["country_acc_string"] is None
    assert 0.2 * CORPUS_SIZE < n_kept < 0.8 * CORPUS_SIZE  # both kept and skipped rows were generated


def test_a_failed_request_is_an_empty_answer_in_the_released_denominator():
    from globe.eval.metrics import released_string_accuracies, released_truth_cells

    truth = [{"IMG_ID": "a.jpg", "LAT": "1", "LON": "2", "country": "France", "city": "Paris"}] * 2
    texts = ["<answer>country: France\ncity: Paris</answer>"] * 2
    rows = [{**row, "released_truth": released_truth_cells(row), "prediction": text, "status": status}
            for row, text, status in zip(truth, texts, ["ok", "timeout"])]
    assert released_string_accuracies(rows, True) == {"country_acc_string": 0.5, "city_acc_string": 0.5,
                                                      "n_string_rows": 2}
