"""Benchmark: what a hung reward model costs the locatability reward, with the default settings.

A loopback fake RM in its own process accepts every connection and never answers (the
chat endpoint, or ``/v1/models``). One ``LocatabilityScorer`` with the DEFAULT settings
(``GLOBE_RM_DEADLINE`` 25 s, timeout 20 s, 2 retries, concurrency 64, breaker cool-down
60 s) scores batches of 128 completions the way ms-swift calls it (``asyncio.run`` per
batch). Measured in the same run:

* **baseline**: one batch of 128 against a healthy RM (50 ms per answer), what a step
  normally pays;
* **hung chat**: the first batch (must fall back within 30 s), the next two (within 2 s:
  the breaker is open, nothing is sent);
* **hung /v1/models**: the same, with no ``GLOBE_RM_MODEL`` so the model must be looked up;
* with ``--old``, also the behaviour before the deadline and the breaker (no deadline,
  nothing remembered between batches): minutes per batch (the issue measured 155 s).

    python bench/rm_outage.py          # ~1 minute
    python bench/rm_outage.py --old    # + ~5 minutes
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from globe.locatability import LocatabilityScorer  # noqa: E402
from tests.support.fake_openai import marked_jpeg, server_process  # noqa: E402

N = 128
COMPLETION = "<think>Red double-decker buses and left-hand traffic.</think><answer>country: UK\ncity: London</answer>"


def fake_rm(*flags: str):
    """The fake RM (answers "yes") in a child process; yields its /v1 URL."""
    return server_process("--answer", "yes", *flags)


def batch_inputs(n: int = N):
    return ([f"{COMPLETION} #{i}" for i in range(n)],
            [[{"bytes": marked_jpeg(f"IMG-{i // 16}"), "path": None}] for i in range(n)])


def timed_batches(scorer: LocatabilityScorer, batches: int) -> list[tuple[float, str]]:
    """(seconds, statuses summary) per batch, each in its own event loop like ms-swift."""
    completions, images = batch_inputs()
    out = []
    for _ in range(batches):
        started = time.perf_counter()
        asyncio.run(scorer.score(completions, images))
        elapsed = time.perf_counter() - started
        statuses = scorer.last_batch.statuses
        summary = ", ".join(f"{status} x{statuses.count(status)}" for status in sorted(set(statuses)))
        out.append((elapsed, summary))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", action="store_true", help="also measure the pre-breaker behaviour (slow)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="  log: %(message).160s")

    rows = []
    with fake_rm("--latency", "0.05") as url:
        scorer = LocatabilityScorer(url=url, env={})
        timed_batches(scorer, 1)  # imports and connections outside the timing
        (baseline, summary), = timed_batches(scorer, 1)
    rows.append(("healthy RM, 50 ms per answer", 1, baseline, summary, None))

    with fake_rm("--hang") as url:
        results = timed_batches(LocatabilityScorer(url=url, env={}, model="fake-model"), 3)
    for index, (seconds, summary) in enumerate(results, 1):
        rows.append(("hung chat endpoint", index, seconds, summary, 30.0 if index == 1 else 2.0))

    with fake_rm("--hang-models") as url:
        results = timed_batches(LocatabilityScorer(url=url, env={}), 2)
    for index, (seconds, summary) in enumerate(results, 1):
        rows.append(("hung /v1/models, no GLOBE_RM_MODEL", index, seconds, summary, 30.0 if index == 1 else 2.0))

    if args.old:
        with fake_rm("--hang") as url:
            old = LocatabilityScorer(url=url, env={}, model="fake-model", deadline=None, timeout=30.0, cooldown=0.0,
                                     probe_timeout=1e9)
            results = timed_batches(old, 2)
        for index, (seconds, summary) in enumerate(results, 1):
            rows.append(("hung chat, no deadline and no breaker (before)", index, seconds, summary, None))

    print(f"\nLocatability reward against a hung reward model, default settings, {N} completions per batch\n")
    header = ("reward model", "batch", "seconds", "x baseline", "target", "rows")
    table = [(name, str(index), f"{seconds:.2f}", f"{seconds / baseline:.1f}",
              "-" if target is None else f"<= {target:g} s {'ok' if seconds <= target else 'MISSED'}", summary)
             for name, index, seconds, summary, target in rows]
    widths = [max(len(row[i]) for row in table + [header]) for i in range(len(header))]
    print("  ".join(cell.ljust(width) for cell, width in zip(header, widths)))
    print("  ".join("-" * width for width in widths))
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    main()
