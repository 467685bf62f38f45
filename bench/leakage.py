"""Benchmark: the leakage audit's hashing and query speed (``globe.data.leakage``).

Measured in one run, each against a baseline:

* **hashing** images/s: ``hash_image`` (JPEG draft-mode decode, dHash + pHash from one decode)
  with 1 and 2 worker processes, against the plain way (full-size decode, then
  ``imagehash.phash`` and ``imagehash.dhash``) in one process. Images: generated 640x480
  photo-like JPEGs (``tests.support.photos``). Target: >= 500 images/s on 2 cores.
* **query**: 3k test hashes against 1M training hashes: the multi-index search
  (``HammingIndex.nearest``, radius 11) against the numpy brute force (``brute_force_nearest``,
  xor + popcount over every training hash), timed on a slice of the queries and scaled to all.
  Target: under a second. Hashes are uniform random 64-bit values with planted near copies;
  real photos' hashes cluster more, so real buckets are fuller.

    python bench/leakage.py           # ~1 min
    python bench/leakage.py --quick   # ~20 s
    python bench/leakage.py --base REF  # hashing, index build, query on REF and here (bench/_ab.py)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ab import add_ab_arguments, run_ab  # noqa: E402

from globe.data.leakage import HammingIndex, brute_force_nearest, hash_image, hash_images  # noqa: E402
from tests.support.photos import write_photos  # noqa: E402


def plain_hash(path: Path) -> tuple[int, int]:
    import imagehash
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return int(str(imagehash.phash(image)), 16), int(str(imagehash.dhash(image)), 16)


def bench_hashing(n_images: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        paths = write_photos(folder, range(n_images))
        for path in paths[:8]:  # warm the page cache and the imports
            plain_hash(path), hash_image(path)
        started, cpu = time.perf_counter(), time.process_time()
        for path in paths:
            plain_hash(path)
        rates = [("full decode + imagehash, 1 process (baseline)", n_images / (time.perf_counter() - started),
                  n_images / (time.process_time() - cpu))]
        for workers in (1, 2):
            started, cpu = time.perf_counter(), time.process_time()
            _, _, ok = hash_images(paths, workers=workers)
            assert ok.all()
            wall = n_images / (time.perf_counter() - started)
            per_cpu = n_images / (time.process_time() - cpu) if workers == 1 else float("nan")
            rates.append((f"draft decode, {workers} worker{'s' if workers > 1 else ''}", wall, per_cpu))
    return rates


def planted_hashes(n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random training hashes; a third of the test hashes are copies with 0-10 bits flipped."""
    rng = np.random.default_rng(seed)
    train = rng.integers(0, np.iinfo(np.uint64).max, n_train, dtype=np.uint64, endpoint=True)
    test = rng.integers(0, np.iinfo(np.uint64).max, n_test, dtype=np.uint64, endpoint=True)
    for i in range(0, n_test, 3):
        value = int(train[rng.integers(n_train)])
        for bit in rng.choice(64, rng.integers(0, 11), replace=False):
            value ^= 1 << int(bit)
        test[i] = value
    return train, test


def bench_query(n_train: int, n_test: int, baseline_queries: int) -> list[tuple[str, float]]:
    train, test = planted_hashes(n_train, n_test)
    started = time.perf_counter()
    index = HammingIndex(train)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    found, distance = index.nearest(test, radius=11)
    query_s = time.perf_counter() - started
    started = time.perf_counter()
    exact_index, exact_distance = brute_force_nearest(train, test[:baseline_queries])
    brute_s = (time.perf_counter() - started) * n_test / baseline_queries
    within = exact_distance <= 11
    assert np.array_equal(distance[:baseline_queries][within], exact_distance[within]), "MIH disagrees with brute force"
    print(f"  planted copies found: {(distance >= 0).sum()} of {n_test} queries (expected >= {len(range(0, n_test, 3))})")
    return [("brute force xor+popcount (baseline, scaled)", brute_s), ("multi-index search, radius 11", query_s),
            ("index build (once per run)", build_s)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and training hashes")
    parser.add_argument("--images", type=int, default=None, help="images to hash (default 600, quick 200)")
    parser.add_argument("--train", type=int, default=None, help="training hashes (default 1,000,000, quick 200,000)")
    parser.add_argument("--test", type=int, default=3000, help="test hashes (default 3000)")
    parser.add_argument("--verbose", action="store_true", help="show the workers' output with --base")
    add_ab_arguments(parser)
    args = parser.parse_args()
    if args.base:
        sys.exit(run_ab("leakage", args, {"images": args.images or 100, "train": args.train or 200_000},
                        f"leakage audit: base {args.base} vs this checkout, same run"))
    n_images = args.images or (200 if args.quick else 600)
    n_train = args.train or (200_000 if args.quick else 1_000_000)

    print(f"hashing {n_images} generated 640x480 JPEGs")
    rates = bench_hashing(n_images)
    baseline = rates[0][1]
    print("  (images per CPU-second do not depend on other load on the machine; 2 idle cores give about twice)")
    print(f"  {'method':<48} {'images/s':>10} {'vs baseline':>12} {'per CPU-s':>10}")
    for name, rate, per_cpu in rates:
        cpu_rate = "-" if per_cpu != per_cpu else f"{per_cpu:.0f}"  # NaN: the workers' CPU time is not ours
        print(f"  {name:<48} {rate:>10.0f} {rate / baseline:>11.2f}x {cpu_rate:>10}")

    print(f"\nquery: {args.test} test hashes against {n_train:,} training hashes")
    timings = bench_query(n_train, args.test, baseline_queries=min(args.test, 150))
    brute = timings[0][1]
    print(f"  {'method':<48} {'seconds':>10} {'speed-up':>12}")
    for name, seconds in timings:
        ratio = f"{brute / seconds:>11.1f}x" if "build" not in name else f"{'':>12}"
        print(f"  {name:<48} {seconds:>10.3f} {ratio}")


if __name__ == "__main__":
    main()
