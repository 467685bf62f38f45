"""``stop_process`` stops a started command and everything under it, also what left its process group."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from globe.processes import stop_process

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process tree from /proc")

# A parent that starts a child in a session of its own (as torchrun starts its workers), prints the
# child's pid, and ignores SIGTERM, so only the group SIGKILL ends it.
PARENT = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
print(child.pid, flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_a_descendant_in_its_own_session_is_stopped_with_its_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    child = int(parent.stdout.readline())
    assert os.getpgid(child) != parent.pid  # outside the group a killpg reaches
    stop_process(parent, grace=1)
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert parent.returncode is not None
    assert not _alive(child)
