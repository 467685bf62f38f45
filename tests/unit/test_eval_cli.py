"""Specification of the globe-eval / globe-infer commands and of rescoring (`globe-eval score`)."""
from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from globe import REPO_ROOT
from globe.eval.cli import build_run_parser, main
from globe.eval.infer import main as infer_main
from globe.geo import distance_km, resolve
from globe.prompts import RELEASED_EVAL_COT_PROMPT, RELEASED_EVAL_DIRECT_PROMPT
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

CORE_KEYS = ("n", "n_failed", "country_acc", "city_acc", "country_acc_string", "city_acc_string", "acc_1km",
             "acc_25km", "acc_200km", "acc_750km", "acc_2500km", "median_km", "geoscore", "by_continent", "by_country")
ROWS = [
    ("a.jpg", 48.85341, 2.3488, "France", "Paris", "<answer>country: France\ncity: Paris</answer>"),
    ("b.jpg", 35.6895, 139.69171, "Japan", "Tokyo", "<answer>country: Japan\ncity: Osaka</answer>"),
    ("c.jpg", 40.71427, -74.00597, "United States", "New York City", "<answer>country: USA\ncity: NYC</answer>"),
    ("d.jpg", -33.86785, 151.20732, "Australia", "Sydney", "no idea"),
]


@pytest.fixture()
def scripted(tmp_path):
    return write_scripted_eval_set(tmp_path, ROWS)


def _eval(url: str, gt_file: Path, images: Path, output: Path, *extra: str) -> int:
    return main(["--url", url, "--gt-file", str(gt_file), "--image-root", str(images), "--output", str(output),
                 "--quiet", "--no-plots", *extra])


def test_both_option_spellings_are_accepted():
    dashed = build_run_parser().parse_args(["--use-cot", "--gt-file", "g", "--image-root", "i", "--max-tokens", "9",
                                            "--api-key", "k", "--output", "o"])
    underscored = build_run_parser().parse_args(["--use_cot", "--gt_file", "g", "--image_root", "i", "--max_tokens", "9",
                                                 "--api_key", "k", "--output", "o"])
    assert vars(dashed) == vars(underscored)
    assert dashed.use_cot is True and dashed.max_tokens == 9 and dashed.geocoder == "offline"
    assert build_run_parser().parse_args(["--output", "o"]).use_cot is False


def test_run_writes_csv_and_summary(scripted, tmp_path, capsys):
    gt_file, images, answers = scripted
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers, model="served") as server:
        assert _eval(server.url, gt_file, images, output, "--use_cot") == 0
        assert server.requests[0]["model"] == "served"
    summary = json.loads(output.with_suffix(".json").read_text())
    assert summary["n"] == 4 and summary["model"] == "served" and summary["use_cot"] is True
    assert summary["country_acc"] == 0.75 and summary["city_acc"] == 0.5
    assert summary["country_acc_string"] == 0.5  # "USA" is not "United States" by the released rule
    assert summary["acc_1km"] == 0.5 and summary["acc_750km"] == 0.75
    printed = capsys.readouterr().out
    assert "4 rows evaluated now" in printed and "GeoScore" in printed


def test_api_key_from_environment(scripted, tmp_path, monkeypatch):
    gt_file, images, answers = scripted
    monkeypatch.setenv("GLOBE_API_KEY", "sk-globe")
    with FakeOpenAIServer(answers=answers) as server:
        _eval(server.url, gt_file, images, tmp_path / "out.csv", "--limit", "1")
        assert server.authorizations == ["Bearer sk-globe"]


def test_score_subcommand_reproduces_the_run_summary(scripted, tmp_path):
    gt_file, images, answers = scripted
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        _eval(server.url, gt_file, images, output)
    run_summary = json.loads(output.with_suffix(".json").read_text())
    output.with_suffix(".json").unlink()
    assert main(["score", str(output), "--no-plots"]) == 0
    rescored = json.loads(output.with_suffix(".json").read_text())
    assert {key: rescored[key] for key in CORE_KEYS} == {key: run_summary[key] for key in CORE_KEYS}


def test_score_reads_the_released_eval_output(tmp_path):
    released = tmp_path / "released.csv"
    with open(released, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["IMG_ID", "LAT", "LON", "city", "country", "prediction", "pred_city", "pred_country",
                         "pred_LAT", "pred_LON"])
        writer.writerow(["a.jpg", 48.85341, 2.3488, "Paris", "France",
                         json.dumps({"data": "<think>x</think><answer>country: france\ncity: paris</answer>"}),
                         "paris", "france", "", ""])
        writer.writerow(["b.jpg", 40.71427, -74.00597, "New York City", "United States",
                         json.dumps({"data": "country: usa\ncity: new york"}), "new york", "usa", "", ""])
        writer.writerow(["c.jpg", 35.6895, 139.69171, "Tokyo", "Japan", json.dumps({"data": ""}), "", "", "", ""])
    assert main(["score", str(released), "--no-plots"]) == 0
    summary = json.loads(released.with_suffix(".json").read_text())
    assert summary["n"] == 3 and summary["n_failed"] == 1
    assert summary["status_counts"] == {"no_prediction": 1, "ok": 2}
    assert summary["country_acc"] == 2 / 3 and summary["country_acc_string"] == 1 / 3
    assert summary["acc_1km"] == 2 / 3 and summary["acc_2500km"] == 2 / 3  # "new york" resolves to NYC


def test_score_uses_given_coordinates_unless_reresolve(tmp_path):
    third_party = tmp_path / "preds.csv"
    third_party.write_text("id,latitude,longitude,country,city,pred_country,pred_city,pred_lat,pred_lon\n"
                           "1,48.85341,2.3488,France,Paris,France,Paris,48.0,2.0\n")
    assert main(["score", str(third_party), "--no-plots"]) == 0
    given = json.loads(third_party.with_suffix(".json").read_text())
    assert given["median_km"] == pytest.approx(distance_km((48.85341, 2.3488), (48.0, 2.0)))
    assert main(["score", str(third_party), "--no-plots", "--reresolve"]) == 0
    assert json.loads(third_party.with_suffix(".json").read_text())["median_km"] == 0.0


def test_score_writes_plots(scripted, tmp_path):
    gt_file, images, answers = scripted
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        _eval(server.url, gt_file, images, output)
    assert main(["score", str(output)]) == 0
    for name in ("out.error_cdf.png", "out.error_map.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["--output", "o.csv", "--dataset", "im2gps3k"], "--url is required"),
    (["--url", "http://127.0.0.1:9/v1", "--output", "o.csv"], "pass --dataset NAME or --gt-file"),
    (["--url", "http://127.0.0.1:9/v1", "--output", "o.csv", "--gt-file", "g.csv"], "needs --image-root"),
    (["--url", "http://127.0.0.1:9/v1", "--output", "o.csv", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["--url", "http://127.0.0.1:9/v1", "--output", "o.csv", "--dataset", "im2gps3k", "--data-root", "/nonexistent"],
     "ground-truth file not found"),
    (["score", "/nonexistent/out.csv"], "predictions CSV not found"),
])
def test_bad_invocations_exit_2_with_a_clear_message(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("GLOBE_EVAL_URL", raising=False)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unreachable_server_fails_fast(scripted, tmp_path, capsys):
    gt_file, images, _ = scripted
    assert _eval("http://127.0.0.1:9/v1", gt_file, images, tmp_path / "out.csv", "--retries", "0") == 2
    assert "cannot list models at http://127.0.0.1:9/v1/models" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_infer_streams_the_answer_and_reports_timings(scripted, capsys):
    _, images, answers = scripted
    with FakeOpenAIServer(answers=answers) as server:
        assert infer_main([str(images / "c.jpg"), "--url", server.url]) == 0
        assert server.requests[0]["stream"] is True
    captured = capsys.readouterr()
    assert captured.out == "<answer>country: USA\ncity: NYC</answer>\n"
    assert "answer: country='USA' city='NYC'" in captured.err
    assert "place: New York City, United States" in captured.err
    assert "TTFT:" in captured.err and "total:" in captured.err


def test_entry_point_script_runs_the_cli():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "examples/train/grpo/globe/eval.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--use-cot, --use_cot" in result.stdout and "--geocoder" in result.stdout


def test_online_geocoder_without_configuration_is_a_clear_error(scripted, tmp_path, capsys, monkeypatch):
    gt_file, images, _ = scripted
    monkeypatch.delenv("GLOBE_NOMINATIM_USER_AGENT", raising=False)
    assert _eval("http://127.0.0.1:9/v1", gt_file, images, tmp_path / "out.csv", "--geocoder", "nominatim") == 2
    assert "GLOBE_NOMINATIM_USER_AGENT" in capsys.readouterr().err


@pytest.mark.parametrize("dataset", ["mp16-reason-test-12k", "im2gps3k", "osv5m-test-mini-3k"])
def test_named_datasets_read_the_bundled_sample_layout(dataset, tmp_path):
    sample = REPO_ROOT / "data" / "sample"
    if not sample.is_dir():
        pytest.skip("data/sample is not built (python -m globe.data sample)")
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(default_answer="country: France\ncity: Paris") as server:
        assert main(["--url", server.url, "--dataset", dataset, "--data-root", str(sample), "--output", str(output),
                     "--quiet", "--no-plots"]) == 0
    summary = json.loads(output.with_suffix(".json").read_text())
    with open(sample / {"mp16-reason-test-12k": "mp16-reason-test-12k.csv", "im2gps3k": "img2gps3k_gt.csv",
                        "osv5m-test-mini-3k": "test_mini.csv"}[dataset], encoding="utf-8") as handle:
        n_rows = sum(1 for _ in csv.DictReader(handle))
    assert summary["n"] == n_rows and summary["n_failed"] == 0 and summary["status_counts"] == {"ok": n_rows}


#: Digests of the released eval.py's PROMPT_COT / PROMPT_NO_COT: an edit to either constant fails here.
RELEASED_COT_SHA256_16 = "340b48895d958df2"
RELEASED_DIRECT_SHA256_16 = "50f08ad6dd533540"


def test_released_settings_reproduce_the_released_request(scripted, tmp_path):
    gt_file, images, answers = scripted
    with FakeOpenAIServer(answers=answers) as server:
        _eval(server.url, gt_file, images, tmp_path / "out.csv", "--limit", "1", "--released-settings",
              "--max-tokens", "300")
        request = server.requests[0]
    assert request["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert (request["temperature"], request["frequency_penalty"], request["presence_penalty"]) == (0.1, 0.7, 0.7)
    assert request["max_tokens"] == 300  # an explicit option wins
    [text_part] = [part for part in request["messages"][1]["content"] if part.get("type") == "text"]
    assert text_part["text"] == RELEASED_EVAL_DIRECT_PROMPT


def test_released_settings_send_the_released_cot_prompt_byte_for_byte(scripted, tmp_path):
    gt_file, images, answers = scripted
    with FakeOpenAIServer(answers=answers) as server:
        _eval(server.url, gt_file, images, tmp_path / "out.csv", "--limit", "1", "--released-settings", "--use-cot")
        request = server.requests[0]
    [text_part] = [part for part in request["messages"][1]["content"] if part.get("type") == "text"]
    assert text_part["text"] == RELEASED_EVAL_COT_PROMPT
    assert hashlib.sha256(RELEASED_EVAL_COT_PROMPT.encode()).hexdigest()[:16] == RELEASED_COT_SHA256_16
    assert hashlib.sha256(RELEASED_EVAL_DIRECT_PROMPT.encode()).hexdigest()[:16] == RELEASED_DIRECT_SHA256_16


SAMPLED = {
    "a.jpg": ["<answer>country: France\ncity: Lyon</answer>", "<answer>country: France\ncity: Paris</answer>",
              "<answer>country: France\ncity: Paris</answer>"],
    "b.jpg": ["<answer>country: Japan\ncity: Tokyo</answer>", "no idea", "<answer>country: Japan\ncity: Osaka</answer>"],
    "c.jpg": ["<answer>country: USA\ncity: NYC</answer>"] * 3,
    "d.jpg": ["no idea"] * 3,
}


def test_samples_with_released_settings_report_consensus_top_k_and_agreement(tmp_path, capsys):
    rows = [(name, lat, lon, country, city, SAMPLED[name]) for name, lat, lon, country, city, _ in ROWS]
    gt_file, images, answers = write_scripted_eval_set(tmp_path, rows)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        assert main(["--url", server.url, "--gt-file", str(gt_file), "--image-root", str(images), "--output",
                     str(output), "--quiet", "--samples", "3", "--released-settings"]) == 0
        request = server.requests[0]
    assert (request["n"], request["temperature"], request["frequency_penalty"]) == (3, 0.1, 0.7)
    summary = json.loads(output.with_suffix(".json").read_text())
    # a: Paris 2 votes (first at 1) beats Lyon 1; b: Tokyo, Osaka 1 each -> Tokyo (first); c: NYC 3; d: none.
    assert (summary["n"], summary["n_samples"], summary["acc_25km"], summary["top1_acc_25km"]) == (4, 3, 0.75, 0.75)
    assert summary["top3_acc_25km"] == 0.75 and "top5_acc_25km" not in summary
    assert summary["agreement_mean"] == pytest.approx((2 / 3 + 1 / 3 + 1 + 0) / 4)
    assert {label: group["n"] for label, group in summary["by_agreement"].items()} == {
        "0": 1, "(0.2, 0.4]": 1, "(0.6, 0.8]": 1, "(0.8, 1]": 1}
    printed = capsys.readouterr().out
    assert "consensus of 3 samples per image" in printed and "top-3" in printed and "by agreement" in printed
    assert (tmp_path / "out.reliability.png").stat().st_size > 1000


def test_exclude_leaves_out_the_leaking_rows_and_counts_them(scripted, tmp_path, capsys):
    gt_file, images, answers = scripted
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("test_id,train_id,distance,phash_distance,leak,status\na.jpg,t1.jpg,0,1,1,ok\n"
                     "b.jpg,t2.jpg,11,30,0,ok\nelsewhere.jpg,t3.jpg,2,2,1,ok\n")
    with FakeOpenAIServer(answers=answers) as server:
        assert _eval(server.url, gt_file, images, tmp_path / "out.csv", "--exclude", str(pairs)) == 0
        sent = len(server.requests)
    summary = json.loads((tmp_path / "out.json").read_text())
    assert (sent, summary["n"], summary["n_excluded"], summary["n_ground_truth"]) == (3, 3, 1, 4)
    assert summary["n_exclude_ids_not_found"] == 1
    assert summary["acc_1km"] == 1 / 3  # of two exact answers (a: Paris, c: NYC) a was excluded
    assert "excluded: 1 of 4 ground-truth rows" in capsys.readouterr().out
    assert main(["score", str(tmp_path / "out.csv"), "--no-plots", "--exclude", str(pairs)]) == 0


def test_score_exclude_drops_rows_of_a_full_run(scripted, tmp_path):
    gt_file, images, answers = scripted
    with FakeOpenAIServer(answers=answers) as server:
        _eval(server.url, gt_file, images, tmp_path / "out.csv")
    ids = tmp_path / "ids.txt"
    ids.write_text("a.jpg\n")
    assert main(["score", str(tmp_path / "out.csv"), "--no-plots", "--exclude", str(ids),
                 "--summary", str(tmp_path / "s.json")]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["n"], summary["n_excluded"], summary["acc_1km"]) == (3, 1, 1 / 3)


def test_one_sample_is_the_single_answer_run(scripted, tmp_path):
    gt_file, images, answers = scripted
    with FakeOpenAIServer(answers=answers) as server:
        _eval(server.url, gt_file, images, tmp_path / "plain.csv")
        _eval(server.url, gt_file, images, tmp_path / "one.csv", "--samples", "1")
        assert all("n" not in request for request in server.requests)
    plain = json.loads((tmp_path / "plain.json").read_text())
    one = json.loads((tmp_path / "one.json").read_text())
    assert plain == one and "n_samples" not in one
    from globe.eval.runner import read_output_rows

    def rows(name):  # written in completion order, with their own latencies
        header, data, _ = read_output_rows(tmp_path / name)
        return header, sorted(({k: v for k, v in row.items() if k != "latency_s"} for row in data),
                              key=lambda row: int(row["gt_index"]))

    assert rows("plain.csv") == rows("one.csv")
