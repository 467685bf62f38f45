"""Benchmark ``globe-data convert`` on a synthetic MP16-Pro-style CSV: speed and flat memory.

Target: 100,000 rows in under a minute on this machine, with memory that does not grow
with the file. Every case runs in a fresh interpreter (``python -m globe.data convert``) so its
peak RSS (``ru_maxrss``) is its own; a second pass of the same case under ``tracemalloc`` gives the
Python heap peak (timed separately: tracing slows Python ~2x).

Cases, all on the same generated files:

* **baseline**: pandas ``read_csv`` of the whole file plus one ``json.dumps`` per row, no checks
  (the in-memory way to do it: its memory grows with the file);
* **convert, no image checks** on 1/4 of the rows and on all rows (memory must not follow rows);
* **convert, exists**: every row's image file looked up (100,000 symlinks to 8 tiny JPEGs inside the
  image root: a link out of the root is refused);
* **convert, decode** on a subset: every image opened, verified and decoded.

    python bench/data.py                  # 100,000 rows, decode subset 5,000 (~1 min)
    python bench/data.py --rows 20000     # quicker
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COUNTRIES = ["France", "Japan", "United States", "Brazil", "Kenya", "Germany", "India", "Australia", "USA",
             "Czech Republic", "Deutschland", "Viet Nam"]
HEADER = ["IMG_ID", "AUTHOR", "LAT", "LON", "neighbourhood", "city", "county", "state", "region", "country",
          "continent"]

# Runs one conversion in this fresh interpreter and prints its own measurements as one JSON line.
_CHILD = r"""
import json, resource, sys, time, tracemalloc
from globe.data.cli import build_parser, _options
from globe.data.convert import Converter
args = build_parser().parse_args(sys.argv[2:])
trace = sys.argv[1] == "trace"
if trace:
    tracemalloc.start()
start = time.perf_counter()
report = Converter(args.csv, getattr(args, "out", None), _options(args), geo=None).run(rm_out=True)
elapsed = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1] if trace else None
print(json.dumps({"rows": report.rows_read, "kept": report.kept, "dropped": report.total_dropped,
                  "seconds": elapsed, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "heap_peak": peak}))
"""

_BASELINE = r"""
import json, resource, sys, time
import pandas as pd
start = time.perf_counter()
frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
with open(sys.argv[2], "w") as out:
    for row in frame.to_dict("records"):
        out.write(json.dumps(row) + "\n")
print(json.dumps({"rows": len(frame), "seconds": time.perf_counter() - start,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def make_images(folder: Path, n: int = 8) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"base{i}.jpg"
        Image.effect_noise((96, 96), 40 + i).convert("RGB").save(path, format="JPEG", quality=85)
        paths.append(path)
    return paths


def make_csv(path: Path, rows: int) -> list[str]:
    """An MP16-Pro-style CSV; returns the image ids (MP16 ``xx_yy_N.jpg`` names)."""
    ids = []
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            image_id = f"{i % 256:02x}_{(i * 7) % 256:02x}_{i:010d}.jpg"
            ids.append(image_id)
            writer.writerow([image_id, f"{i % 9000}@N00", round(-60 + (i * 0.37) % 120, 6),
                             round(-170 + (i * 1.13) % 340, 6), "", f"Town{i % 997}", "", f"State{i % 50}", "",
                             COUNTRIES[i % len(COUNTRIES)], "Europe"])
    return ids


def link_images(folder: Path, ids: list[str], bases: list[Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image_id in enumerate(ids):
        os.symlink(bases[i % len(bases)], folder / image_id)


def run_child(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def convert_case(csv_path: Path, out: Path, *flags: str) -> dict:
    argv = ["convert", "--csv", str(csv_path), "--out", str(out), "--no-progress", *flags]
    timed = run_child(_CHILD, "time", *argv)
    traced = run_child(_CHILD, "trace", *argv)
    timed["heap_peak"] = traced["heap_peak"]
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--decode-rows", type=int, default=5_000, help="rows checked with full image decoding")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="globe-bench-data-") as tmp:
        tmp_dir = Path(tmp)
        t0 = time.perf_counter()
        csv_path = tmp_dir / "MP16_Pro_filtered.csv"
        ids = make_csv(csv_path, args.rows)
        quarter = tmp_dir / "quarter.csv"
        with open(csv_path, encoding="utf-8") as src, open(quarter, "w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i > args.rows // 4:
                    break
                dst.write(line)
        images = tmp_dir / "images"
        link_images(images, ids, make_images(images / "_base"))  # links must stay inside the image root
        setup_s = time.perf_counter() - t0
        size_mb = csv_path.stat().st_size / 1e6
        print(f"setup: {args.rows:,}-row CSV ({size_mb:.1f} MB) and {len(ids):,} image symlinks in {setup_s:.1f} s; "
              f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")

        results = []
        base = run_child(_BASELINE, str(csv_path), str(tmp_dir / "baseline.jsonl"))
        base["heap_peak"] = None
        results.append(("baseline: pandas read_csv + json.dumps (no checks)", base))
        results.append((f"convert --no-check-images ({args.rows // 4:,} rows)",
                        convert_case(quarter, tmp_dir / "q.jsonl", "--no-check-images")))
        results.append((f"convert --no-check-images ({args.rows:,} rows)",
                        convert_case(csv_path, tmp_dir / "a.jsonl", "--no-check-images")))
        results.append((f"convert --image-check exists ({args.rows:,} rows)",
                        convert_case(csv_path, tmp_dir / "b.jsonl", "--image-root", str(images),
                                     "--image-check", "exists")))
        results.append((f"convert --image-check decode ({args.decode_rows:,}-row subset)",
                        convert_case(csv_path, tmp_dir / "c.jsonl", "--image-root", str(images),
                                     "--image-check", "decode", "--limit", str(args.decode_rows))))

        base_rate = base["rows"] / base["seconds"]
        print(f"{'case':<58}{'rows':>9}{'seconds':>9}{'rows/s':>10}{'vs base':>9}{'peak RSS MB':>13}"
              f"{'py heap MB':>12}")
        for name, r in results:
            rate = r["rows"] / r["seconds"]
            heap = "-" if r["heap_peak"] is None else f"{r['heap_peak'] / 1e6:.1f}"
            print(f"{name:<58}{r['rows']:>9,}{r['seconds']:>9.2f}{rate:>10,.0f}{rate / base_rate:>8.2f}x"
                  f"{r['maxrss_kb'] / 1024:>13.0f}{heap:>12}")
        full = results[2][1]
        quarter_r = results[1][1]
        print()
        print(f"100k-row target (< 60 s): {'MET' if full['seconds'] < 60 else 'MISSED'} "
              f"({full['seconds']:.1f} s without image checks, {results[3][1]['seconds']:.1f} s with existence checks)")
        print(f"memory vs rows: 4x the rows -> peak RSS x{full['maxrss_kb'] / quarter_r['maxrss_kb']:.2f}, "
              f"Python heap x{full['heap_peak'] / quarter_r['heap_peak']:.2f} "
              f"(baseline holds the whole table: {base['maxrss_kb'] / 1024:.0f} MB RSS)")


if __name__ == "__main__":
    main()
