"""Run the real ms-swift command-line tools on the tiny model, offline, on a CPU.

The app (``--serve tiny``), the demo, tests and benchmarks share these settings, so a flag ms-swift
renames breaks in one place. The flags are the smallest set that makes ms-swift 4.x accept a local
random model with no hub access and no GPU.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from globe.processes import ServerNotReady, stop_process, wait_until_answers  # noqa: F401 (stop_process: re-exported)

SWIFT_OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "MODELSCOPE_OFFLINE": "1",
    "USE_HF": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "2",
    "CUDA_VISIBLE_DEVICES": "",
    "WANDB_DISABLED": "true",
    "PYTHONUNBUFFERED": "1",
}

# What any swift command needs to load the tiny model (deploy, infer, sft, rlhf).
TINY_MODEL_LOAD_ARGS: list[str] = [
    "--model_type", "qwen2_5_vl",
    "--template", "qwen2_5_vl",
    "--torch_dtype", "float32",
]
# What the training commands need on a CPU without a hub, whatever the model.
CPU_TRAIN_ARGS: list[str] = [
    "--check_model", "false",  # training only: `swift deploy` rejects it
    "--dataloader_num_workers", "0",
    "--dataset_num_proc", "1",
    "--report_to", "none",
    "--split_dataset_ratio", "0",
]
TINY_MODEL_ARGS: list[str] = [*TINY_MODEL_LOAD_ARGS, *CPU_TRAIN_ARGS]


def family_load_args(name: str, enable_thinking: bool | None = None) -> list[str]:
    """:data:`TINY_MODEL_LOAD_ARGS` for any family of :mod:`globe.families` (and its ``--enable_thinking``)."""
    from globe.families import family

    entry = family(name)
    args = ["--model_type", entry.model_type, "--template", entry.template, "--torch_dtype", "float32",
            *entry.extra_flags]
    if enable_thinking is not None:
        args += ["--enable_thinking", str(enable_thinking).lower()]
    return args



class SwiftRunError(RuntimeError):
    """A swift CLI run failed; the message carries the command and the tail of its log."""


def swift_executable() -> str:
    """The ``swift`` entry point of the running interpreter's environment (not whatever is on PATH)."""
    beside = Path(sys.executable).parent / "swift"
    if beside.exists():
        return str(beside)
    found = shutil.which("swift")
    if not found:
        raise SwiftRunError("the `swift` command (ms-swift) is not installed: run `make setup` or `pip install ms-swift`")
    return found


def offline_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment plus the offline settings, with the venv's bin first on PATH."""
    env = dict(os.environ)
    env.update(SWIFT_OFFLINE_ENV)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if extra:
        env.update(extra)
    return env


def run_swift(
    args: Sequence[str],
    *,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    log_path: str | os.PathLike | None = None,
) -> subprocess.CompletedProcess:
    """Run ``swift ARGS...`` and return the finished process; raise with the log's tail on failure."""
    cmd = [swift_executable(), *map(str, args)]
    proc = subprocess.run(
        cmd,
        env=offline_env(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if log_path:
        Path(log_path).write_text(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        raise SwiftRunError(f"`{' '.join(cmd)}` exited with {proc.returncode}; last lines:\n{tail}")
    return proc


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(base_url: str, proc: subprocess.Popen | None = None, timeout: float = 180) -> None:
    """Poll ``BASE_URL/models`` until it answers; fail early if the server process died."""
    try:
        wait_until_answers(f"{base_url}/models", proc, timeout)
    except ServerNotReady as exc:
        raise SwiftRunError(str(exc)) from exc


@contextlib.contextmanager
def deploy_tiny_model(
    model_dir: str | os.PathLike,
    port: int | None = None,
    *,
    served_model_name: str = "globe-tiny",
    log_path: str | os.PathLike | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 180,
    load_args: Sequence[str] = TINY_MODEL_LOAD_ARGS,
) -> Iterator[str]:
    """``swift deploy --infer_backend transformers`` on 127.0.0.1; yields ``http://127.0.0.1:PORT/v1``.

    ``load_args``: the model type, template and dtype flags (another family's: ``family_load_args``).
    """
    port = port or free_port()
    cmd = [
        swift_executable(), "deploy",
        "--model", str(model_dir),
        *map(str, load_args),
        "--infer_backend", "transformers",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--served_model_name", served_model_name,
        "--max_new_tokens", "64",
        *map(str, extra_args),
    ]
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=offline_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_server(base_url, proc, timeout=timeout)
        yield base_url
    finally:
        stop_process(proc)
        if log is not subprocess.DEVNULL:
            log.close()
