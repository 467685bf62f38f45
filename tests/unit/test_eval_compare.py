"""`globe-eval compare`: runs beside the published results of their test set, and the threshold rule."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from globe.eval.cli import main as eval_main
from globe.eval.compare import PUBLISHED_THRESHOLDS_KM, load_published, load_run
from globe.eval.metrics import counts_within, summarize
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _summary(path: Path, dataset: str, accuracies: tuple[float, ...], **more) -> Path:
    summary = {"n": 10, "dataset": dataset, "geoscore": 2500.0, "threshold_rule": "le",
               **{f"acc_{t:g}km": a for t, a in zip(PUBLISHED_THRESHOLDS_KM, accuracies)}, **more}
    path.write_text(json.dumps(summary))
    return path


def test_the_shipped_table_names_a_source_and_check_level_for_every_row():
    rows = load_published()
    assert rows and all(row.source and row.checked in ("no", "secondary", "paper") for row in rows)
    globe = {row.dataset: [row.accuracies[t] for t in PUBLISHED_THRESHOLDS_KM] for row in rows if row.label == "GLOBE"}
    assert globe == {"im2gps3k": [9.84, 40.18, 56.19, 71.45, 82.38],
                     "mp16-reason-test-12k": [17.99, 62.85, 73.83, 86.68, 92.52]}
    for row in rows:  # accuracy never falls as the threshold widens
        values = [row.accuracies[t] for t in PUBLISHED_THRESHOLDS_KM if row.accuracies[t] is not None]
        assert values == sorted(values), row.label


def test_two_runs_of_one_set_print_beside_its_published_rows_with_sources(tmp_path, capsys):
    a = _summary(tmp_path / "a.json", "yfcc4k", (0.1, 0.2, 0.3, 0.5, 0.7))
    b = _summary(tmp_path / "b.json", "yfcc4k", (0.12, 0.25, 0.35, 0.55, 0.75), threshold_rule="lt")
    assert eval_main(["compare", str(a), str(b), "--labels", "base,tuned"]) == 0
    out = capsys.readouterr().out
    assert "test set: yfcc4k" in out
    assert "| base | 10.00 | 20.00 | 30.00 | 50.00 | 70.00 | 2500 | d <= t | this run (n=10) | - |" in out
    assert "| tuned | 12.00 | 25.00 | 35.00 | 55.00 | 75.00 | 2500 | d < t | this run (n=10) | - |" in out
    assert "| G3 | 23.99 | 35.89 | 46.98 | 64.26 | 78.15 | - | d < t | Jia et al., G3, NeurIPS 2024, Table 1 | no |" in out
    assert "| PlaNet | 5.60 | 14.30 | 22.20 | 36.40 | 55.80 | - | ? |" in out
    assert "IM2GPS3K" not in out and "9.84" not in out  # only the runs' own set
    png = tmp_path / "a.compare.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and f"wrote {png}" in out


def test_runs_of_different_sets_are_refused_naming_both(tmp_path, capsys):
    a = _summary(tmp_path / "a.json", "im2gps3k", (0.1, 0.2, 0.3, 0.5, 0.7))
    b = _summary(tmp_path / "b.json", "img2gps3k", (0.1, 0.2, 0.3, 0.5, 0.7))  # the released alias: same set
    c = _summary(tmp_path / "c.json", "yfcc26k", (0.1, 0.2, 0.3, 0.5, 0.7))
    assert eval_main(["compare", str(a), str(b), "--no-plot"]) == 0
    capsys.readouterr()
    assert eval_main(["compare", str(a), str(b), str(c), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "different test sets" in err and "'im2gps3k'" in err and "'yfcc26k'" in err and str(c) in err


def test_a_run_on_a_file_of_its_own_needs_the_set_named(tmp_path, capsys):
    run = _summary(tmp_path / "mine.json", "/data/my_gt.csv", (0.1, 0.2, 0.3, 0.5, 0.7))
    assert eval_main(["compare", str(run), "--no-plot"]) == 2
    assert "--dataset NAME" in capsys.readouterr().err
    assert eval_main(["compare", str(run), "--no-plot", "--dataset", "im2gps"]) == 0
    assert "Translocator" in capsys.readouterr().out
    assert eval_main(["compare", str(tmp_path / "missing.json"), "--no-plot"]) == 2
    assert "no such run summary" in capsys.readouterr().err


def test_latex_output_and_an_explicit_plot_path(tmp_path, capsys):
    run = _summary(tmp_path / "run.json", "im2gps3k", (0.1, 0.2, 0.3, 0.5, 0.7))
    plot = tmp_path / "figs" / "curves.png"
    plot.parent.mkdir()
    assert eval_main(["compare", str(run), "--latex", "--plot", str(plot), "--labels", "GLOBE_repro"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\\begin{tabular}{lrrrrrr}") and "\\bottomrule" in out
    assert "GLOBE\\_repro (ours) & 10.00 & 20.00 & 30.00 & 50.00 & 70.00 & 2500 \\\\" in out
    assert "GLOBE & 9.84 & 40.18 & 56.19 & 71.45 & 82.38 & - \\\\  % Li et al." in out
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_a_run_with_other_thresholds_adds_its_columns(tmp_path):
    run = _summary(tmp_path / "run.json", "yfcc4k", (0.1, 0.2, 0.3, 0.5, 0.7), acc_5km=0.15,
                   thresholds_km=[1, 5, 25, 200, 750, 2500])
    result = load_run(run)
    assert sorted(result.accuracies) == [1, 5, 25, 200, 750, 2500] and result.accuracies[5] == pytest.approx(15.0)


@pytest.mark.parametrize("rule, expected", [("le", True), ("lt", False)])
def test_the_threshold_rule_decides_a_distance_exactly_on_the_threshold(rule, expected):
    assert counts_within(25.0, 25, rule=rule) is expected
    assert counts_within(24.999, 25, rule=rule) is True and counts_within(25.001, 25, rule=rule) is False
    with pytest.raises(ValueError, match="threshold rule 'lte'"):
        counts_within(1.0, 25, rule="lte")


def test_the_summary_records_its_rule_and_counts_by_it():
    rows = [{"status": "ok", "error_km": e, "pred_country": "France", "pred_city": "Paris", "pred_level": "city",
             "gt_country": "France", "gt_city": "Paris"} for e in (1.0, 25.0, 200.0, 3000.0)]
    le, lt = summarize(rows), summarize(rows, threshold_rule="lt")
    assert (le["threshold_rule"], lt["threshold_rule"]) == ("le", "lt") and le["thresholds_km"] == [1, 25, 200, 750, 2500]
    assert [le[f"acc_{t}km"] for t in (1, 25, 200, 750)] == [0.25, 0.5, 0.75, 0.75]
    assert [lt[f"acc_{t}km"] for t in (1, 25, 200, 750)] == [0.0, 0.25, 0.5, 0.75]


def test_run_and_score_take_the_rule_and_score_keeps_the_runs_test_set(tmp_path):
    gt_file, images, answers = write_scripted_eval_set(tmp_path, [
        ("a.jpg", 48.85341, 2.3488, "France", "Paris", "<answer>country: France\ncity: Paris</answer>")])
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        assert eval_main(["--url", server.url, "--gt-file", str(gt_file), "--image-root", str(images), "--output",
                          str(output), "--quiet", "--no-plots", "--threshold-rule", "lt"]) == 0
    assert json.loads(output.with_suffix(".json").read_text())["threshold_rule"] == "lt"
    assert eval_main(["score", str(output), "--no-plots", "--dataset", "im2gps"]) == 0
    summary = json.loads(output.with_suffix(".json").read_text())
    assert (summary["threshold_rule"], summary["dataset"]) == ("le", "im2gps")
    with open(output, newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 1


def test_score_measures_the_error_on_a_sphere_when_asked_as_osv5m_does(tmp_path):
    gt_file, images, answers = write_scripted_eval_set(tmp_path, [
        ("t.jpg", 35.6895, 139.69171, "Japan", "Tokyo", "<answer>country: Japan\ncity: Osaka</answer>")])
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        assert eval_main(["--url", server.url, "--gt-file", str(gt_file), "--image-root", str(images), "--output",
                          str(output), "--quiet", "--no-plots"]) == 0
    geodesic = json.loads(output.with_suffix(".json").read_text())
    assert eval_main(["score", str(output), "--no-plots", "--distance", "haversine"]) == 0
    sphere = json.loads(output.with_suffix(".json").read_text())
    assert (geodesic["distance"], sphere["distance"]) == ("geodesic", "haversine")
    assert sphere["median_km"] != geodesic["median_km"]
    assert sphere["median_km"] == pytest.approx(geodesic["median_km"], rel=5e-3)


# -- cases beyond two fresh runs of one set --

def test_a_summary_from_before_the_rule_was_recorded_compares_under_the_rule_globe_then_used(tmp_path, capsys):
    old = tmp_path / "old.json"  # no thresholds_km, no threshold_rule, no geoscore: an older GLOBE summary
    old.write_text(json.dumps({"n": 2997, "dataset": "im2gps3k", "acc_1km": 0.1, "acc_25km": 0.35, "acc_200km": 0.5,
                               "acc_750km": 0.68, "acc_2500km": 0.8, "country_acc": 0.7}))
    run = load_run(old)
    assert run.accuracies == {1.0: 10.0, 25.0: 35.0, 200.0: 50.0, 750.0: 68.0, 2500.0: 80.0}
    assert run.threshold_rule == "le" and "not recorded" in run.note and run.geoscore is None
    assert eval_main(["compare", str(old), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "| old | 10.00 | 35.00 | 50.00 | 68.00 | 80.00 | - | d <= t | this run (n=2997) | - |" in out
    assert "- old: threshold rule not recorded" in out


def test_a_set_without_published_rows_prints_the_runs_alone_and_says_so(tmp_path, capsys):
    published = tmp_path / "published.csv"
    published.write_text("method,dataset,acc_1km,acc_25km,acc_200km,acc_750km,acc_2500km,geoscore,source,table,"
                         "checked,rule,note\nX,im2gps3k,1,2,3,4,5,,Someone 2020,Table 1,no,,\n")
    a = _summary(tmp_path / "a.json", "osv5m-test-mini-3k", (0.1, 0.2, 0.3, 0.5, 0.7))
    b = _summary(tmp_path / "b.json", "osv5m-test-mini-3k", (0.2, 0.3, 0.4, 0.6, 0.8))
    assert eval_main(["compare", str(a), str(b), "--published", str(published)]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in table] == ["| method", "| a", "| b"]
    assert "no published rows for osv5m-test-mini-3k" in out
    assert (tmp_path / "a.compare.png").read_bytes()[:8] == PNG_MAGIC
    assert eval_main(["compare", str(a), "--latex", "--no-plot", "--published", str(published)]) == 0
    latex = capsys.readouterr().out
    assert "\\midrule\na (ours)" in latex and "% no published rows for osv5m-test-mini-3k" in latex


def test_colliding_labels_are_told_apart_or_refused(tmp_path, capsys):
    (tmp_path / "base").mkdir()
    (tmp_path / "tuned").mkdir()
    a = _summary(tmp_path / "base" / "summary.json", "yfcc4k", (0.1, 0.2, 0.3, 0.5, 0.7))
    b = _summary(tmp_path / "tuned" / "summary.json", "yfcc4k", (0.2, 0.3, 0.4, 0.6, 0.8))
    assert eval_main(["compare", str(a), str(b), "--no-plot"]) == 0
    rows = [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[1:3] == ["| base/summary", "| tuned/summary"]
    assert eval_main(["compare", str(a), str(a), "--no-plot"]) == 0  # the same file twice
    rows = [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[1:3] == ["| summary", "| summary #2"]
    assert eval_main(["compare", str(a), str(b), "--no-plot", "--labels", "mine,mine"]) == 2
    assert "--labels names 'mine' more than once" in capsys.readouterr().err
    # A run named like a published method never reads as the paper's line.
    assert eval_main(["compare", str(a), "--no-plot", "--labels", "G3"]) == 0
    out = capsys.readouterr().out
    assert "| G3 (run) | 10.00 |" in out and "| G3 | 23.99 |" in out


@pytest.mark.parametrize(("content", "name", "message"), [
    ("[1, 2, 3]", "list.json", "a JSON list without the row count 'n'"),
    ('{"model": "m", "dataset": "im2gps3k"}', "out.run.json", "pass its summary out.json"),
    ('{"image_id": "1"}\n{"image_id": "2"}\n', "preds.jsonl", "not a JSON run summary"),
    ("gt_index,pred\n0,Paris\n", "out.csv", "not a JSON run summary"),
    ('{"n": 3, "dataset": "im2gps3k"}', "counts.json", "without accuracies"),
    ('{"n": 3, "dataset": "im2gps3k", "acc_1km": 9.84}', "percent.json", "acc_1km=9.84 is not a fraction"),
])
def test_a_file_that_is_not_a_run_summary_is_refused_saying_what_to_pass(tmp_path, capsys, content, name, message):
    path = tmp_path / name
    path.write_text(content)
    assert eval_main(["compare", str(path), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_an_osv5m_test_run_stands_beside_the_osv5m_paper_geoscore_only(tmp_path, capsys):
    run = _summary(tmp_path / "osv.json", "osv5m-test", (0.01, 0.1, 0.3, 0.6, 0.8), distance="haversine")
    assert eval_main(["compare", str(run)]) == 0  # the plot skips a row without accuracies
    out = capsys.readouterr().out
    assert "| OSV-5M baseline (Astruc et al.) | - | - | - | - | - | 3361 | ? | Astruc et al., OpenStreetView-5M" in out
    assert all(0 <= row.geoscore <= 5000 for row in load_published() if row.geoscore is not None)
