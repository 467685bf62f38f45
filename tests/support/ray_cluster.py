"""A real Ray cluster on loopback, for tests and benchmarks of the ``--ray`` paths.

``ray start --head --block`` runs in a new session, so the CLI, the GCS, the raylet and every
worker it starts share one process group; stopping it signals that group only (SIGTERM, then
SIGKILL), never ``ray stop``, which would end every Ray instance on the machine. Its temp dir is
a short private folder under /tmp (Ray's unix sockets must fit in 107 bytes). Token
authentication is off (``RAY_AUTH_MODE=disabled``, set for the cluster and, while it runs, for
this process and the drivers it starts): the cluster listens on loopback only.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_group(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
            if sig == signal.SIGTERM:  # the CLI is gone; its daemons may linger a moment: make sure
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return


@contextlib.contextmanager
def local_ray_cluster(log_path: Path, num_cpus: int = 2, timeout_s: float = 90.0) -> Iterator[str]:
    """Start the head node, yield ``127.0.0.1:PORT`` once it is up, stop its process group after."""
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="gr", dir="/tmp")
    ray_cli = Path(sys.executable).with_name("ray")
    command = [str(ray_cli), "start", "--head", "--block", f"--port={port}", f"--num-cpus={num_cpus}",
               "--num-gpus=0", "--include-dashboard=false", "--node-ip-address=127.0.0.1",
               f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
           "RAY_USAGE_STATS_ENABLED": "0", "NO_ALBUMENTATIONS_UPDATE": "1", "RAY_AUTH_MODE": "disabled"}
    previous_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    log = open(log_path, "w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while "Ray runtime started" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start did not come up (exit {proc.poll()}); see {log_path}:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        if "ray" in sys.modules and sys.modules["ray"].is_initialized():  # this process joined it: leave first
            sys.modules["ray"].shutdown()
        _stop_group(proc)
        if previous_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_auth
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
