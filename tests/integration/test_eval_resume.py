"""A SIGKILLed evaluation resumes with no row lost or duplicated, and scores like an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from globe import REPO_ROOT
from globe.eval.cli import main
from globe.eval.runner import read_output_rows
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

pytestmark = pytest.mark.integration

CORE_KEYS = ("n", "n_failed", "country_acc", "city_acc", "country_acc_string", "city_acc_string", "acc_1km",
             "acc_25km", "acc_200km", "acc_750km", "acc_2500km", "median_km", "geoscore", "by_continent", "by_country")
PLACES = [
    (48.85341, 2.3488, "France", "Paris", "<think>Haussmann facades.</think><answer>country: France\ncity: Paris</answer>"),
    (45.74846, 4.84671, "France", "Lyon", "<answer>country: France\ncity: Marseille</answer>"),
    (35.6895, 139.69171, "Japan", "Tokyo", "<answer>country: Japan\ncity: Kyoto</answer>"),
    (40.71427, -74.00597, "United States", "New York City", "<answer>country: USA\ncity: NYC</answer>"),
    (-33.86785, 151.20732, "Australia", "Sydney", "I cannot tell."),
]
N_ROWS = 60


def _rows():
    return [(f"img{i:03d}.jpg", *PLACES[i % len(PLACES)]) for i in range(N_ROWS)]


def _args(url: str, gt_file: Path, images: Path, output: Path) -> list[str]:
    return ["--url", url, "--gt-file", str(gt_file), "--image-root", str(images), "--output", str(output),
            "--concurrency", "4", "--quiet", "--no-plots", "--use_cot"]


def test_sigkill_mid_run_then_resume(tmp_path):
    gt_file, images, answers = write_scripted_eval_set(tmp_path, _rows())
    reference, killed = tmp_path / "reference.csv", tmp_path / "killed.csv"
    with FakeOpenAIServer(answers=answers, latency_s=0.1) as server:
        assert main(_args(server.url, gt_file, images, reference)) == 0

        process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "examples/train/grpo/globe/eval.py"), *_args(server.url, gt_file, images, killed)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60
        written = 0
        while time.monotonic() < deadline and process.poll() is None:
            if killed.exists():
                written = len(read_output_rows(killed)[1])
                if written >= 15:
                    break
            time.sleep(0.02)
        assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read().decode()[-2000:]}"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        process.stderr.close()

        _, partial, clean = read_output_rows(killed)
        assert 15 <= len(partial) < N_ROWS and clean
        requests_before_resume = len(server.requests)

        assert main(_args(server.url, gt_file, images, killed)) == 0
        resent = len(server.requests) - requests_before_resume

    _, rows, clean = read_output_rows(killed)
    indices = [int(row["gt_index"]) for row in rows]
    assert clean and sorted(indices) == list(range(N_ROWS))  # none lost, none duplicated
    assert resent == N_ROWS - len(partial)  # finished rows were not asked again
    resumed_summary = json.loads(killed.with_suffix(".json").read_text())
    reference_summary = json.loads(reference.with_suffix(".json").read_text())
    assert {key: resumed_summary[key] for key in CORE_KEYS} == {key: reference_summary[key] for key in CORE_KEYS}
    assert reference_summary["n"] == N_ROWS and reference_summary["n_no_answer"] == N_ROWS // len(PLACES)
