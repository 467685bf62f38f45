"""Same-run A/B benchmarking against a base commit: the machinery every ``bench/*.py --base REF`` shares.

Why it works this way:

* **Each side runs its own code.** The base is checked out into a temporary ``git worktree``
  (removed afterwards) and measured in a worker process whose ``PYTHONPATH`` is that worktree,
  so ``import globe`` there is the base's package; the current side's worker imports this
  checkout's. Both are driven by the same probe (``bench/_probes.py``, from this checkout),
  which only calls APIs present in both versions, or falls back and says so.
* **Start-up is not measured.** A worker is started once per side and keeps its state (geo
  index, data, server connection); the driver then asks each worker in turn for one timed
  repetition of the phase that matters. Only that phase is inside the timer.
* **Alternating rounds, medians, spreads.** Round ``k`` times base then current (the order
  flips every round), so a burst of load from another process hits both sides alike. The
  report gives each side's min and median and the median of the per-round ratios with their
  spread (the 2nd-lowest and 2nd-highest of them, i.e. the ratios once the single most
  disturbed round at each end is dropped; min-max with fewer than five rounds).
* **A regression fails the run.** A metric whose median ratio falls more than the tolerance
  below 1 (current slower than base) is printed as ``REGRESSION`` and the script exits 1.

Usage from a bench script::

    from _ab import add_ab_arguments, run_ab
    ...
    if args.base:
        sys.exit(run_ab("eval_client", args))
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
#: The default tolerance: a metric whose median same-run ratio is below 1 - this fails the run.
DEFAULT_TOLERANCE = 0.10


def add_ab_arguments(parser: argparse.ArgumentParser, rounds: int = 5, tolerance: float = DEFAULT_TOLERANCE) -> None:
    """The ``--base/--rounds/--tolerance`` options every bench script takes."""
    parser.add_argument("--base", default=None, metavar="REF",
                        help="git ref to compare with in the same run (env BASE); HEAD checks the bench's own noise")
    parser.add_argument("--rounds", type=int, default=rounds, help=f"alternating rounds per side (default {rounds})")
    parser.add_argument("--tolerance", type=float, default=tolerance,
                        help=f"largest accepted slowdown vs the base, as a fraction (default {tolerance:g})")


# --------------------------------------------------------------------------- the base checkout


@contextlib.contextmanager
def base_worktree(ref: str) -> Iterator[tuple[Path, str]]:
    """``(path, full commit)`` of a temporary detached worktree of ``ref``; removed on exit."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()
    folder = Path(tempfile.mkdtemp(prefix=f"globe-bench-base-{commit[:10]}-"))
    shutil.rmtree(folder)  # git worktree add wants to create it
    _git("worktree", "add", "--detach", "--quiet", str(folder), commit)
    try:
        yield folder, commit
    finally:
        _git("worktree", "remove", "--force", str(folder), check=False)
        shutil.rmtree(folder, ignore_errors=True)
        _git("worktree", "prune", check=False)


def _git(*args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def side_cache_dir(commit: str | None) -> str:
    """The geo cache a side uses: the caller's for the current checkout and for a base whose
    ``globe/geo`` is this checkout's; else one per base commit (its index format may differ),
    kept between runs so the base pays its index build once."""
    mine = os.environ.get("GLOBE_CACHE_DIR") or str(Path.home() / ".cache" / "globe")
    if commit is None or subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", commit, "--", "globe/geo"]).returncode == 0:
        return mine
    return str(Path(mine) / "bench-base" / commit[:12])


# --------------------------------------------------------------------------- workers


class Worker:
    """A probe running in its own interpreter with one side's code first on ``PYTHONPATH``.

    Speaks one JSON line per request and reply over stdin/stdout; the probe's own prints go to
    stderr (which is passed through with ``--verbose``, else kept for the error message).
    """

    def __init__(self, label: str, probe: str, code_root: Path, cache_dir: str, config: dict[str, Any],
                 verbose: bool = False):
        self.label = label
        env = {**os.environ, "PYTHONPATH": str(code_root), "GLOBE_CACHE_DIR": cache_dir, "PYTHONHASHSEED": "0",
               "TQDM_DISABLE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        self._log = None if verbose else tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(BENCH / "_probes.py"), probe, str(code_root)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env, cwd=tempfile.gettempdir(),
        )
        self.info = self._ask({"op": "setup", "config": config})

    def measure(self) -> dict[str, float]:
        return self._ask({"op": "measure"})

    def _ask(self, request: dict[str, Any]) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.label} worker died:\n{self._stderr_tail()}")
        reply = json.loads(line)
        if "error" in reply:
            raise SystemExit(f"the {self.label} worker failed: {reply['error']}\n{self._stderr_tail()}")
        return reply["result"]

    def _stderr_tail(self) -> str:
        if self._log is None:
            return "(see stderr above)"
        self._log.seek(0)
        return self._log.read()[-4000:]

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.process.stdin.close()  # type: ignore[union-attr]
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------- statistics


@dataclass
class Metric:
    """One timed quantity: seconds per repetition (lower is better) on each side."""

    name: str
    base: list[float] = field(default_factory=list)
    current: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        """Per round, base seconds / current seconds: above 1 means the current code is faster."""
        return [b / c if c > 0 else float("inf") for b, c in zip(self.base, self.current)]


def spread(values: list[float]) -> tuple[float, float]:
    """The range of ``values`` once the most extreme value at each end is dropped (five or more of them)."""
    ordered = sorted(values)
    if len(ordered) >= 5:
        ordered = ordered[1:-1]
    return ordered[0], ordered[-1]


def _fmt(name: str, value: float) -> str:
    """Seconds as ms or s; metrics named ``... MB`` in megabytes."""
    if name.endswith("MB"):
        return f"{value:.0f} MB"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


def report(title: str, metrics: list[Metric], tolerance: float, notes: list[str]) -> bool:
    """Print the comparison table; ``True`` when no metric regressed past ``tolerance``."""
    print(f"\n{title}")
    for note in notes:
        print(f"  note: {note}")
    header = ("metric", "base min", "base median", "current min", "current median", "speed-up (median)",
              "spread", "verdict")
    rows = []
    ok = True
    names = {metric.name for metric in metrics}
    for metric in metrics:
        if not metric.base:  # the base cannot run it: the current side's figures and spread only
            low, high = spread(metric.current)
            rows.append((metric.name, "-", "-", _fmt(metric.name, min(metric.current)),
                         _fmt(metric.name, statistics.median(metric.current)), "-",
                         f"{_fmt(metric.name, low)}-{_fmt(metric.name, high)}", "no base"))
            continue
        ratios = metric.ratios()
        median = statistics.median(ratios)
        low, high = spread(ratios)
        regressed = median < 1 - tolerance
        # Wall time beside a CPU-time twin is shown, not judged: on a shared machine it mostly measures the others.
        informative = metric.name.endswith("[wall]") and metric.name[:-len("[wall]")] + "[CPU]" in names
        ok &= informative or not regressed
        verdict = "REGRESSION" if regressed else ("faster" if median > 1 + tolerance else "same")
        if informative:
            verdict = f"({verdict.lower()}; not judged)"
        rows.append((metric.name, _fmt(metric.name, min(metric.base)), _fmt(metric.name, statistics.median(metric.base)),
                     _fmt(metric.name, min(metric.current)), _fmt(metric.name, statistics.median(metric.current)),
                     f"{median:.2f}x", f"{low:.2f}-{high:.2f}x", verdict))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(header, widths)))
    print("  " + "  ".join("-" * width for width in widths))
    for row in rows:
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    print("  [CPU]: CPU seconds of the timed phase (the measuring process, all its threads), the figure judged; "
          "[wall]: elapsed seconds, shown")
    print(f"  speed-up = base / current per round, seconds or MB ({len(metrics[0].current) if metrics else 0} "
          f"alternating rounds); tolerance {tolerance:.0%}: "
          + ("no regression" if ok else "REGRESSION: the current checkout is slower than the base"))
    return ok


# --------------------------------------------------------------------------- the run


def compare(probe: str, base_ref: str, config: dict[str, Any], rounds: int, tolerance: float, title: str,
            verbose: bool = False) -> int:
    """Measure ``probe`` on ``base_ref`` and on this checkout, alternating; print the table; exit status."""
    started = time.perf_counter()
    # A SIGTERM (a timeout, a CI cancel) unwinds like Ctrl-C, so the workers stop and the worktree goes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with base_worktree(base_ref) as (base_root, commit), _shared_resources(probe, config) as shared:
        full_config = {**config, **shared}
        head = _git("rev-parse", "--short", "HEAD").strip()
        dirty = " (+ uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no").strip() else ""
        print(f"== {probe}: base {base_ref} ({commit[:10]}) vs current {head}{dirty}, {rounds} rounds", flush=True)
        workers = {}
        try:
            workers["base"] = Worker("base", probe, base_root, side_cache_dir(commit), full_config, verbose)
            workers["current"] = Worker("current", probe, ROOT, side_cache_dir(None), full_config, verbose)
            notes = []
            if workers["current"].info.get("unsupported"):
                raise SystemExit(f"{probe}: the current checkout cannot run it: {workers['current'].info['unsupported']}")
            sides = ["base", "current"]
            if workers["base"].info.get("unsupported"):
                notes.append(f"the base cannot run this measurement ({workers['base'].info['unsupported']}): "
                             "the current checkout alone is timed, so there is no ratio")
                sides = ["current"]
            for side in sides:  # one untimed repetition each: caches, connections, imports
                if workers[side].info.get("warm_up", True):
                    workers[side].measure()
            metrics: dict[str, Metric] = {}
            for index in range(rounds):
                order = sides if index % 2 == 0 else sides[::-1]
                for side in order:
                    for name, seconds in workers[side].measure().items():
                        getattr(metrics.setdefault(name, Metric(name)), side).append(seconds)
            notes += [f"base: {note}" for note in workers["base"].info.get("notes", [])]
            notes += [f"current: {note}" for note in workers["current"].info.get("notes", [])]
        finally:
            for worker in workers.values():
                worker.close()
    ok = report(title, list(metrics.values()), tolerance, notes)
    for side in ("base", "current"):
        for reference in workers[side].info.get("references", []):  # slower ways of doing the same, timed once
            if metrics and getattr(next(iter(metrics.values())), side):
                median = statistics.median(getattr(next(iter(metrics.values())), side))
                print(f"  {side}: {reference['label']} took {reference['seconds']:.2f} s in this run; "
                      f"the first median above is {reference['seconds'] / median:.1f}x faster")
    print(f"  ({time.perf_counter() - started:.0f} s in all, start-up and worktree included)")
    return 0 if ok else 1


@contextlib.contextmanager
def _shared_resources(probe: str, config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """What both sides must share, built once from this checkout: input files and the fake server."""
    sys.path.insert(0, str(BENCH))
    import _probes

    with _probes.shared_resources(probe, config) as shared:
        yield shared


def run_ab(probe: str, args: argparse.Namespace, config: dict[str, Any] | None = None, title: str | None = None) -> int:
    """Entry point for a bench script's ``--base``."""
    return compare(probe, args.base, config or {}, args.rounds, args.tolerance,
                   title or f"{probe}: same-run comparison with {args.base}", getattr(args, "verbose", False))


# --------------------------------------------------------------------------- make bench BASE=REF

#: What ``make bench BASE=REF`` runs: name -> the bench script and its arguments.
AB_BENCHES = {
    "eval_client": ["eval_client.py"],
    "rewards": ["rewards.py", "--part", "text"],
    "locatability": ["rewards.py", "--part", "locatability"],
    "geo": ["geo.py"],
    "leakage": ["leakage.py"],
    "eval_report": ["eval_memory.py"],
}


def main(argv: list[str] | None = None) -> int:
    """Run the selected benches against ``--base`` one after another; exit 1 if any regressed."""
    parser = argparse.ArgumentParser(description="Same-run comparisons of this checkout with a base commit.")
    parser.add_argument("--base", required=True, metavar="REF")
    parser.add_argument("--only", default="", help=f"comma- or space-separated subset of {', '.join(AB_BENCHES)}")
    parser.add_argument("extra", nargs="*", help="passed to every bench (e.g. --rounds 7)")
    args = parser.parse_args(argv)
    names = [name for name in args.only.replace(",", " ").split() if name] or list(AB_BENCHES)
    unknown = [name for name in names if name not in AB_BENCHES]
    if unknown:
        raise SystemExit(f"unknown bench(es) {', '.join(unknown)}: choose from {', '.join(AB_BENCHES)}")
    started = time.perf_counter()
    results = {}
    for name in names:
        script, *options = AB_BENCHES[name]
        command = [sys.executable, str(BENCH / script), *options, "--base", args.base, *args.extra]
        results[name] = subprocess.run(command, cwd=ROOT).returncode
    print(f"\n== make bench BASE={args.base}: {time.perf_counter() - started:.0f} s")
    for name, code in results.items():
        print(f"  {name:<13} {'ok' if code == 0 else 'REGRESSION' if code == 1 else f'failed (exit {code})'}")
    return 0 if all(code == 0 for code in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
