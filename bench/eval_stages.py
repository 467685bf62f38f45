"""Benchmark: where an eval run's CPU goes, stage by stage, on the scripted set of ``bench/eval_client.py --base``.

Each stage (find the file, read the image, build the message, parse, parse+place, format and
write the CSV line) runs alone over the same 1,500 rows, in this process, and is timed in CPU
seconds (best of 3); then the whole run (``run_eval_with_server`` against the zero-latency
scripted server, median of 3) and the report (``globe-eval score --no-plots``). What the whole
run costs beyond the stages is the request itself (aiohttp, JSON), the event loop and the
hand-overs to threads. Absolute figures differ between machines: compare two checkouts with
``PYTHONPATH=<other checkout> python bench/eval_stages.py`` on one machine, or use
``bench/eval_client.py --base REF`` for the judged same-run ratio.

    python bench/eval_stages.py [--rows 1500]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # globe and tests.support of this checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _probes  # noqa: E402


def cpu_seconds(work: Callable[[], Any], repeats: int = 3) -> float:
    """The least CPU time of ``repeats`` runs of ``work`` (the least is the one others disturbed least)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def stage_seconds(probe: Any, rows: int) -> dict[str, float]:
    """CPU seconds of each stage alone over the probe's rows."""
    from globe.chat_client import user_message
    from globe.data.image_paths import resolve_image_path
    from globe.data.images import request_image
    from globe.eval import runner

    gt = probe.gt
    texts = [_probes.eval_answer(index) for index in range(rows)]
    paths = [resolve_image_path(gt.image_root, row.image_id) for row in gt.rows]
    images = [request_image(path) for path in paths]
    records = [runner._base_record(row) for row in gt.rows]
    fieldnames = runner.output_columns(gt.columns)
    scored = [runner.score_prediction(dict(record), text, probe.resolver) for record, text in zip(records, texts)]

    def write_all() -> None:
        with runner.AppendOnlyCsv(probe.output.with_suffix(".stages.csv"), fieldnames) as writer:
            for record in scored:
                writer.write(record)

    return {
        "read: find the file (confined to the root)": cpu_seconds(
            lambda: [resolve_image_path(gt.image_root, row.image_id) for row in gt.rows]),
        "read: bounded image reader": cpu_seconds(lambda: [request_image(path) for path in paths]),
        "request: message with the image (base64)": cpu_seconds(
            lambda: [user_message(probe.settings.prompt, image) for image in images]),
        "parse+place: score_prediction (geodesic included)": cpu_seconds(
            lambda: [runner.score_prediction(dict(record), text, probe.resolver)
                     for record, text in zip(records, texts)]),
        "write: format and append the CSV lines": cpu_seconds(write_all),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1500)
    args = parser.parse_args()
    config = {"rows": args.rows, "concurrency": 16}
    with _probes.shared_resources("eval_client", config) as shared:
        probe = _probes.EvalClientProbe({**config, **shared})
        probe.measure()  # warm: imports, caches, the connection
        stages = stage_seconds(probe, args.rows)
        runs = [probe.measure() for _ in range(3)]
    whole = statistics.median(value for run in runs for key, value in run.items() if key.startswith("run ")
                              and key.endswith("[CPU]"))
    report = statistics.median(value for run in runs for key, value in run.items() if key.startswith("score ")
                               and key.endswith("[CPU]"))
    rest = whole - sum(stages.values())
    print(f"\nEval run, {args.rows} rows, zero-latency scripted server, concurrency 16: CPU per stage\n")
    rows = [*stages.items(), ("request, event loop, hand-overs (whole run minus the above)", rest),
            ("WHOLE RUN (median of 3)", whole), ("report: globe-eval score --no-plots (median of 3)", report)]
    width = max(len(name) for name, _ in rows)
    print(f"{'stage'.ljust(width)}  ms/row   share of run")
    for name, seconds in rows:
        share = f"{100 * seconds / whole:5.1f}%" if not name.startswith(("WHOLE", "report")) else ""
        print(f"{name.ljust(width)}  {1000 * seconds / args.rows:6.3f}   {share}")


if __name__ == "__main__":
    main()
