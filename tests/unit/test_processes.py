"""``globe.processes``: a server is started first, waited for, and stopped whatever the main command does."""
from __future__ import annotations

import socket
import sys

import pytest

from globe.processes import ServerNotReady, command_env, run_with_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_main_command_runs_once_the_server_answers_and_the_server_is_gone_after() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    check = "import os, sys, urllib.request; urllib.request.urlopen(sys.argv[1]); sys.exit(int(os.environ['STATUS']))"
    assert run_with_server(server, ["STATUS=3", sys.executable, "-c", check, url], url, timeout=30) == 3
    assert not answers(port)


def test_a_server_that_exits_before_answering_is_named_and_nothing_else_runs(tmp_path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(ServerNotReady, match="the rollout server exited with 7"):
        run_with_server([sys.executable, "-c", "raise SystemExit(7)"], ["touch", str(marker)],
                        f"http://127.0.0.1:{free_port()}/", timeout=30)
    assert not marker.exists()


def test_leading_assignments_are_the_environment() -> None:
    assert command_env(["A=1", "B=x=y", "swift", "rollout", "--x", "C=2"]) == (
        {"A": "1", "B": "x=y"}, ["swift", "rollout", "--x", "C=2"])
