"""Benchmark: local vs Ray Data throughput of the two data jobs that outgrow one machine.

Measured in one run on this machine, each Ray figure next to its local baseline:

* **hashing** (``globe-data leakage``): images/s of :func:`globe.data.leakage.hash_images` with
  2 local worker processes (baseline) against :func:`globe.data.leakage_ray.hash_images_ray` on a
  Ray cluster of this machine's cores; generated 640x480 photo-like JPEGs. The hashes must match.
* **distillation** (``globe-distill``): rows/s of the local asyncio pipeline (baseline) against
  ``--ray`` (2 pipeline actors), on generated images against a loopback scripted teacher with a fixed
  latency per request, the same ``--concurrency``; the kept rows must match.

The Ray figures include the job's start (actors importing the pipeline, the cluster scheduling),
which on two cores is most of the time: the point of ``--ray`` is the same outputs with a path to
many machines, not speed on one. Both paths share one cluster started here on loopback (its own
process group, stopped at the end).

    python bench/scale.py            # ~2-4 min on 2 cores
    python bench/scale.py --quick
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from globe.data.leakage import hash_images  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg  # noqa: E402
from tests.support.photos import write_photos  # noqa: E402
from tests.support.ray_cluster import local_ray_cluster  # noqa: E402


def bench_hashing(n_images: int, address: str) -> list[tuple[str, float]]:
    from globe.data.leakage_ray import hash_images_ray
    from globe.scale import connect, quiet_progress

    connect(address, "bench")
    quiet_progress()
    with tempfile.TemporaryDirectory() as folder:
        paths = write_photos(folder, range(n_images))
        hash_images(paths[:8], workers=1)  # warm the page cache and the imports
        started = time.perf_counter()
        local = hash_images(paths, workers=2)
        local_rate = n_images / (time.perf_counter() - started)
        started = time.perf_counter()
        remote = hash_images_ray(paths)
        ray_rate = n_images / (time.perf_counter() - started)
        assert all(np.array_equal(a, b) for a, b in zip(local, remote)), "the Ray hashes differ from the local ones"
    return [("local, 2 worker processes (baseline)", local_rate), ("Ray Data job", ray_rate)]


def _distill_world(root: Path, n_rows: int) -> Path:
    (root / "images").mkdir(parents=True)
    with open(root / "gt.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["IMG_ID", "LAT", "LON", "city", "country"])
        for i in range(n_rows):
            (root / "images" / f"R{i:04d}.jpg").write_bytes(marked_jpeg(f"<R{i:04d}>"))
            writer.writerow([f"R{i:04d}.jpg", 48.8566, 2.3522, "Paris", "France"])
    return root / "gt.csv"


def _run_distill(root: Path, url: str, out: str, *extra: str) -> float:
    import subprocess

    args = [sys.executable, "-m", "globe.distill", "--gt-file", str(root / "gt.csv"), "--image-root",
            str(root / "images"), "--out-dir", str(root / out), "--teacher", f"{url}=teacher", "--no-progress",
            "--concurrency", "8", "--image-check", "exists", *extra]
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])
    return time.perf_counter() - started


def bench_distill(n_rows: int, address: str, latency_s: float) -> list[tuple[str, float]]:
    answer = json.dumps({"locatable": "yes", "confidence": 0.9, "reasoning": "Zinc roofs and Haussmann facades.",
                         "entities": ["zinc roofs"], "country": "France", "city": "Paris"})
    with tempfile.TemporaryDirectory() as folder, FakeOpenAIServer(default_answer=answer, latency_s=latency_s,
                                                                   model="teacher") as server:
        root = Path(folder)
        _distill_world(root, n_rows)
        local_s = _run_distill(root, server.url, "local")
        ray_s = _run_distill(root, server.url, "ray", "--ray", address, "--ray-actors", "2")
        kept = [sorted((root / out / "train.jsonl").read_text().splitlines()) for out in ("local", "ray")]
        assert kept[0] == kept[1] and len(kept[0]) == n_rows, "the Ray run kept other rows than the local run"
    return [("local asyncio pipeline (baseline)", n_rows / local_s), ("--ray, 2 pipeline actors", n_rows / ray_s)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    args = parser.parse_args()
    n_images, n_rows = (400, 60) if args.quick else (2000, 200)
    with tempfile.TemporaryDirectory() as logs, local_ray_cluster(Path(logs) / "ray.log") as address:
        hashing = bench_hashing(n_images, address)
        distill = bench_distill(n_rows, address, latency_s=0.05)
    print(f"\nhashing {n_images} images (640x480 JPEG), same run:")
    print(f"  {'path':<40} {'images/s':>10} {'vs baseline':>12}")
    for name, rate in hashing:
        print(f"  {name:<40} {rate:>10.1f} {rate / hashing[0][1]:>11.2f}x")
    print(f"\ndistilling {n_rows} rows (teacher latency 50 ms, --concurrency 8; process start included), same run:")
    print(f"  {'path':<40} {'rows/s':>10} {'vs baseline':>12}")
    for name, rate in distill:
        print(f"  {name:<40} {rate:>10.2f} {rate / distill[0][1]:>11.2f}x")


if __name__ == "__main__":
    main()
