"""``make demo``: the whole GLOBE pipeline on the bundled sample, on a CPU, in a few minutes.

Every stage runs the real entry point a GPU user runs, changing knobs only (no demo-only copy
of any script's logic):

1. model          the tiny random Qwen2.5-VL (``globe.tiny_model``), or ``GLOBE_MODEL``
2. data           ``globe-data convert`` on ``data/sample`` (train, reward-model rows)
3. sft            ``train_sft.sh`` for a few steps on the registered ``mp16-reason-sft``
4. rm             ``train_rm.sh`` (LoRA) for a few steps on ``mp16-reason-rm``
5. serve rm       ``serve_rm.sh`` with ``SERVE_BACKEND=swift`` (vLLM needs a GPU)
6. grpo           ``train_all_rewards.sh`` from the SFT checkpoint, all rewards, RM above
7. serve policy   ``serve_policy.sh`` with ``SERVE_BACKEND=swift`` on the GRPO checkpoint
8. eval           ``eval.py`` on the sample's ``mp16-reason-test-12k`` split

A finished stage leaves a record in ``<out>/stages/``; a rerun with the same settings reuses it
(``--fresh`` redoes everything), and the model, gazetteer and data caches make reruns faster.
Servers run in their own process groups and are stopped on success, failure and Ctrl-C.

The tiny model is random: its accuracy is meaningless and proves only the wiring.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from globe import REPO_ROOT
from globe.swift_run import (
    CPU_TRAIN_ARGS,
    free_port,
    offline_env,
    stop_process,
    wait_for_server,
)

LAUNCHERS = REPO_ROOT / "examples" / "train" / "grpo" / "globe"
SAMPLE = REPO_ROOT / "data" / "sample"
DEMO_MAX_PIXELS = 28 * 28 * 16  # a few visual tokens per image: the sample images are tiny anyway


@dataclass
class DemoSettings:
    """What the demo runs; ``fast`` is the reduced form the test suite uses."""

    out: Path
    model: str | None
    sft_steps: int = 4
    rm_steps: int = 2
    grpo_steps: int = 4
    generations: int = 2
    completion_tokens: int = 48
    eval_rows: int | None = None
    eval_tokens: int = 64
    fresh: bool = False

    @classmethod
    def fast(cls, out: Path, model: str | None = None) -> DemoSettings:
        return cls(out=out, model=model, sft_steps=2, rm_steps=1, grpo_steps=2, completion_tokens=16,
                   eval_rows=4, eval_tokens=16)


@dataclass
class StageResult:
    name: str
    status: str = "pending"  # done | reused | failed | pending
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


class Demo:
    """Runs the stages in order, records each, and always stops the servers it started."""

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self.out = settings.out.resolve()
        self.logs = self.out / "logs"
        self.records = self.out / "stages"
        self.servers: list[subprocess.Popen] = []
        self.children: list[subprocess.Popen] = []  # everything started, servers or not
        self.results: list[StageResult] = []
        self.model_dir = ""
        self.tiny = settings.model is None

    # ------------------------------------------------------------------ plumbing

    def env(self, **extra: str) -> dict[str, str]:
        env = offline_env({"GLOBE_DATA_ROOT": str(self.out / "data"), "MAX_PIXELS": str(DEMO_MAX_PIXELS)})
        env.update({key: str(value) for key, value in extra.items()})
        return env

    def model_knobs(self, model: str) -> dict[str, str]:
        """Knobs that point any launcher (training or serving) at ``model``."""
        knobs = {"MODEL": model}
        if self.tiny:
            knobs.update({"MODEL_TYPE": "qwen2_5_vl", "TEMPLATE": "qwen2_5_vl", "TORCH_DTYPE": "float32"})
        return knobs

    def train_knobs(self, model: str, dataset: str, steps: int) -> dict[str, str]:
        """Knobs for a training launcher on this machine: CPU, one process, no DeepSpeed or vLLM."""
        return {
            **self.model_knobs(model), "DATASET": dataset, "MAX_STEPS": str(steps), "SAVE_STEPS": str(steps),
            "NPROC_PER_NODE": "1", "DEEPSPEED": "none", "USE_VLLM": "false", "GRADIENT_CHECKPOINTING": "false",
            "DATALOADER_NUM_WORKERS": "0", "BATCH_SIZE": "2", "GRAD_ACCUM": "1", "LOGGING_STEPS": "1",
            "MASTER_PORT": str(free_port()), "EXTRA_ARGS": " ".join(CPU_TRAIN_ARGS),
            # GLOBE's rewards and RM request (the launchers default to the released ones, which
            # tests/integration/test_launchers_cpu.py runs); no rollout server either way: no vLLM
            "RECIPE": "globe",
        }

    def run(self, name: str, cmd: Sequence[str], env: dict[str, str]) -> None:
        """Run one command to completion, logging to ``logs/NAME.log`` and printing a heartbeat."""
        log_path = self.log_path(name)
        print(f"      $ {shlex.join(map(str, cmd))}\n      log: {log_path}", flush=True)
        with open(log_path, "w") as log:
            proc = self.spawn(cmd, env, log)
            try:
                started = next_beat = time.monotonic()
                while proc.poll() is None:
                    time.sleep(0.5)
                    if time.monotonic() >= next_beat + 10:
                        next_beat += 10
                        print(f"      ... {time.monotonic() - started:4.0f} s  {last_line(log_path)}", flush=True)
            finally:
                stop_process(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed (exit {proc.returncode}); last lines of {log_path}:\n"
                               + "\n".join(log_path.read_text(errors="replace").splitlines()[-25:]))

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name.replace(' ', '_')}.log"

    def serve(self, name: str, script: str, env: dict[str, str], port: int) -> str:
        """Start a serve script in the background and wait until its OpenAI API answers."""
        log_path = self.log_path(name)
        cmd = ["bash", str(LAUNCHERS / script)]
        print(f"      $ {shlex.join(cmd)}  (in the background)\n      log: {log_path}", flush=True)
        with open(log_path, "w") as log:
            proc = self.spawn(cmd, env, log)
        self.servers.append(proc)
        base_url = f"http://127.0.0.1:{port}/v1"
        try:
            wait_for_server(base_url, proc, timeout=300)
        except Exception as exc:
            raise RuntimeError(f"{name} did not come up: {exc}; last lines of {log_path}:\n"
                               + "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])) from exc
        return base_url

    def spawn(self, cmd: Sequence[str], env: dict[str, str], log) -> subprocess.Popen:
        """Start a command in its own process group and remember it, with Ctrl-C held off meanwhile.

        Without that, a Ctrl-C arriving while Popen runs (or just after it, before the caller's
        ``try``) would leave a trainer or server running with nobody to stop it. The signals are
        deferred by a handler, not blocked with a mask: a blocked mask is inherited across exec, so
        the child (and torchrun under it) would never see the SIGTERM that stops it.
        """
        deferred: list[int] = []
        previous = {sig: signal.signal(sig, lambda signum, _frame: deferred.append(signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            proc = subprocess.Popen(list(map(str, cmd)), env=env, cwd=self.out, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            self.children.append(proc)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if deferred:
            raise KeyboardInterrupt
        return proc

    def stop_all(self) -> None:
        """Stop every process the demo started that may still run (servers last started first)."""
        self.stop_servers()
        for proc in reversed(self.children):
            stop_process(proc)
        self.children.clear()

    def stop_servers(self) -> None:
        for proc in reversed(self.servers):
            stop_process(proc)
        self.servers.clear()

    def stage(
        self, name: str, key: dict[str, Any] | None, body: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """Run ``body`` unless a record with the same ``key`` says it already finished.

        ``key=None`` always runs the stage. A record is reused only while the checkpoint it names
        still exists, so deleting a run folder redoes that stage.
        """
        number = len(self.results) + 1
        result = StageResult(name)
        self.results.append(result)
        record = self.records / f"{name.replace(' ', '_')}.json"
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        print(f"\n[{number}] {name}", flush=True)
        if key is not None and not self.settings.fresh and record.exists():
            saved = json.loads(record.read_text())
            checkpoint = saved.get("details", {}).get("checkpoint")
            if saved.get("key") == digest and (checkpoint is None or Path(checkpoint).exists()):
                result.status, result.seconds, result.details = "reused", 0.0, saved["details"]
                print(f"      reused from an earlier run ({record}); --fresh redoes it", flush=True)
                return result.details
        started = time.monotonic()
        try:
            result.details = body()
        except BaseException:
            result.status, result.seconds = "failed", time.monotonic() - started
            raise
        result.status, result.seconds = "done", time.monotonic() - started
        record.write_text(json.dumps({"key": digest, "details": result.details}, indent=2, default=str))
        print(f"      done in {result.seconds:.0f} s", flush=True)
        return result.details

    # ------------------------------------------------------------------ the stages

    def prepare_model(self) -> dict[str, Any]:
        if self.settings.model:
            return {"model": self.settings.model, "kind": "GLOBE_MODEL"}
        from globe.tiny_model import tiny_model_dir

        return {"model": str(tiny_model_dir()), "kind": "tiny random Qwen2.5-VL (cached)"}

    def prepare_data(self) -> dict[str, Any]:
        data = self.out / "data"
        data.mkdir(parents=True, exist_ok=True)
        counts = {}
        for name, csv, extra in (
            ("mp16-reason-train", SAMPLE / "mp16-reason-train.csv", []),
            ("mp16-reason-rm", SAMPLE / "mp16-reason-rm.csv", ["--dedupe-by", "id+reasoning"]),
        ):
            target = data / f"{name}.jsonl"
            self.run(f"data-{name}", [sys.executable, "-m", "globe.data", "convert", "--csv", csv,
                                      "--image-root", SAMPLE / ("train_images"), "--out", target, "--json",
                                      "--no-progress", *extra], self.env())
            counts[name] = sum(1 for line in target.read_text().splitlines() if line.strip())
        return {"rows": counts, "folder": str(data)}

    def train(self, name: str, script: str, output: Path, knobs: dict[str, str]) -> dict[str, Any]:
        self.run(name, ["bash", str(LAUNCHERS / script)], self.env(OUTPUT_DIR=str(output), **knobs))
        return summarise_run(output)

    def serve_rm(self, adapter: str) -> dict[str, Any]:
        port = free_port()
        knobs = {**self.model_knobs(self.model_dir), "SERVE_BACKEND": "swift", "RM_ADAPTER": adapter,
                 "HOST": "127.0.0.1", "PORT": str(port), "MAX_NEW_TOKENS": "4"}
        url = self.serve("serve rm", "serve_rm.sh", self.env(**knobs), port)
        return {"url": url, "model": "globe-rm"}

    def serve_policy(self, checkpoint: str) -> dict[str, Any]:
        port = free_port()
        knobs = {**self.model_knobs(checkpoint), "SERVE_BACKEND": "swift", "HOST": "127.0.0.1",
                 "PORT": str(port), "SERVED_MODEL_NAME": "globe-demo"}
        url = self.serve("serve policy", "serve_policy.sh", self.env(**knobs), port)
        return {"url": url, "model": "globe-demo"}

    def grpo(self, sft_checkpoint: str, rm_adapter: str) -> dict[str, Any]:
        """GRPO from the SFT checkpoint with all rewards, the locatability one served from the RM adapter."""
        s = self.settings
        rm_server = self.serve_rm(rm_adapter)
        try:
            details = self.train("grpo", "train_all_rewards.sh", self.out / "grpo", {
                **self.train_knobs(sft_checkpoint, "mp16-reason-train", s.grpo_steps),
                "NUM_GENERATIONS": str(s.generations), "MAX_COMPLETION_LENGTH": str(s.completion_tokens),
                "GLOBE_RM_URL": rm_server["url"], "GLOBE_RM_MODEL": rm_server["model"],
            })
        finally:
            self.stop_servers()
        return {**details, "reward_model": rm_server}

    def evaluate(self, checkpoint: str) -> dict[str, Any]:
        """Serve the GRPO checkpoint and score it on the sample's test split."""
        policy = self.serve_policy(checkpoint)
        try:
            return {**self.score(policy["url"]), "policy_server": policy}
        finally:
            self.stop_servers()

    def score(self, url: str) -> dict[str, Any]:
        output = self.out / "eval" / "mp16-reason-test.csv"
        output.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(LAUNCHERS / "eval.py"), "--url", url, "--dataset", "mp16-reason-test-12k",
               "--data-root", SAMPLE, "--output", output, "--overwrite", "--use_cot", "--quiet",
               "--max-tokens", str(self.settings.eval_tokens), "--concurrency", "4", "--timeout", "300"]
        if self.settings.eval_rows:
            cmd += ["--limit", str(self.settings.eval_rows)]
        self.run("eval", cmd, self.env())
        summary = json.loads(output.with_suffix(".json").read_text())
        keep = ("n", "n_failed", "country_acc", "city_acc", "acc_1km", "acc_25km", "acc_200km", "acc_750km",
                "acc_2500km", "median_km", "geoscore")
        return {"metrics": {key: summary.get(key) for key in keep},
                "outputs": sorted(str(path) for path in output.parent.iterdir())}

    # ------------------------------------------------------------------ the whole run

    def main(self) -> int:
        s = self.settings
        for folder in (self.out, self.logs, self.records):
            folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        failure: BaseException | None = None
        try:
            model = self.stage("model", None, self.prepare_model)  # cached by tiny_model_dir itself
            self.model_dir = model["model"]
            self.stage("data", {"sample": tree_digest(SAMPLE)}, self.prepare_data)
            base = {"model": self.model_dir, "model_files": tree_digest(Path(self.model_dir)),
                    "data": tree_digest(SAMPLE)}
            sft = self.stage("sft", {**base, "steps": s.sft_steps}, lambda: self.train(
                "sft", "train_sft.sh", self.out / "sft",
                self.train_knobs(self.model_dir, "mp16-reason-sft", s.sft_steps)))
            rm = self.stage("rm", {**base, "steps": s.rm_steps}, lambda: self.train(
                "rm", "train_rm.sh", self.out / "rm",
                self.train_knobs(self.model_dir, "mp16-reason-rm", s.rm_steps)))
            grpo_key = {**base, "sft": sft["checkpoint"], "rm": rm["checkpoint"], "steps": s.grpo_steps,
                        "generations": s.generations, "tokens": s.completion_tokens}
            grpo = self.stage("grpo", grpo_key, lambda: self.grpo(sft["checkpoint"], rm["checkpoint"]))
            self.stage("eval", None, lambda: self.evaluate(grpo["checkpoint"]))
        except KeyboardInterrupt as exc:
            failure = exc
            print("\ninterrupted: stopping servers", file=sys.stderr)
        except Exception as exc:  # report, clean up, exit non-zero
            failure = exc
            print(f"\nFAILED: {exc}", file=sys.stderr)
        finally:
            self.stop_all()
        print_summary(self.results, time.monotonic() - started, self.out, self.tiny)
        (self.out / "summary.json").write_text(json.dumps(
            [{"stage": r.name, "status": r.status, "seconds": round(r.seconds, 1), **r.details} for r in self.results],
            indent=2, default=str))
        if isinstance(failure, KeyboardInterrupt):
            return 130
        return 1 if failure else 0


# ---------------------------------------------------------------------- reading what ms-swift wrote


def summarise_run(output: Path) -> dict[str, Any]:
    """Steps, losses, rewards and the last checkpoint of the newest ms-swift run under ``output``."""
    runs = sorted((p for p in output.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise RuntimeError(f"no ms-swift run folder under {output}")
    run_dir = runs[-1]
    entries = [json.loads(line) for line in (run_dir / "logging.jsonl").read_text().splitlines() if line.strip()]
    steps = [e for e in entries if "loss" in e]
    checkpoints = sorted(run_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    if not checkpoints:
        raise RuntimeError(f"ms-swift saved no checkpoint under {run_dir}")
    rewards: dict[str, float] = {}
    for key in sorted({k for e in steps for k in e if k.startswith("rewards/") and k.endswith("/mean")}):
        values = [float(e[key]) for e in steps if key in e]
        rewards[key.split("/")[1]] = sum(values) / len(values)
    losses = [float(e["loss"]) for e in steps]
    return {
        "steps": len(steps),
        "first_loss": losses[0] if losses else math.nan,
        "last_loss": losses[-1] if losses else math.nan,
        "mean_rewards": rewards,
        "checkpoint": str(checkpoints[-1]),
    }


def tree_digest(folder: Path) -> str:
    """A cheap fingerprint of a folder (names, sizes, mtimes), so edited sample data is not reused."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:16]


def last_line(path: Path, width: int = 90) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").replace("\r", "\n").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:width] if lines else ""


# ---------------------------------------------------------------------- the summary


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def describe(result: StageResult) -> str:
    d = result.details
    if "mean_rewards" in d:
        text = f"{d['steps']} steps, loss {_fmt(d['first_loss'])} -> {_fmt(d['last_loss'])}"
        if d["mean_rewards"]:
            text += "; mean rewards: " + ", ".join(f"{k} {_fmt(v)}" for k, v in d["mean_rewards"].items())
        return text
    if "metrics" in d:
        m = d["metrics"]
        pct = lambda key: "n/a" if m.get(key) is None else f"{100 * m[key]:.0f}%"  # noqa: E731
        return (f"{m['n']} images, {m['n_failed']} failed; country {pct('country_acc')}, city {pct('city_acc')}; "
                f"<=25 km {pct('acc_25km')}, <=200 km {pct('acc_200km')}, <=2500 km {pct('acc_2500km')}; "
                f"GeoScore {_fmt(m['geoscore'])}")
    if "rows" in d:
        return ", ".join(f"{k}: {v} rows" for k, v in d["rows"].items())
    if "url" in d:
        return f"{d['model']} at {d['url']} (stopped at the end)"
    if "kind" in d:
        return f"{d['kind']}: {d['model']}"
    return ""


def print_summary(results: list[StageResult], seconds: float, out: Path, tiny: bool) -> None:
    print("\nGLOBE demo summary")
    print(f"{'stage':<14}{'status':<9}{'time':>7}  what")
    for r in results:
        print(f"{r.name:<14}{r.status:<9}{r.seconds:>6.0f}s  {describe(r)}")
    print(f"{'total':<14}{'':<9}{seconds:>6.0f}s")
    print(f"\noutputs: {out} (logs/, sft/, rm/, grpo/, summary.json)")
    for r in results:
        for path in r.details.get("outputs", []):
            print(f"  {path}")
    if tiny:
        print("note: the model is a tiny RANDOM Qwen2.5-VL: its rewards and accuracy are meaningless. The demo proves\n"
              "      the wiring (data -> SFT -> reward model -> GRPO with all rewards -> serving -> evaluation), not a\n"
              "      model. Set GLOBE_MODEL=/path/to/Qwen2.5-VL-7B-Instruct to run it on a real one.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole GLOBE pipeline on the bundled sample.")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "demo_out", help="where everything goes")
    parser.add_argument("--fast", action="store_true", help="fewer steps and tokens (what the tests run)")
    parser.add_argument("--fresh", action="store_true", help="redo every stage instead of reusing finished ones")
    args = parser.parse_args(argv)
    model = os.environ.get("GLOBE_MODEL") or None
    settings = DemoSettings.fast(args.out, model) if args.fast else DemoSettings(out=args.out, model=model)
    settings.fresh = args.fresh
    # Ctrl-C and `kill` both become KeyboardInterrupt, so the servers are always stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return Demo(settings).main()


if __name__ == "__main__":
    sys.exit(main())
