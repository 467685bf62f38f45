"""Start a server, wait until it answers, stop it with everything it spawned: the one helper for this.

The GRPO launchers use it to run their own ``swift rollout`` server around a training run
(``python3 globe/processes.py with-server ...``, see ``main``); the tests, the demo and the app use
``start``/``wait_until_answers``/``stop_process`` for ``swift deploy`` and the serve scripts.
Standard library only: the launchers run this file by path from a checkout where GLOBE is not installed.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any


class ServerNotReady(RuntimeError):
    """A started server died or did not answer in time; the message says which and where."""


def start(argv: Sequence[str], **popen: Any) -> subprocess.Popen:
    """Start ``argv`` in a session of its own, so that :func:`stop_process` can stop its whole group."""
    return subprocess.Popen(list(argv), start_new_session=True, **popen)


def wait_until_answers(url: str, proc: subprocess.Popen | None = None, timeout: float = 180,
                       what: str = "the server") -> None:
    """Poll ``url`` until it answers 200; fail early, naming ``what``, if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerNotReady(f"{what} exited with {proc.returncode} before it answered {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise ServerNotReady(f"{what} did not answer {url} within {timeout:.0f} s")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the id now belongs to another user
        return False
    return True


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc), wherever its process group or session."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """Stop a process started by :func:`start` and everything it spawned, and wait until all of it is gone.

    SIGTERM to its process group, SIGKILL after ``grace`` seconds. Waiting for the group, not just
    its leader, matters: ``swift deploy`` starts the real server as a child, which can still hold
    its port for a moment after the parent has exited. Descendants that left the group (torchrun
    starts each worker in a session of its own) are killed too if they outlive it.
    """
    pgid = proc.pid
    strays = _descendants(pgid) if os.path.isdir("/proc") else []
    try:
        _stop_group(proc, pgid, grace)
    finally:
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) != pgid:
                    os.kill(pid, signal.SIGKILL)


def _stop_group(proc: subprocess.Popen, pgid: int, grace: float) -> None:
    if proc.poll() is None or _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not _group_alive(pgid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait(timeout=grace)
    while _group_alive(pgid) and time.monotonic() < deadline + grace:
        time.sleep(0.1)


def command_env(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Split ``NAME=VALUE ... program args`` (the launchers' printed form) into environment and argv."""
    env, rest = {}, list(argv)
    while rest and "=" in rest[0] and rest[0].split("=", 1)[0].isidentifier():
        name, value = rest.pop(0).split("=", 1)
        env[name] = value
    return env, rest


def run_with_server(server: Sequence[str], main: Sequence[str], url: str, timeout: float) -> int:
    """Start ``server``, wait until ``url`` answers, run ``main``, and stop the server whatever happens.

    Returns ``main``'s exit status (130 after Ctrl-C or SIGTERM, which also reach ``main``). Both
    commands may start with ``NAME=VALUE`` words, set in their environment only.
    """
    server_env, server_argv = command_env(server)
    main_env, main_argv = command_env(main)
    interrupted: list[int] = []
    trainer: subprocess.Popen | None = None

    def forward(signum: int, _frame: Any) -> None:
        interrupted.append(signum)
        if trainer is not None and trainer.poll() is None:
            trainer.send_signal(signum)
        else:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    rollout = start(server_argv, env={**os.environ, **server_env})
    try:
        wait_until_answers(url, rollout, timeout, what="the rollout server")
        trainer = subprocess.Popen(main_argv, env={**os.environ, **main_env})
        status = trainer.wait()
        return 130 if interrupted else status
    except KeyboardInterrupt:
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if trainer is not None and trainer.poll() is None:
            trainer.wait()
        stop_process(rollout, grace=30)


def main(argv: list[str] | None = None) -> int:
    """``processes.py with-server URL TIMEOUT SERVER_CMD... -- MAIN_CMD...``: the GRPO launchers' own server."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 5 or args[0] != "with-server" or "--" not in args[3:]:
        print("usage: processes.py with-server URL TIMEOUT [NAME=VALUE...] SERVER... -- [NAME=VALUE...] MAIN...",
              file=sys.stderr)
        return 2
    url, timeout, rest = args[1], float(args[2]), args[3:]
    split = rest.index("--")
    try:
        return run_with_server(rest[:split], rest[split + 1:], url, timeout)
    except (ServerNotReady, OSError) as exc:
        print(f"processes.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
