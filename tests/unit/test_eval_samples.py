"""Several samples per image: requests (with and without ``n``), consensus rows, top-k and agreement metrics.

The scripted server hands out each image's answers in order (``FakeOpenAIServer`` scripts), so the
expected numbers below are worked out by hand from the scripts and GeoNames' coordinates.
"""
from __future__ import annotations

import asyncio
import json

import pytest

from globe.eval.data import load_ground_truth
from globe.eval.metrics import agreement_bin, summarize
from globe.eval.runner import (
    EvalSettings, RESULT_COLUMNS, SAMPLE_COLUMNS, load_results, read_output_rows, run_eval_with_server,
)
from globe.eval.score import scored_rows
from globe.geo import distance_km, resolve
from globe.prompts import geo_prompt
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

PARIS = (48.85341, 2.3488)  # GeoNames' Paris: a "Paris" answer is 0 km away
GARBLED = "I cannot tell."


def _answer(country: str, city: str) -> str:
    return f"<think>Clues.</think><answer>country: {country}\ncity: {city}</answer>"


P, V, LON, B, T, LY = (_answer("France", "Paris"), _answer("France", "Versailles"), _answer("United Kingdom", "London"),
                       _answer("Germany", "Berlin"), _answer("Japan", "Tokyo"), _answer("France", "Lyon"))
SCRIPTS = {
    # Paris+Versailles (2 votes, first at 0) tie London (2, first at 2): Paris wins; agreement 0.4.
    "tie.jpg": [P, V, LON, GARBLED, LON],
    # Berlin 2 (first at 1), Tokyo 1 (at 0), Paris 1 (at 2): top-1 Berlin, Paris only in the top 3.
    "topk.jpg": [T, B, P, B, GARBLED],
    "garbled.jpg": [GARBLED] * 5,  # no vote at all: no_answer, agreement 0
    "lyon.jpg": [LY] * 5,  # unanimous, 392 km away
}


def _settings(**overrides) -> EvalSettings:
    values = dict(prompt=geo_prompt(True), concurrency=1, timeout=5.0, retries=0, backoff=0.01, max_tokens=64,
                  temperature=0.7, samples=5)
    values.update(overrides)
    return EvalSettings(**values)


@pytest.fixture()
def sample_set(tmp_path):
    rows = [(name, *PARIS, "France", "Paris", script) for name, script in SCRIPTS.items()]
    gt_file, images, answers = write_scripted_eval_set(tmp_path, rows)
    return gt_file, images, answers


def _run(gt, output, server, **settings):
    return asyncio.run(run_eval_with_server(gt, output, server.url, _settings(**settings), resolve, progress=False))


def _summary(output, gt):
    return summarize(scored_rows(load_results(output, indices=[row.index for row in gt.rows]), resolver=resolve))


def test_the_hand_computed_places_are_as_assumed():
    assert distance_km(PARIS, resolve("France", "Versailles")) < 25
    assert 200 < distance_km(PARIS, resolve("United Kingdom", "London")) < 750
    assert 750 < distance_km(PARIS, resolve("Germany", "Berlin")) < 2500
    assert 200 < distance_km(PARIS, resolve("France", "Lyon")) < 750


@pytest.mark.parametrize("n_support, requests", [("honour", 4), ("ignore", 1 + 4 + 3 * 5), ("reject", 1 + 5 + 3 * 5)])
def test_consensus_and_top_k_metrics_whatever_the_server_does_with_n(sample_set, tmp_path, n_support, requests):
    gt_file, images, answers = sample_set
    gt = load_ground_truth(gt_file, images)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers, n_support=n_support) as server:
        stats, _ = _run(gt, output, server)
        sent = server.requests
    assert len(sent) == requests
    assert sent[0]["n"] == 5 and all("n" not in request for request in sent[1:] if n_support != "honour")
    assert stats.status_counts == {"ok": 3, "no_answer": 1}
    s = _summary(output, gt)
    assert s["n"] == 4 and s["n_samples"] == 5 and s["n_samples_placed"] == 4 + 4 + 0 + 5
    # Headline = top-ranked place: tie -> Paris (0 km), topk -> Berlin, garbled -> nothing, lyon -> Lyon.
    assert [s[f"acc_{d}km"] for d in (1, 25, 200, 750, 2500)] == [1 / 4, 1 / 4, 1 / 4, 2 / 4, 3 / 4]
    assert [s[f"top1_acc_{d}km"] for d in (1, 25, 200, 750, 2500)] == [1 / 4, 1 / 4, 1 / 4, 2 / 4, 3 / 4]
    assert [s[f"top3_acc_{d}km"] for d in (1, 25, 200, 750, 2500)] == [2 / 4, 2 / 4, 2 / 4, 3 / 4, 3 / 4]
    assert [s[f"top5_acc_{d}km"] for d in (1, 25, 200, 750, 2500)] == [2 / 4, 2 / 4, 2 / 4, 3 / 4, 3 / 4]
    assert (s["country_acc"], s["city_acc"]) == (2 / 4, 1 / 4)
    assert s["agreement_mean"] == pytest.approx((0.4 + 0.4 + 0 + 1) / 4)
    assert {label: (b["n"], b["acc_25km"], b["acc_750km"]) for label, b in s["by_agreement"].items()} == {
        "0": (1, 0.0, 0.0), "(0.2, 0.4]": (2, 0.5, 0.5), "(0.8, 1]": (1, 0.0, 1.0)}


def test_every_sample_is_kept_in_the_predictions_file(sample_set, tmp_path):
    gt_file, images, answers = sample_set
    gt = load_ground_truth(gt_file, images)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        _run(gt, output, server)
    header, rows, _ = read_output_rows(output)
    assert header == ["IMG_ID", "LAT", "LON", "country", "city"] + RESULT_COLUMNS + SAMPLE_COLUMNS
    tie = {row["IMG_ID"]: row for row in rows}["tie.jpg"]
    samples = json.loads(tie["samples"])
    assert [sample["text"] for sample in samples] == SCRIPTS["tie.jpg"]
    assert [(sample["city"], sample["status"]) for sample in samples] == [
        ("Paris", "ok"), ("Versailles", "ok"), ("London", "ok"), (None, "no_answer"), ("London", "ok")]
    assert (samples[1]["lat"], samples[1]["lon"]) == resolve("France", "Versailles").latlon
    assert (tie["pred_city"], tie["prediction"], tie["n_samples"], tie["agreement"]) == ("Paris", P, "5", "0.4")
    garbled = {row["IMG_ID"]: row for row in rows}["garbled.jpg"]
    assert (garbled["status"], garbled["agreement"], garbled["pred_lat"]) == ("no_answer", "0.0", "")


def test_unresolvable_samples_get_no_vote_and_the_row_says_unresolved(tmp_path):
    script = [_answer("Atlantis", "Zzyzxqq"), GARBLED]
    gt_file, images, answers = write_scripted_eval_set(tmp_path, [("a.jpg", *PARIS, "France", "Paris", script)])
    gt = load_ground_truth(gt_file, images)
    with FakeOpenAIServer(answers=answers) as server:
        stats, _ = _run(gt, tmp_path / "out.csv", server, samples=2)
    assert stats.status_counts == {"unresolved": 1}
    s = _summary(tmp_path / "out.csv", gt)
    assert (s["n_samples"], s["agreement_mean"], s["top1_acc_2500km"]) == (2, 0.0, 0.0)
    assert "top3_acc_25km" not in s  # k <= samples only


def test_resume_is_per_image_and_never_duplicates(sample_set, tmp_path):
    gt_file, images, answers = sample_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        _run(load_ground_truth(gt_file, images, limit=2), output, server)
        stats, _ = _run(load_ground_truth(gt_file, images), output, server)
        sent = len(server.requests)
    assert (stats.n_already_done, stats.n_done_now, sent) == (2, 2, 4)
    _, rows, _ = read_output_rows(output)
    assert sorted(int(row["gt_index"]) for row in rows) == [0, 1, 2, 3]


def test_a_failed_request_fails_the_image_which_a_resume_redoes_whole(sample_set, tmp_path):
    gt_file, images, answers = sample_set
    gt = load_ground_truth(gt_file, images)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers, n_support="ignore", error_rate=1.0) as server:
        stats, _ = _run(gt, output, server)
    assert stats.status_counts == {"http_500": 4}
    with FakeOpenAIServer(answers=answers, n_support="ignore") as server:
        stats, _ = _run(gt, output, server)
    assert (stats.n_redone, stats.status_counts) == (4, {"ok": 3, "no_answer": 1})
    assert _summary(output, gt)["top3_acc_25km"] == 2 / 4


def test_a_resume_with_another_sample_count_is_refused(sample_set, tmp_path):
    from globe.eval.fingerprint import RunSettingsMismatch

    gt_file, images, answers = sample_set
    gt = load_ground_truth(gt_file, images, limit=1)
    with FakeOpenAIServer(answers=answers) as server:
        _run(gt, tmp_path / "out.csv", server)
        with pytest.raises(RunSettingsMismatch, match="--samples: 5 -> 3"):
            _run(gt, tmp_path / "out.csv", server, samples=3)


def test_one_sample_sends_no_n_and_writes_the_single_answer_columns(sample_set, tmp_path):
    gt_file, images, answers = sample_set
    gt = load_ground_truth(gt_file, images)
    with FakeOpenAIServer(answers=answers) as server:
        _run(gt, tmp_path / "out.csv", server, samples=1)
        assert all("n" not in request for request in server.requests) and len(server.requests) == 4
    header, rows, _ = read_output_rows(tmp_path / "out.csv")
    assert header == ["IMG_ID", "LAT", "LON", "country", "city"] + RESULT_COLUMNS
    s = _summary(tmp_path / "out.csv", gt)
    assert "n_samples" not in s and "top1_acc_25km" not in s and "by_agreement" not in s
    assert s["acc_25km"] == 1 / 4 and s["acc_2500km"] == 2 / 4  # first sample: Paris, Tokyo, nothing, Lyon


@pytest.mark.parametrize("agreement, label", [(0.0, "0"), (0.2, "(0, 0.2]"), (0.25, "(0.2, 0.4]"), (0.4, "(0.2, 0.4]"),
                                              (3 / 5, "(0.4, 0.6]"), (6 / 10, "(0.4, 0.6]"), (1.0, "(0.8, 1]")])
def test_agreement_bins_are_closed_on_the_right(agreement, label):
    assert agreement_bin(agreement) == label


def test_rescoring_a_sampled_run_reproduces_its_summary(sample_set, tmp_path):
    from globe.eval.cli import main

    gt_file, images, answers = sample_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        assert main(["--url", server.url, "--gt-file", str(gt_file), "--image-root", str(images), "--output",
                     str(output), "--quiet", "--no-plots", "--samples", "5", "--temperature", "0.7"]) == 0
    run = json.loads(output.with_suffix(".json").read_text())
    assert main(["score", str(output), "--no-plots", "--summary", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    keys = [key for key in run if key.startswith(("acc_", "top", "agreement", "by_agreement", "country_acc", "n_samples"))]
    assert len(keys) > 20 and {key: again[key] for key in keys} == {key: run[key] for key in keys}
