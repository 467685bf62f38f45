"""``globe-app --serve tiny`` (what ``make app`` runs) end to end: the real ``swift deploy`` of the tiny
model, the page, ``/locate`` through ``gradio_client``, and Ctrl-C stopping the app AND the server.

One command, one server: this is the only app test that starts ms-swift (minutes on a CPU).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the app extra is not installed (pip install -e '.[app]')")
from gradio_client import Client, handle_file  # noqa: E402

from globe.swift_run import free_port, offline_env, stop_process  # noqa: E402

pytestmark = pytest.mark.integration


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def wait_for_line(proc: subprocess.Popen, log: Path, pattern: str, timeout: float) -> re.Match:
    """Wait until the app's log has a line matching ``pattern`` (fail with the log if it exits or times out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"), re.MULTILINE)
        if match:
            return match
        if proc.poll() is not None:
            pytest.fail(f"globe-app exited with {proc.returncode}:\n{tail(log)}")
        time.sleep(0.5)
    pytest.fail(f"no line matching {pattern!r} within {timeout:.0f} s:\n{tail(log)}")


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def test_make_app_serves_the_tiny_model_and_ctrl_c_stops_everything(repo_root, tmp_path):
    port = free_port()
    env = offline_env({"GLOBE_APP_LOG_DIR": str(tmp_path), "PYTHONPATH": str(repo_root)})
    log = tmp_path / "app.log"
    with open(log, "w") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "globe.app", "--serve", "tiny", "--port", str(port), "--max-tokens", "24"],
            cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        server_url = wait_for_line(proc, log, r"globe-app: model server (http://\S+/v1);", timeout=600).group(1)
        wait_for_line(proc, log, r"Running on local URL", timeout=120)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        sample = repo_root / "data" / "sample" / "eval_images" / "ae_09_7363264437.jpg"  # Kyoto, Japan
        result = client.predict(handle_file(str(sample)), "cot", 2, 0.7, api_name="/locate")
        # The tiny model is random: what it says is noise, but the answer went through the whole path.
        assert result["model"] == "globe-tiny" and len(result["samples"]) == 2
        assert result["status"] in ("ok", "unresolved", "no_answer")
        assert all(s["status"] in ("ok", "unresolved", "no_answer") for s in result["samples"])
        assert result["truth"] == {"lat": 35.0116, "lon": 135.7681, "source": "sample ground truth",
                                   "label": "Kyoto, Japan"}
        assert answers(f"{server_url}/models")

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        proc.wait(timeout=60)
        assert proc.returncode in (0, 130), tail(log)
        assert not answers(f"{server_url}/models"), "the swift server outlived globe-app"
        assert not answers(f"http://127.0.0.1:{port}/"), "the page outlived globe-app"
    finally:
        stop_process(proc)
