"""globe-eval against hostile completions and a contended output: long cells, lone surrogates, two runs.

Each case runs the real command against the loopback fake server and checks the summary's row
count against the ground truth's, and that a resume re-sends nothing.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from globe.eval.cli import main
from globe.eval.runner import read_output_rows
from globe.runfiles import RunLock
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

PARIS = (48.85341, 2.3488)
ANSWER = "<answer>country: France\ncity: Paris</answer>"


def _long_answer(length: int) -> str:
    """A right answer whose thinking alone is ``length`` characters (beyond csv's 131,072 default)."""
    return f"<think>{'The roofs are zinc. ' * (length // 20)}</think>{ANSWER}"


def _world(tmp_path: Path, answers: dict[int, str], n_rows: int = 200):
    rows = [(f"img{i:03d}.jpg", *PARIS, "France", "Paris", answers.get(i, ANSWER)) for i in range(n_rows)]
    return write_scripted_eval_set(tmp_path, rows)


def _eval(url: str, world, output: Path, *extra: str) -> int:
    gt_file, images, _ = world
    return main(["--url", url, "--gt-file", str(gt_file), "--image-root", str(images), "--output", str(output),
                 "--quiet", "--no-plots", "--concurrency", "16", *extra])


def _summary(output: Path) -> dict:
    return json.loads(output.with_suffix(".json").read_text())


@pytest.mark.parametrize("long_rows, length", [([57], 137_000), (list(range(0, 200, 20)), 175_000)],
                         ids=["one-137k-answer", "ten-175k-answers"])
def test_answers_longer_than_the_csv_field_limit_keep_every_row(tmp_path, long_rows, length):
    world = _world(tmp_path, {i: _long_answer(length) for i in long_rows})
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 0
    summary = _summary(output)
    assert summary["n"] == 200 and summary["acc_1km"] == 1.0
    _, rows, clean = read_output_rows(output)
    assert clean and len(rows) == 200
    assert {len(rows[i]["prediction"]) for i in range(200) if int(rows[i]["gt_index"]) in long_rows} \
        == {len(_long_answer(length))}

    with FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 0
        assert server.requests == []  # the resume found all 200 rows
    assert _summary(output)["n"] == 200

    output.with_suffix(".json").unlink()
    assert main(["score", str(output), "--no-plots"]) == 0
    assert _summary(output)["n"] == 200 and _summary(output)["acc_1km"] == 1.0


def test_a_lone_surrogate_in_an_answer_is_written_as_a_replacement_character(tmp_path):
    broken = "<think>A flag \ud83d and more.</think>" + ANSWER
    world = _world(tmp_path, {3: broken}, n_rows=6)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 0
    _, rows, clean = read_output_rows(output)
    assert clean and len(rows) == 6
    (cell,) = [row["prediction"] for row in rows if row["gt_index"] == "3"]
    assert cell == broken.replace("\ud83d", "\ufffd")
    assert _summary(output)["n"] == 6 and _summary(output)["acc_1km"] == 1.0
    with FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 0
        assert server.requests == []


def test_a_second_run_on_the_same_output_is_refused_naming_it_and_the_holder(tmp_path, capsys):
    world = _world(tmp_path, {}, n_rows=3)
    output = tmp_path / "out.csv"
    with RunLock(output.with_name("out.csv.lock")), FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 2
        assert server.requests == []
    error = capsys.readouterr().err
    assert f"--output {output} is in use by another run (pid {os.getpid()}" in error
    assert not output.exists()


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path):
    world = _world(tmp_path, {}, n_rows=3)
    output = tmp_path / "out.csv"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    output.with_name("out.csv.lock").write_text(dead.stdout)
    with FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 0
    assert _summary(output)["n"] == 3
    assert not output.with_name("out.csv.lock").exists()  # released when the run ended


def test_a_row_missing_from_the_csv_is_counted_failed_so_the_summary_keeps_the_ground_truths_n(tmp_path):
    from globe.eval.data import load_ground_truth
    from globe.eval.metrics import summarize
    from globe.eval.runner import results_for_ground_truth
    from globe.eval.score import scored_rows
    from globe.geo import resolve

    world = _world(tmp_path, {}, n_rows=5)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 0
    header, rows, _ = read_output_rows(output)
    with open(output, "w", encoding="utf-8", newline="") as handle:  # the CSV without row 2
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row for row in rows if row["gt_index"] != "2")
    rows = results_for_ground_truth(load_ground_truth(world[0], world[1]), output)
    assert [row["status"] for row in rows] == ["ok", "ok", "missing_result", "ok", "ok"]
    summary = summarize(scored_rows(rows, resolver=resolve))
    assert summary["n"] == 5 and summary["n_failed"] == 1 and summary["acc_1km"] == 4 / 5


def test_damage_in_the_middle_of_the_csv_stops_resume_and_score_naming_the_line(tmp_path, capsys):
    world = _world(tmp_path, {}, n_rows=4)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 0
    text = output.read_text()
    output.write_text(text.replace("\nimg001.jpg,", "\nimg001.jpg;", 1))  # one record loses its fields
    line = text[: text.index("\nimg001.jpg,")].count("\n") + 2  # the line the damaged record starts on
    with FakeOpenAIServer(answers=world[2]) as server:
        assert _eval(server.url, world, output) == 2
        assert server.requests == []
    assert main(["score", str(output), "--no-plots"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(f"out.csv:{line}: cannot be read" in error for error in errors)
