"""globe-distill against a hostile teacher and a contended --out-dir: lone surrogates, two runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from globe.runfiles import RunLock
from tests.support.fake_openai import FakeOpenAIServer
from test_distill_pipeline import distill, make_world, read_jsonl, scripted, teacher_json

PARIS = teacher_json("France", "Paris", entities=["Eiffel Tower", "Haussmann facades"],
                     reasoning="A flag \ud83d over Haussmann facades.")


def test_a_lone_surrogate_from_a_teacher_is_written_as_a_replacement_character(tmp_path):
    gt = make_world(tmp_path, ["PARIS", "PARIS_2"])
    answers = {"PARIS": PARIS + "\n\ud83d", "PARIS_2": PARIS}
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        assert distill(tmp_path, gt, [server.url], "--verifier", server.url) == 0
    rows = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert sorted(row["image_id"] for row in rows) == ["PARIS.jpg", "PARIS_2.jpg"]
    assert {row["reasoning"] for row in rows} == {"A flag \ufffd over Haussmann facades."}
    ledger = {entry["image_id"]: entry for entry in read_jsonl(tmp_path / "out" / "distill" / "ledger.jsonl")}
    assert ledger["PARIS.jpg"]["teachers"][0]["text"].endswith("\n\ufffd")
    with FakeOpenAIServer(responder=scripted(answers)) as server:
        assert distill(tmp_path, gt, [server.url], "--verifier", server.url) == 0
        assert server.requests == []  # the resume read every line back


def test_a_second_run_on_the_same_out_dir_is_refused_before_staging_anything(tmp_path, capsys):
    gt = make_world(tmp_path, ["PARIS"])
    out = tmp_path / "out"
    with RunLock(out / ".globe-distill.lock"), FakeOpenAIServer(responder=scripted({"PARIS": PARIS})) as server:
        assert distill(tmp_path, gt, [server.url], "--no-grounding") == 2
        assert server.requests == []
    error = capsys.readouterr().err
    assert f"--out-dir {out} is in use by another run (pid {os.getpid()}" in error
    assert not (out / "distill" / "gt.jsonl").exists()


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path):
    gt = make_world(tmp_path, ["PARIS"])
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / ".globe-distill.lock").write_text(dead.stdout)
    with FakeOpenAIServer(responder=scripted({"PARIS": PARIS})) as server:
        assert distill(tmp_path, gt, [server.url], "--no-grounding") == 0
    assert json.loads((out / "report.json").read_text())["rows_kept"] == 1


def test_a_finished_run_releases_its_lock(tmp_path):
    gt = make_world(tmp_path, ["PARIS"])
    with FakeOpenAIServer(responder=scripted({"PARIS": PARIS})) as server:
        assert distill(tmp_path, gt, [server.url], "--no-grounding") == 0
    assert not (tmp_path / "out" / ".globe-distill.lock").exists()
