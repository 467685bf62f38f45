"""`make demo` in its reduced form: every stage of the pipeline runs through the real scripts."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from globe import REPO_ROOT

pytestmark = pytest.mark.integration

STAGES = ["model", "data", "sft", "rm", "grpo", "eval"]


def run_demo(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "globe.demo", "--fast", "--out", str(out)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
    )


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_demo_runs_every_stage_reuses_them_and_stops_its_servers_on_ctrl_c(tmp_path: Path) -> None:
    """One scenario, since each run costs a minute: a full run, a rerun, then Ctrl-C during GRPO."""
    first = run_demo(tmp_path / "demo")
    assert first.returncode == 0, first.stdout[-4000:]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert [stage["stage"] for stage in summary] == STAGES
    assert all(stage["status"] == "done" for stage in summary if stage["stage"] != "data")

    by_name = {stage["stage"]: stage for stage in summary}
    assert by_name["sft"]["steps"] == 2 and by_name["grpo"]["steps"] == 2
    assert set(by_name["grpo"]["mean_rewards"]) == {"GlobeAccuracy", "GlobeLocatability", "GlobeVisualMatch", "GlobeFormat"}
    assert 0.0 < by_name["grpo"]["mean_rewards"]["GlobeLocatability"] < 1.0  # real logprobs from the served RM
    assert by_name["eval"]["metrics"]["n"] == 4 and by_name["eval"]["metrics"]["n_failed"] == 0
    assert {Path(p).suffix for p in by_name["eval"]["outputs"]} == {".csv", ".json", ".png"}
    assert "tiny RANDOM Qwen2.5-VL" in first.stdout
    servers = [by_name["grpo"]["reward_model"]["url"], by_name["eval"]["policy_server"]["url"]]
    assert not any(listening(url) for url in servers)

    second = run_demo(tmp_path / "demo")
    assert second.returncode == 0, second.stdout[-4000:]
    rerun = {stage["stage"]: stage["status"] for stage in json.loads((tmp_path / "demo" / "summary.json").read_text())}
    assert rerun == {"model": "done", "data": "reused", "sft": "reused", "rm": "reused", "grpo": "reused", "eval": "done"}

    # Ctrl-C while GRPO trains against the served reward model: exit 130, nothing left running
    out = tmp_path / "demo"
    (out / "stages" / "grpo.json").unlink()  # rerun only GRPO: it serves the reward model first
    proc = subprocess.Popen(
        [sys.executable, "-m", "globe.demo", "--fast", "--out", str(out)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:  # the RM server answers before the GRPO launcher starts
        lines.append(line)
        if "train_all_rewards.sh" in line:
            break
    assert processes_mentioning(str(out / "rm")), "the reward-model server should be running now"
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + rest
    assert "interrupted: stopping servers" in rest
    interrupted = {stage["stage"]: stage["status"] for stage in json.loads((out / "summary.json").read_text())}
    assert interrupted["grpo"] == "failed" and "eval" not in interrupted
    deadline = time.monotonic() + 10
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(out)) == []


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (the demo's servers name its folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found
