"""Benchmark: peak memory of reading huge images for evaluation requests.

Target: evaluating sixteen 12000x12000 JPEGs stays under 500 MB RSS. Each case runs in a fresh
interpreter so its peak RSS (``ru_maxrss``) is its own; all use the same generated files:

* **baseline (full decode)**: the previous eval loader: read the file, decode it at full size
  to check it, send the original bytes as a base64 data URL; in the thread pool that
  ``globe-eval --concurrency 16`` loads images in (``asyncio.to_thread``'s default: CPUs + 4 threads);
* **eval loader**: :func:`globe.data.images.request_image` (JPEG decoded at reduced size, then
  downscaled to the pixel budget) plus the data URL, in the same pool;
* **globe-eval run**: the whole ``globe-eval`` command (geo index, client, CSV, summary) against a
  loopback fake server in its own process, concurrency 16; and the same on 640x640 copies, which
  shows what the command costs without large images (mostly the offline geo index).

    python bench/eval_memory.py                       # 16 images of 12000x12000 (~1-2 min)
    python bench/eval_memory.py --images 4 --size 6000
    python bench/eval_memory.py --base REF [--report-rows 210000,1000000]

``--base REF``: reports at OSV-5M scale (``bench/_ab.py``): ``globe-eval score --no-plots`` of a
generated predictions CSV (210,000 rows by default, OSV-5M's test set; 1,000,000 to see growth)
in a fresh process per repetition, CPU seconds, elapsed seconds and peak RSS, base vs this checkout.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
LIMIT_MB = 500

from _ab import add_ab_arguments, run_ab  # noqa: E402

_LOAD = r"""
import io, json, os, resource, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from globe.chat_client import image_data_url

def baseline(path):
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
    return len(image_data_url(data))

def eval_loader(path):
    from globe.data.images import request_image
    return len(image_data_url(request_image(path)))

load = {"baseline": baseline, "eval": eval_loader}[sys.argv[1]]
paths = sorted(Path(sys.argv[2]).glob("*.jpg"))
with ThreadPoolExecutor(min(32, (os.cpu_count() or 1) + 4)) as pool:  # asyncio.to_thread's default pool
    sizes = list(pool.map(load, paths))
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "sent_bytes": sum(sizes)}))
"""

_RUN = r"""
import json, resource, sys
from globe.eval.cli import main
code = main(sys.argv[1:])
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "exit": code}))
"""


def make_images(folder: Path, count: int, size: int) -> int:
    """``count`` copies of one photo-like JPEG (smooth noise) of ``size`` x ``size``; returns its bytes."""
    script = (
        "import sys; from PIL import Image; Image.MAX_IMAGE_PIXELS = None; n = int(sys.argv[2]); "
        "noise = Image.merge('RGB', [Image.effect_noise((n // 8, n // 8), s) for s in (60, 70, 80)]); "
        "noise.resize((n, n), Image.Resampling.BICUBIC).save(sys.argv[1], quality=90)"
    )
    first = folder / "img00.jpg"
    subprocess.run([sys.executable, "-c", script, str(first), str(size)], check=True)
    for index in range(1, count):
        shutil.copyfile(first, folder / f"img{index:02d}.jpg")
    return first.stat().st_size


def _child(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"case failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_eval(folder: Path, count: int) -> dict:
    """The whole globe-eval command on the images, against a fake server in its own process."""
    gt = folder / "gt.csv"
    gt.write_text("IMG_ID,LAT,LON,country,city\n" + "".join(f"img{i:02d}.jpg,48.85,2.35,France,Paris\n"
                                                           for i in range(count)))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    server = subprocess.Popen([sys.executable, "-m", "tests.support.fake_openai"], stdout=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT)
    try:
        url = server.stdout.readline().strip()
        return _child(_RUN, "--url", url, "--gt-file", str(gt), "--image-root", str(folder), "--output",
                      str(folder / "out.csv"), "--quiet", "--no-plots", "--concurrency", "16", "--overwrite")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=12000, help="width and height of each image")
    parser.add_argument("--report-rows", default="210000",
                        help="with --base: predictions CSV sizes for `globe-eval score`, comma-separated "
                             "(OSV-5M's test set is 210,122 rows; add 1000000 to see the growth)")
    parser.add_argument("--verbose", action="store_true", help="show the workers' output with --base")
    add_ab_arguments(parser, rounds=2)
    args = parser.parse_args()
    if args.base:
        rows = [int(value) for value in args.report_rows.split(",") if value.strip()]
        sys.exit(run_ab("eval_report", args, {"report_rows": rows},
                        f"globe-eval score at OSV-5M scale, each in a fresh process (seconds and peak RSS): "
                        f"base {args.base} vs this checkout, same run"))
    with tempfile.TemporaryDirectory(prefix="globe-eval-memory-") as tmp:
        folder = Path(tmp)
        file_bytes = make_images(folder, args.images, args.size)
        print(f"{args.images} JPEGs of {args.size}x{args.size} ({file_bytes / 1e6:.1f} MB each)")
        small = folder / "small"
        small.mkdir()
        make_images(small, args.images, 640)
        cases = [("baseline (full decode)", _child(_LOAD, "baseline", tmp)),
                 ("eval loader", _child(_LOAD, "eval", tmp)),
                 ("globe-eval run", run_eval(folder, args.images)),
                 ("globe-eval, 640px images", run_eval(small, args.images))]
    base = cases[0][1]["maxrss_kb"]
    print(f"{'case':<26}{'peak RSS MB':>12}{'vs baseline':>13}{'sent MB':>10}")
    for name, result in cases:
        sent = f"{result['sent_bytes'] / 1e6:10.1f}" if "sent_bytes" in result else f"{'-':>10}"
        print(f"{name:<26}{result['maxrss_kb'] / 1024:12.0f}{result['maxrss_kb'] / base:13.3f}{sent}")
    worst = max(result["maxrss_kb"] for name, result in cases[1:3]) / 1024
    print(f"target: under {LIMIT_MB} MB for the eval way -> {'met' if worst < LIMIT_MB else 'NOT met'} "
          f"({worst:.0f} MB)")


if __name__ == "__main__":
    main()
