"""Specification of globe.eval.runner against the loopback fake server: rows, failures, resume."""
from __future__ import annotations

import asyncio
import csv
import math
from pathlib import Path

import pytest

from globe.eval.data import load_ground_truth
from globe.eval.metrics import summarize
from globe.eval.runner import (
    EvalSettings,
    OutputMismatchError,
    RESULT_COLUMNS,
    load_results,
    output_columns,
    prepare_output,
    read_output_rows,
    run_eval_with_server,
)
from globe.eval.score import scored_rows
from globe.geo import distance_km, resolve
from globe.prompts import geo_prompt
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

PARIS = (48.85341, 2.3488)  # GeoNames' Paris, so a "Paris" answer is exactly 0 km away


def _answer(country: str, city: str) -> str:
    return f"<think>Clues.</think><answer>country: {country}\ncity: {city}</answer>"


KNOWN_ROWS = [
    ("paris.jpg", *PARIS, "France", "Paris", _answer("France", "Paris")),
    ("versailles.jpg", *PARIS, "France", "Paris", _answer("France", "Versailles")),
    ("lyon.jpg", *PARIS, "France", "Paris", _answer("France", "Lyon")),
    ("berlin.jpg", *PARIS, "France", "Paris", _answer("Germany", "Berlin")),
    ("tokyo.jpg", *PARIS, "France", "Paris", _answer("Japan", "Tokyo")),
    ("garbled.jpg", *PARIS, "France", "Paris", "I really cannot say where this is."),
    ("missing.jpg", *PARIS, "France", "Paris", _answer("France", "Paris")),
]


def _settings(**overrides) -> EvalSettings:
    values = dict(prompt=geo_prompt(True), concurrency=8, timeout=5.0, retries=3, backoff=0.01, max_tokens=64)
    values.update(overrides)
    return EvalSettings(**values)


def _run(gt, output: Path, url: str, overwrite: bool = False, **settings):
    return asyncio.run(run_eval_with_server(gt, output, url, _settings(**settings), resolve, overwrite=overwrite,
                                            progress=False))


def _summary(output: Path, gt=None) -> dict:
    rows = load_results(output, indices=[row.index for row in gt.rows] if gt else None)
    return summarize(scored_rows(rows, resolver=resolve))


@pytest.fixture()
def known_set(tmp_path):
    gt_file, images, answers = write_scripted_eval_set(tmp_path, KNOWN_ROWS)
    (images / "missing.jpg").unlink()
    return load_ground_truth(gt_file, images), answers


def test_exact_metrics_on_known_coordinates(known_set, tmp_path):
    gt, answers = known_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        stats, model = _run(gt, output, server.url)
    assert model == "fake-model"
    assert stats.status_counts == {"ok": 5, "no_answer": 1, "missing_image": 1}
    summary = _summary(output, gt)
    distances = [distance_km(PARIS, resolve(country, city)) for country, city in
                 [("France", "Paris"), ("France", "Versailles"), ("France", "Lyon"), ("Germany", "Berlin"), ("Japan", "Tokyo")]]
    assert distances[0] == 0.0 and 10 < distances[1] < 25 and 200 < distances[2] < 750 and 750 < distances[3] < 2500
    assert summary["n"] == 7 and summary["n_failed"] == 1 and summary["n_no_answer"] == 1
    assert (summary["acc_1km"], summary["acc_25km"], summary["acc_200km"], summary["acc_750km"], summary["acc_2500km"]) \
        == (1 / 7, 2 / 7, 2 / 7, 3 / 7, 4 / 7)
    assert summary["country_acc"] == 3 / 7 and summary["city_acc"] == 1 / 7
    assert summary["median_km"] == pytest.approx(distances[3])
    assert summary["geoscore"] == pytest.approx(sum(5000 * math.exp(-d / 1492.7) for d in distances) / 7)
    assert summary["by_country"]["France"]["n"] == 7


def test_output_keeps_ground_truth_columns_and_adds_results(known_set, tmp_path):
    gt, answers = known_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        _run(gt, output, server.url)
    header, rows, clean = read_output_rows(output)
    assert clean and header == ["IMG_ID", "LAT", "LON", "country", "city"] + RESULT_COLUMNS
    by_image = {row["IMG_ID"]: row for row in rows}
    assert len(rows) == 7
    lyon = by_image["lyon.jpg"]
    assert (lyon["pred_country"], lyon["pred_city"], lyon["status"], lyon["error"]) == ("France", "Lyon", "ok", "")
    assert lyon["pred_level"] == "city"
    assert float(lyon["error_km"]) == pytest.approx(distance_km(PARIS, (float(lyon["pred_lat"]), float(lyon["pred_lon"]))))
    assert lyon["prediction"] == _answer("France", "Lyon")
    assert by_image["missing.jpg"]["status"] == "missing_image" and "missing.jpg" in by_image["missing.jpg"]["error"]
    assert by_image["garbled.jpg"]["status"] == "no_answer" and by_image["garbled.jpg"]["pred_lat"] == ""


def test_request_carries_prompt_image_and_settings(known_set, tmp_path):
    gt, answers = known_set
    with FakeOpenAIServer(answers=answers) as server:
        _run(gt, tmp_path / "out.csv", server.url, max_tokens=77, temperature=0.2, extra={"frequency_penalty": 0.7})
        request = server.requests[0]
    content = request["messages"][-1]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert content[1]["text"] == geo_prompt(True)
    assert (request["max_tokens"], request["temperature"], request["frequency_penalty"]) == (77, 0.2, 0.7)


def test_twenty_percent_500s_and_timeouts_every_row_completes(tmp_path):
    rows = [(f"img{i:02d}.jpg", *PARIS, "France", "Paris", _answer("France", "Paris")) for i in range(60)]
    gt_file, images, answers = write_scripted_eval_set(tmp_path, rows)
    gt = load_ground_truth(gt_file, images)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers, error_rate=0.1, hang_rate=0.1, hang_s=5.0, max_faults_per_request=2,
                          seed=3) as server:
        stats, _ = _run(gt, output, server.url, timeout=0.3, retries=3, concurrency=16)
        injected = dict(server.counts)
    assert injected["error"] >= 1 and injected["hang"] >= 1  # both kinds of fault really happened
    assert stats.status_counts == {"ok": 60}
    _, written, _ = read_output_rows(output)
    assert sorted(int(row["gt_index"]) for row in written) == list(range(60))
    assert max(int(row["attempts"]) for row in written) > 1


def test_persistent_failures_are_written_and_counted_as_wrong(known_set, tmp_path):
    gt, answers = known_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers, error_rate=1.0) as server:
        stats, _ = _run(gt, output, server.url, retries=1)
    assert stats.status_counts == {"http_500": 6, "missing_image": 1}
    summary = _summary(output, gt)
    assert summary["n"] == 7 and summary["n_failed"] == 7
    assert summary["acc_2500km"] == 0.0 and summary["country_acc"] == 0.0 and summary["geoscore"] == 0.0
    _, rows, _ = read_output_rows(output)
    assert all("injected fault" in row["error"] for row in rows if row["status"] == "http_500")


def test_resume_redoes_only_failed_rows_without_duplicates(known_set, tmp_path):
    gt, answers = known_set
    output = tmp_path / "out.csv"
    first_three = load_ground_truth(gt.gt_file, gt.image_root, limit=3)
    with FakeOpenAIServer(answers=answers) as server:
        _run(first_three, output, server.url)
    with FakeOpenAIServer(answers=answers, error_rate=1.0) as server:
        failing, _ = _run(gt, output, server.url, retries=0)
    assert failing.n_already_done == 3 and failing.status_counts == {"http_500": 3, "missing_image": 1}
    answered_before = {row["gt_index"]: row for row in read_output_rows(output)[1] if row["status"] == "ok"}
    assert sorted(answered_before) == ["0", "1", "2"]

    with FakeOpenAIServer(answers=answers) as server:
        resumed, _ = _run(gt, output, server.url)
        assert len(server.requests) == 3  # only the rows whose request failed went to the server again
    assert resumed.n_already_done == 3 and resumed.n_redone == 4
    _, rows, _ = read_output_rows(output)
    assert sorted(int(row["gt_index"]) for row in rows) == list(range(7))
    for index, row in answered_before.items():
        assert next(r for r in rows if r["gt_index"] == index) == row  # kept byte for byte
    assert _summary(output, gt)["acc_2500km"] == 4 / 7


def test_rerun_of_a_finished_output_sends_nothing(known_set, tmp_path):
    gt, answers = known_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        _run(gt, output, server.url)
        before = output.read_text()
        n_requests = len(server.requests)
        stats, _ = _run(gt, output, server.url)
        assert len(server.requests) == n_requests  # the missing image is retried locally, never sent
    assert stats.n_already_done == 6
    assert sorted(output.read_text().splitlines()) == sorted(before.splitlines())


def test_overwrite_starts_again(known_set, tmp_path):
    gt, answers = known_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        _run(gt, output, server.url)
        stats, _ = _run(gt, output, server.url, overwrite=True)
    assert stats.n_already_done == 0 and stats.n_done_now == 7
    assert len(read_output_rows(output)[1]) == 7


def test_torn_last_row_is_trimmed_and_redone(tmp_path):
    fields = output_columns(["IMG_ID", "LAT", "LON"])
    output = tmp_path / "out.csv"
    good = {name: "" for name in fields} | {"IMG_ID": "a.jpg", "gt_index": "0", "status": "ok", "prediction": "x\ny"}
    with open(output, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerow(good)
        handle.write('b.jpg,1,2,1,,,,,,"<think>half a row')  # SIGKILL mid-write
    kept, dropped = prepare_output(output, fields, overwrite=False)
    assert list(kept) == [0]
    header, rows, clean = read_output_rows(output)
    assert clean and [row["IMG_ID"] for row in rows] == ["a.jpg"] and rows[0]["prediction"] == "x\ny"


def test_output_for_another_ground_truth_is_refused(tmp_path):
    output = tmp_path / "out.csv"
    output.write_text("id,latitude,longitude," + ",".join(RESULT_COLUMNS) + "\n")
    with pytest.raises(OutputMismatchError, match="--overwrite"):
        prepare_output(output, output_columns(["IMG_ID", "LAT", "LON"]), overwrite=False)


def test_path_traversal_corrupt_image_and_bad_rows_get_their_own_status(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"\xff\xd8\xff secret")
    (images / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (images / "truncated.jpg").write_bytes(
        __import__("tests.support.fake_openai", fromlist=["marked_jpeg"]).marked_jpeg("t", size=(64, 64))[:200])
    gt_file = tmp_path / "gt.csv"
    gt_file.write_text("IMG_ID,LAT,LON,country,city\n"
                       "../secret.jpg,1,1,Ghana,Accra\n"
                       "/etc/passwd,1,1,Ghana,Accra\n"
                       "corrupt.jpg,1,1,Ghana,Accra\n"
                       "truncated.jpg,1,1,Ghana,Accra\n"
                       "ok.jpg,1,abc,Ghana,Accra\n")
    gt = load_ground_truth(gt_file, images)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer() as server:
        stats, _ = _run(gt, output, server.url)
        assert server.requests == []  # nothing was uploaded
    statuses = {row["IMG_ID"]: row["status"] for row in read_output_rows(output)[1]}
    assert statuses == {"../secret.jpg": "outside_image_root", "/etc/passwd": "outside_image_root",
                        "corrupt.jpg": "corrupt_image", "truncated.jpg": "corrupt_image", "ok.jpg": "bad_row"}
    summary = _summary(output, gt)
    assert summary["n"] == 5 and summary["n_failed"] == 5
    assert summary["status_counts"] == {"bad_row": 1, "corrupt_image": 2, "outside_image_root": 2}


def test_unresolvable_answer_is_unresolved_and_wrong(tmp_path):
    rows = [("x.jpg", *PARIS, "France", "Paris", _answer("Qwxzzy", "Blorptown"))]
    gt_file, images, answers = write_scripted_eval_set(tmp_path, rows)
    gt = load_ground_truth(gt_file, images)
    with FakeOpenAIServer(answers=answers) as server:
        stats, _ = _run(gt, tmp_path / "out.csv", server.url)
    assert stats.status_counts == {"unresolved": 1}
    summary = _summary(tmp_path / "out.csv", gt)
    assert summary["acc_2500km"] == 0.0 and summary["n_unresolved"] == 1 and summary["n_failed"] == 0
