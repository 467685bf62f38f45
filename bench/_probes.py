"""The measurements ``bench/_ab.py`` runs on both sides of a same-run comparison.

Run as ``python bench/_probes.py PROBE CODE_ROOT`` (by :class:`_ab.Worker`), with ``PYTHONPATH``
set to CODE_ROOT, so every ``import globe`` below is that side's code. This module imports no
``globe`` at top level, and each probe only calls APIs present in both the current checkout
and the bases it has been run against (c3e8018 onwards), falling back where an API moved and
saying so in its notes. A probe's ``measure()`` returns ``{metric: value}``, lower is better
(seconds, or ``"... MB"`` metrics in megabytes).

The driver side (:func:`shared_resources`) builds what both sides must share, once, from the
current checkout: input files and the loopback fake server, in a process of its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

#: The loopback fake server, run from the current checkout (test support; moves with it).
FAKE_SERVER_MODULE = "globe.testing.fake_openai"

_SCRIPTED_SERVER = r"""
import json, re, sys, threading
from %(module)s import FakeOpenAIServer
answers = json.load(open(sys.argv[1]))
marker = re.compile(rb"<<([^<>]{1,200})>>")

def respond(request):
    # Straight to the marker (no scan over every key): the server must not be what is measured.
    import base64
    for message in request.get("messages") or []:
        for part in message.get("content") or [] if isinstance(message.get("content"), list) else []:
            url = (part.get("image_url") or {}).get("url", "") if isinstance(part, dict) else ""
            if url.startswith("data:"):
                found = marker.search(base64.b64decode(url.split(",", 1)[1]))
                if found:
                    return answers.get("<<" + found.group(1).decode() + ">>", answers["*"])
    return answers["*"]

server = FakeOpenAIServer(responder=respond, latency_s=float(sys.argv[2]), record_requests=False)
server.start()
print(server.url, flush=True)
sys.stdin.read()  # until the driver closes our stdin
server.stop()
"""


# --------------------------------------------------------------------------- driver side (current checkout)


@contextlib.contextmanager
def scripted_server(answers: dict[str, str], latency_s: float, root: Path) -> Iterator[str]:
    """A fake OpenAI server in its own process answering ``answers[marker]`` per image; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="globe-bench-server-") as folder:
        answers_file = Path(folder) / "answers.json"
        answers_file.write_text(json.dumps(answers))
        env = {**os.environ, "PYTHONPATH": str(root)}
        process = subprocess.Popen([sys.executable, "-c", _SCRIPTED_SERVER % {"module": FAKE_SERVER_MODULE},
                                    str(answers_file), str(latency_s)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True, env=env, cwd=root)
        try:
            url = process.stdout.readline().strip()
            if not url.startswith("http"):
                raise SystemExit(f"the fake server did not start (printed {url!r})")
            yield url
        finally:
            process.stdin.close()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


#: Answers of the scripted eval set, cycled over the rows: exact names, aliases, other scripts,
#: country-only answers, answers no geocoder places, and answers without the fields.
EVAL_ANSWERS = [
    ("France", "Paris"), ("USA", "NYC"), ("Deutschland", "München"), ("Japan", "東京"), ("Italy", "Florence"),
    ("UK", "London"), ("Brasil", "São Paulo"), ("United States", "Portland, Oregon"), ("Spain", "Barcelona"),
    ("Kenya", "Nairobi"), ("India", "Bombay"), ("Australia", None), ("Canada", "Toronto"), ("Egypt", "Cairo"),
    ("Narnia", "Cair Paravel"), ("Thailand", "Bangkok"), ("Mexico", "Ciudad de México"), ("Peru", "Cusco"),
    (None, None),
]


def eval_answer(index: int) -> str:
    country, city = EVAL_ANSWERS[index % len(EVAL_ANSWERS)]
    think = f"<think>Row {index}: the signs, the road markings and the vegetation point there.</think>"
    if country is None:
        return think + "I cannot tell where this is."
    lines = f"country: {country}" + (f"\ncity: {city}" if city else "")
    return f"{think}<answer>{lines}</answer>"


@contextlib.contextmanager
def shared_resources(probe: str, config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Inputs and servers both sides of ``probe`` use, as extra config entries."""
    root = Path(__file__).resolve().parents[1]
    builder = _SHARED.get(probe)
    if builder is None:
        yield {}
        return
    with builder(config, root) as shared:
        yield shared


@contextlib.contextmanager
def _eval_client_shared(config: dict[str, Any], root: Path) -> Iterator[dict[str, Any]]:
    from globe.testing.fake_openai import write_scripted_eval_set

    rows = int(config.get("rows", 1500))
    places = [(48.85, 2.35), (40.71, -74.0), (48.14, 11.58), (35.68, 139.69), (-33.87, 151.21)]
    with tempfile.TemporaryDirectory(prefix="globe-bench-eval-") as folder:
        spec = [(f"img{index:05d}.jpg", *places[index % len(places)], "", "", eval_answer(index))
                for index in range(rows)]
        gt_file, images, answers = write_scripted_eval_set(folder, spec)
        # Rows name their place by coordinates only half the time: the others are filled by reverse geocoding.
        answers["*"] = eval_answer(0)
        with scripted_server(answers, float(config.get("latency", 0.0)), root) as url:
            yield {"url": url, "gt_file": str(gt_file), "image_root": str(images), "folder": folder}


@contextlib.contextmanager
def _locatability_shared(config: dict[str, Any], root: Path) -> Iterator[dict[str, Any]]:
    with scripted_server({"*": "yes"}, float(config.get("latency", 0.05)), root) as url:
        yield {"url": url}


@contextlib.contextmanager
def _report_shared(config: dict[str, Any], root: Path) -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="globe-bench-report-") as folder:
        paths = {}
        for rows in config.get("report_rows", [210_000]):
            path = Path(folder) / f"predictions_{rows}.csv"
            write_predictions_csv(path, int(rows))
            paths[str(rows)] = str(path)
        yield {"csvs": paths, "folder": folder}


def write_predictions_csv(path: Path, rows: int, seed: int = 0) -> None:
    """A predictions CSV as ``globe-eval`` writes it, at OSV-5M scale: placed, unresolved, failed rows."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    gt_lat, gt_lon = rng.uniform(-60, 70, rows), rng.uniform(-180, 180, rows)
    error = rng.exponential(400, rows)
    bearing = rng.uniform(0, 2 * np.pi, rows)
    pred_lat = np.clip(gt_lat + error / 111 * np.cos(bearing), -89, 89)
    pred_lon = (gt_lon + error / 111 * np.sin(bearing) + 180) % 360 - 180
    status = rng.choice(["ok", "ok", "ok", "ok", "ok", "ok", "unresolved", "no_answer", "timeout"], rows)
    placed = status == "ok"
    countries = np.array(["France", "Japan", "United States", "Brazil", "Kenya", "India", "Germany", "Australia"])
    frame = pd.DataFrame({
        "IMG_ID": [f"{index:08d}.jpg" for index in range(rows)], "LAT": gt_lat, "LON": gt_lon,
        "country": countries[rng.integers(0, len(countries), rows)], "city": "",
        "gt_index": np.arange(rows), "gt_country": countries[rng.integers(0, len(countries), rows)], "gt_city": "",
        "gt_lat": gt_lat, "gt_lon": gt_lon,
        "prediction": "<think>x</think><answer>country: France\ncity: Paris</answer>",
        "pred_country": np.where(placed, "France", ""), "pred_city": np.where(placed, "Paris", ""),
        "pred_lat": np.where(placed, pred_lat, np.nan), "pred_lon": np.where(placed, pred_lon, np.nan),
        "pred_level": np.where(placed, rng.choice(["city", "country", "region"], rows, p=[0.7, 0.2, 0.1]), ""),
        "error_km": np.where(placed, error, np.nan), "status": status, "error": "", "attempts": 1, "latency_s": 0.5,
    })
    frame.to_csv(path, index=False)


_SHARED = {"eval_client": _eval_client_shared, "locatability": _locatability_shared, "eval_report": _report_shared}


# --------------------------------------------------------------------------- worker side (either checkout)


class Probe:
    """One measurement; ``setup`` runs once (untimed), ``measure`` once per round."""

    notes: list[str]

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.notes = []

    def info(self) -> dict[str, Any]:
        return {"notes": self.notes}

    def measure(self) -> dict[str, float]:
        raise NotImplementedError


class EvalClientProbe(Probe):
    """The evaluation client: read, request, parse, place and write N rows, then score them (no plots)."""

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        from globe.eval.cli import make_resolver
        from globe.eval.data import load_ground_truth
        from globe.eval.runner import EvalSettings
        from globe.prompts import geo_prompt

        self.resolver = make_resolver("offline")
        self.resolver("France", "Paris")  # the geo index loads here, outside the timings
        self.gt = load_ground_truth(config["gt_file"], config["image_root"])
        self.settings = EvalSettings(prompt=geo_prompt(True), concurrency=int(config.get("concurrency", 16)),
                                     retries=0, timeout=60.0)
        self.output = Path(tempfile.mkdtemp(prefix="globe-bench-out-")) / "predictions.csv"

    def measure(self) -> dict[str, float]:
        from globe.eval.cli import main
        from globe.eval.runner import run_eval_with_server

        started, cpu = time.perf_counter(), time.process_time()
        stats, _ = asyncio.run(run_eval_with_server(self.gt, self.output, self.config["url"], self.settings,
                                                    self.resolver, overwrite=True, progress=False))
        run_s, run_cpu = time.perf_counter() - started, time.process_time() - cpu
        if stats.n_done_now != len(self.gt.rows):
            raise RuntimeError(f"evaluated {stats.n_done_now} of {len(self.gt.rows)} rows: {stats.status_counts}")
        failed = {k: v for k, v in stats.status_counts.items() if k not in ("ok", "unresolved", "no_answer")}
        if failed:
            raise RuntimeError(f"requests failed against the fake server: {stats.status_counts}")
        started, cpu = time.perf_counter(), time.process_time()
        code = main(["score", str(self.output), "--no-plots"])
        score_s, score_cpu = time.perf_counter() - started, time.process_time() - cpu
        if code:
            raise RuntimeError(f"globe-eval score exited {code}")
        n = len(self.gt.rows)
        run = f"run {n} rows (read+request+parse+place+write)"
        return {f"{run} [CPU]": run_cpu, f"{run} [wall]": run_s,
                f"score {n} rows, no plots [CPU]": score_cpu, f"score {n} rows, no plots [wall]": score_s}


class LocatabilityProbe(Probe):
    """One GRPO batch of 128 completions scored against the RM, in its own event loop (as ms-swift calls it)."""

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        try:
            from globe.locatability import LocatabilityScorer
        except ImportError:
            from globe.rm_client import LocatabilityScorer  # before the rename to globe.locatability

            self.notes.append("globe.rm_client.LocatabilityScorer (before the rename to globe.locatability)")
        from PIL import Image
        import io

        self.n = int(config.get("completions", 128))
        images = []
        for prompt in range(self.n // 8 or 1):
            buffer = io.BytesIO()
            Image.new("RGB", (64, 48), (prompt * 13 % 256, 120, 200)).save(buffer, format="JPEG")
            images.append([{"bytes": buffer.getvalue(), "path": None}])
        self.images = [images[index // 8 % len(images)] for index in range(self.n)]
        self.completions = [f"<think>Double-decker buses, row {index}.</think><answer>country: UK\ncity: London"
                            f"</answer>" for index in range(self.n)]
        self.scorer = LocatabilityScorer(url=config["url"], env={})
        self.scorer.score_sync(self.completions[:2], self.images[:2])  # model lookup outside the timings

    def measure(self) -> dict[str, float]:
        started = time.perf_counter()
        rewards = self.scorer.score_sync(self.completions, self.images)
        seconds = time.perf_counter() - started
        if len(rewards) != self.n or not all(0.85 < reward < 0.95 for reward in rewards):
            raise RuntimeError(f"unexpected rewards: {rewards[:8]}...")
        return {f"locatability, {self.n} completions, RM {float(self.config.get('latency', 0.05)) * 1000:.0f} ms": seconds}


class RewardsProbe(Probe):
    """accuracy + format + visual match over 128 completions never parsed before (names resolved before)."""

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        from globe import geo

        geo.resolve("France", "Paris")
        self.batch = config["batch"]
        self.round = 0
        self._score(self._fresh())  # imports, regexes, name caches

    def _fresh(self) -> dict[str, list]:
        """The batch with a per-round mark in every reasoning: no per-text cache answers for free."""
        self.round += 1
        mark = f" (take {self.round})</think>"
        return {**self.batch, "completions": [text.replace("</think>", mark, 1) if "</think>" in text
                                              else f"{text} (take {self.round})" for text in self.batch["completions"]]}

    def _score(self, batch: dict[str, list]) -> None:
        from globe import rewards

        rewards.accuracy_rewards(batch["completions"], solution=batch["solution"])
        rewards.format_rewards(batch["completions"])
        rewards.visual_match_rewards(batch["completions"], entities=batch["entities"])

    def measure(self) -> dict[str, float]:
        batch = self._fresh()
        started = time.perf_counter()
        for _ in range(int(self.config.get("repeats", 10))):  # one batch is ~ms: ten to get above timer noise
            self._score(batch)
            batch = self._fresh()
        return {f"accuracy+format+visual, {len(batch['completions'])} completions x {self.config.get('repeats', 10)}":
                time.perf_counter() - started}


class GeoProbe(Probe):
    """Resolving distinct names (caches cleared), repeated names, and 10,000 reverse lookups."""

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        import numpy as np

        from globe import geo

        geo.resolve("France", "Paris")
        geo.reverse_many(np.array([0.0]), np.array([0.0]))
        self.names = [tuple(pair) for pair in config["names"]]
        rng = np.random.default_rng(0)
        self.lats, self.lons = rng.uniform(-60, 70, 10_000), rng.uniform(-180, 180, 10_000)
        self.repeated = [self.names[index % 50] for index in range(50_000)]

    def _clear(self) -> None:
        from globe.geo import gazetteer

        for name in ("resolve_cached", "_resolve_cached"):
            cached = getattr(gazetteer, name, None)
            if cached is not None and hasattr(cached, "cache_clear"):
                cached.cache_clear()

    def measure(self) -> dict[str, float]:
        from globe import geo

        self._clear()
        started = time.perf_counter()
        for country, city in self.names:
            geo.resolve(country, city)
        distinct_s = time.perf_counter() - started
        started = time.perf_counter()
        for country, city in self.repeated:
            geo.resolve(country, city)
        repeated_s = time.perf_counter() - started
        started = time.perf_counter()
        geo.reverse_many(self.lats, self.lons)
        reverse_s = time.perf_counter() - started
        return {f"resolve {len(self.names)} distinct names": distinct_s,
                f"resolve {len(self.repeated)} repeated names": repeated_s, "reverse 10,000 points": reverse_s}


class LeakageProbe(Probe):
    """The leakage audit: hashing generated photos, and a radius-11 query of 3k hashes against 200k."""

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        import numpy as np

        from globe.data.leakage import HammingIndex, hash_image  # ImportError: the base has no audit

        from PIL import Image

        self.folder = Path(tempfile.mkdtemp(prefix="globe-bench-leak-"))
        rng = np.random.default_rng(0)
        self.paths = []
        for index in range(int(config.get("images", 100))):
            noise = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
            path = self.folder / f"p{index}.jpg"
            Image.fromarray(noise).resize((640, 480), Image.Resampling.BICUBIC).save(path, quality=90)
            self.paths.append(path)
        self.hash_image = hash_image
        self.HammingIndex = HammingIndex
        self.train = rng.integers(0, np.iinfo(np.uint64).max, int(config.get("train", 200_000)), dtype=np.uint64,
                                  endpoint=True)
        self.test = self.train[rng.integers(0, len(self.train), 3000)] ^ np.uint64(0b1011)

    def measure(self) -> dict[str, float]:
        started = time.perf_counter()
        for path in self.paths:
            self.hash_image(path)
        hash_s = time.perf_counter() - started
        started = time.perf_counter()
        index = self.HammingIndex(self.train)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        index.nearest(self.test, radius=11)
        query_s = time.perf_counter() - started
        return {f"hash {len(self.paths)} photos (1 process)": hash_s,
                f"index {len(self.train):,} hashes": build_s, "query 3,000 hashes, radius 11": query_s}


class EvalReportProbe(Probe):
    """``globe-eval score`` of an OSV-5M-sized predictions CSV, in a fresh interpreter: seconds and peak RSS."""

    _CHILD = "import sys; from globe.eval.cli import main; sys.exit(main(['score', sys.argv[1], '--no-plots']))"

    def measure(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for rows, csv_path in self.config["csvs"].items():
            started = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-c", self._CHILD, csv_path], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode:
                raise RuntimeError(f"globe-eval score {rows} rows exited {process.returncode}: "
                                   f"{process.stderr.read()[-2000:].decode(errors='replace')}")
            process.stderr.close()
            out[f"score {int(rows):,} rows, seconds (process)"] = seconds
            out[f"score {int(rows):,} rows, peak RSS MB"] = usage.ru_maxrss / 1024
        return out


PROBES = {"eval_client": EvalClientProbe, "locatability": LocatabilityProbe, "rewards": RewardsProbe,
          "geo": GeoProbe, "leakage": LeakageProbe, "eval_report": EvalReportProbe}


def serve(probe_name: str) -> None:
    """The worker loop: one JSON request per stdin line, one JSON reply per stdout line."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the probe's own prints (tables, logs) go to stderr
    sys.stdout = sys.stderr
    probe: Probe | None = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "setup":
                try:
                    probe = PROBES[probe_name](request["config"])
                    result: Any = probe.info()
                except ImportError as exc:
                    result = {"unsupported": f"{type(exc).__name__}: {exc}"}
            else:
                assert probe is not None
                result = probe.measure()
            replies.write(json.dumps({"result": result}) + "\n")
        except Exception as exc:  # noqa: BLE001 - reported to the driver with the traceback on stderr
            traceback.print_exc()
            replies.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")


if __name__ == "__main__":
    serve(sys.argv[1])
