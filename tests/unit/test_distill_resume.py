"""SIGKILL a running `python -m globe.distill`, resume it, and get exactly an uninterrupted run's outputs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from globe import REPO_ROOT
from globe.distill.cli import main
from tests.support.fake_openai import FakeOpenAIServer, answer_by_marker, marked_jpeg

N_ROWS = 30


def _answer(i: int) -> str:
    city = ("Paris", "Lyon", "Paris")[i % 3]  # a third disagree with the ground truth: dropped rows too
    return json.dumps({"locatable": "yes", "confidence": 0.9, "reasoning": f"Row {i}: zinc roofs of {city}.",
                       "entities": ["zinc roofs", "a wrought-iron tower"], "country": "France", "city": city})


def _responder():
    by_marker = answer_by_marker({f"<ROW{i:02d}>": _answer(i) for i in range(N_ROWS)}, "no idea")

    def respond(request: dict) -> str:
        texts = [p.get("text", "") for m in request["messages"] for p in m["content"] if isinstance(p, dict)]
        if any(t.startswith("Is the following visible") for t in texts):
            return "yes" if any("zinc roofs" in t for t in texts) else "no"
        return by_marker(request)

    return respond


def _world(root: Path) -> Path:
    (root / "images").mkdir()
    lines = ["IMG_ID,LAT,LON,city,country"]
    for i in range(N_ROWS):
        (root / "images" / f"ROW{i:02d}.jpg").write_bytes(marked_jpeg(f"<ROW{i:02d}>"))
        lines.append(f"ROW{i:02d}.jpg,48.8566,2.3522,Paris,France")
    (root / "gt.csv").write_text("\n".join(lines) + "\n")
    return root / "gt.csv"


def _args(root: Path, url: str, out: str) -> list[str]:
    return ["--gt-file", str(root / "gt.csv"), "--image-root", str(root / "images"), "--out-dir", str(root / out),
            "--teacher", f"{url}=fake-model", "--verifier", url, "--min-entities", "1",
            "--concurrency", "2", "--no-progress", "--backoff", "0.01"]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _canonical(path: Path) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in _rows(path))


def _ledger_lines(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def _start_run(tmp_path: Path, url: str, lines: int) -> tuple[subprocess.Popen, Path]:
    """``python -m globe.distill`` into ``out``, returned once its ledger has ``lines`` lines (or it ended)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "globe.distill", *_args(tmp_path, url, "out")]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ledger = tmp_path / "out" / "distill" / "ledger.jsonl"
    deadline = time.monotonic() + 60
    while _ledger_lines(ledger) < lines and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc, ledger


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path):
    _world(tmp_path)
    with FakeOpenAIServer(responder=_responder(), latency_s=0.06, model="fake-model") as server:
        assert main(_args(tmp_path, server.url, "reference")) == 0

        proc, ledger = _start_run(tmp_path, server.url, 8)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        done_at_kill = _ledger_lines(ledger)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        assert 8 <= done_at_kill < N_ROWS, "the kill must land mid-run"
        assert not (tmp_path / "out" / "report.json").exists()

        assert main(_args(tmp_path, server.url, "out")) == 0  # the same command resumes

    out, ref = tmp_path / "out", tmp_path / "reference"
    ledger_ids = [e["image_id"] for e in _rows(out / "distill" / "ledger.jsonl")]
    assert len(ledger_ids) == len(set(ledger_ids)) == N_ROWS
    for name in ("train.jsonl", "rm.jsonl", "distill/rm_candidates.jsonl"):
        assert _canonical(out / name) == _canonical(ref / name), name
    assert len(_rows(out / "train.jsonl")) == 20  # rows 1, 4, 7, ... named Lyon

    report, reference = (json.loads((d / "report.json").read_text()) for d in (out, ref))
    for r in (report, reference):
        r.pop("this_run"), r.pop("outputs")
    assert report == reference


def test_a_second_run_on_the_same_out_dir_is_refused_while_the_first_runs(tmp_path, capsys):
    _world(tmp_path)
    with FakeOpenAIServer(responder=_responder(), latency_s=0.06, model="fake-model") as server:
        first, ledger = _start_run(tmp_path, server.url, 2)
        assert first.poll() is None, "the first run must still be running"

        assert main(_args(tmp_path, server.url, "out")) == 2
        error = capsys.readouterr().err
        assert f"--out-dir {tmp_path / 'out'} is in use by another run (pid {first.pid}" in error

        assert first.wait(timeout=120) == 0, first.stderr.read().decode()[-2000:]
    ledger_ids = [e["image_id"] for e in _rows(ledger)]
    assert len(ledger_ids) == len(set(ledger_ids)) == N_ROWS
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["rows_in"] == N_ROWS and report["rows_kept"] + report["rows_dropped"] == N_ROWS
