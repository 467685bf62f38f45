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

def fake_server_module(root: Path) -> str:
    """The loopback fake server's module in this checkout: test support, outside the package
    (``tests/support``) or, before it moved, ``globe.testing``."""
    return "tests.support.fake_openai" if (root / "tests" / "support" / "fake_openai.py").exists() \
        else "globe.testing.fake_openai"

_SCRIPTED_SERVER = r"""
import json, re, sys, threading
from %(module)s import FakeOpenAIServer
answers = json.load(open(sys.argv[1]))
marker = re.compile(rb"<<([^<>]{1,200})>>")

def respond(request):
    # Straight to the marker (no scan over every key): the server must not be what is measured.
    import base64
    if len(answers) == 1:  # only the default answer: no image to read
        return answers["*"]
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
        process = subprocess.Popen([sys.executable, "-c", _SCRIPTED_SERVER % {"module": fake_server_module(root)},
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
    import importlib

    write_scripted_eval_set = importlib.import_module(fake_server_module(root)).write_scripted_eval_set

    rows = int(config.get("rows", 1500))
    places = [(48.85, 2.35), (40.71, -74.0), (48.14, 11.58), (35.68, 139.69), (-33.87, 151.21)]
    with tempfile.TemporaryDirectory(prefix="globe-bench-eval-") as folder:
        spec = [(f"img{index:05d}.jpg", *places[index % len(places)], "", "", eval_answer(index))
                for index in range(rows)]
        gt_file, images, answers = write_scripted_eval_set(folder, spec)
        if config.get("image_size"):  # photo-like JPEGs instead of tiny flat ones, with the same markers
            for index, (name, *_) in enumerate(spec):
                (images / name).write_bytes(bench_image(index, config["image_size"], comment=f"<<{name}>>"))
        # Rows name their place by coordinates only half the time: the others are filled by reverse geocoding.
        answers["*"] = eval_answer(0)
        with scripted_server(answers, float(config.get("latency", 0.0)), root) as url:
            yield {"url": url, "gt_file": str(gt_file), "image_root": str(images), "folder": folder}


@contextlib.contextmanager
def _locatability_shared(config: dict[str, Any], root: Path) -> Iterator[dict[str, Any]]:
    """The RM both sides ask: the aiohttp fake server (``server="fake"``, it parses every request and
    costs about as much CPU as the client), or ``"loopback"``, :mod:`tests.support.loopback_rm`, which
    costs almost none, as a reward model on another machine costs the trainer's."""
    latency = float(config.get("latency", 0.05))
    if config.get("server", "fake") == "fake":
        with scripted_server({"*": "yes"}, latency, root) as url:
            yield {"url": url}
        return
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen([sys.executable, "-m", "tests.support.loopback_rm", "--latency", str(latency)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=root)
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise SystemExit(f"the loopback RM did not start (printed {url!r})")
        yield {"url": url}
    finally:
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: Bump when :func:`write_predictions_csv` changes: the generated CSVs are kept between runs.
PREDICTIONS_VERSION = 1


@contextlib.contextmanager
def _report_shared(config: dict[str, Any], root: Path) -> Iterator[dict[str, Any]]:
    """Predictions CSVs of the asked sizes, generated once (a geodesic a row) and kept in the geo cache folder."""
    from globe.geo.cache import cache_dir

    folder = Path(cache_dir()) / "bench-inputs"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for rows in config.get("report_rows", [210_000]):
        path = folder / f"predictions_{int(rows)}_v{PREDICTIONS_VERSION}.csv"
        if not path.exists():
            print(f"  writing {path} ({int(rows):,} rows, once)", flush=True)
            partial = path.with_suffix(".partial")
            write_predictions_csv(partial, int(rows))
            partial.replace(path)
        paths[str(rows)] = str(path)
    yield {"csvs": paths}


def write_predictions_csv(path: Path, rows: int, seed: int = 0) -> None:
    """A predictions CSV as ``globe-eval`` writes it, at OSV-5M scale.

    Truths are photos near 3,000 real GeoNames cities (country and city named, as OSV-5M's are);
    answers name the right city, another city of the country, a far city, the country only, or
    nothing; a few requests failed. Names repeat as they do in a real test set.
    """
    import numpy as np
    import pandas as pd

    from globe.geo import countries, gazetteer

    rng = np.random.default_rng(seed)
    gaz = gazetteer.gazetteer()
    pool = rng.choice(len(gaz), 3000, replace=False)
    city_names = np.array([str(gaz.name[i]) for i in pool], dtype=object)
    country_names = np.array([countries.country_name(gaz.cc[i]) or str(gaz.cc[i]) for i in pool], dtype=object)
    lats, lons = np.asarray(gaz.lat)[pool].astype(float), np.asarray(gaz.lon)[pool].astype(float)
    truth = rng.integers(0, len(pool), rows)
    kind = rng.choice(["same", "other", "country", "none", "failed"], rows, p=[0.35, 0.45, 0.1, 0.05, 0.05])
    guess = np.where(kind == "same", truth, rng.integers(0, len(pool), rows))
    gt_lat = np.clip(lats[truth] + rng.normal(0, 0.05, rows), -90, 90)
    gt_lon = (lons[truth] + rng.normal(0, 0.05, rows) + 180) % 360 - 180
    placed = np.isin(kind, ["same", "other", "country"])
    pred_country = np.where(kind == "none", "", np.where(kind == "failed", "", country_names[guess]))
    pred_city = np.where(np.isin(kind, ["same", "other"]), city_names[guess], "")
    answer = np.array([f"<think>Row {i}.</think><answer>country: {c}\ncity: {t}</answer>"
                       for i, (c, t) in enumerate(zip(pred_country, pred_city))], dtype=object)
    frame = pd.DataFrame({
        "IMG_ID": [f"{index:08d}.jpg" for index in range(rows)], "LAT": gt_lat, "LON": gt_lon,
        "country": country_names[truth], "city": city_names[truth],
        "gt_index": np.arange(rows), "gt_country": country_names[truth], "gt_city": city_names[truth],
        "gt_lat": gt_lat, "gt_lon": gt_lon,
        "prediction": np.where(kind == "failed", "", np.where(kind == "none", "I cannot tell.", answer)),
        "pred_country": pred_country, "pred_city": pred_city,
        "pred_lat": np.where(placed, lats[guess], np.nan), "pred_lon": np.where(placed, lons[guess], np.nan),
        "pred_level": np.where(placed, np.where(kind == "country", "country", "city"), ""),
        "status": np.where(placed, "ok", np.where(kind == "none", "no_answer", "timeout")),
        "error": "", "attempts": 1, "latency_s": 0.5,
    })
    frame.insert(frame.columns.get_loc("pred_level") + 1, "error_km", np.nan)  # filled below, as the runner does
    from globe.geo import distance_km

    frame.loc[placed, "error_km"] = [distance_km((a, b), (c, d)) for a, b, c, d in zip(
        gt_lat[placed], gt_lon[placed], lats[guess][placed], lons[guess][placed])]
    frame.to_csv(path, index=False)


_SHARED = {"eval_client": _eval_client_shared, "locatability": _locatability_shared, "eval_report": _report_shared}


# --------------------------------------------------------------------------- worker side (either checkout)


class timed:
    """Times a block in CPU seconds of this process (all threads) and in elapsed seconds.

    CPU time is what the comparison judges: on a machine shared with other work, elapsed time
    mostly measures the others; it is reported beside it.
    """

    def __enter__(self) -> "timed":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def metrics(self, name: str) -> dict[str, float]:
        return {f"{name} [CPU]": self.cpu, f"{name} [wall]": self.wall}


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
        try:  # the event loop globe-eval runs on (uvloop's when installed)
            from globe.aio import event_loop_name, run
        except ImportError:
            run, event_loop_name = asyncio.run, lambda: "asyncio"
            self.notes.append("asyncio.run (before globe.aio)")
        self.run = run
        self.notes.append(f"event loop: {event_loop_name()}")

    def measure(self) -> dict[str, float]:
        from globe.eval.cli import main
        from globe.eval.runner import run_eval_with_server

        started, cpu = time.perf_counter(), time.process_time()
        stats, _ = self.run(run_eval_with_server(self.gt, self.output, self.config["url"], self.settings,
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
    """One GRPO batch of 128 completions scored against the RM, in its own event loop (as ms-swift calls it).

    The batch is shaped as GRPO's: ``completions / generations`` prompts (16 generations each, the
    launchers' default), every completion carrying its own copy of its prompt's image bytes (rows
    are read one by one, so equal images are equal bytes, not one object). ``image_size`` "WxH"
    makes photo-like JPEGs of that size (about 90 KB at 512x384) instead of the default tiny ones.
    Metrics: the batch's elapsed time (``[wall]``, what the sequential reference is compared with)
    and this process's CPU time (``[CPU]``, the figure judged: the client's own cost).
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        try:
            from globe.locatability import LocatabilityScorer
        except ImportError:
            from globe.rm_client import LocatabilityScorer  # before the rename to globe.locatability

            self.notes.append("globe.rm_client.LocatabilityScorer (before the rename to globe.locatability)")
        self.n = int(config.get("completions", 128))
        generations = int(config.get("generations", 16))
        prompts = [bench_image(prompt, config.get("image_size")) for prompt in range(max(1, self.n // generations))]
        self.images = [[{"bytes": bytes(bytearray(prompts[index // generations % len(prompts)])), "path": None}]
                       for index in range(self.n)]
        self.completions = [f"<think>Double-decker buses, row {index}.</think><answer>country: UK\ncity: London"
                            f"</answer>" for index in range(self.n)]
        self.scorer = LocatabilityScorer(url=config["url"], env={})
        self.scorer.score_sync(self.completions[:2], self.images[:2])  # model lookup outside the timings
        self.references: list[dict[str, Any]] = []
        if config.get("sequential", True):  # the references: one request at a time, the released way and ours
            released_locatability(config["url"], self.completions[:2], self.images[:2])
            started = time.perf_counter()
            released_locatability(config["url"], self.completions, self.images)
            self.references.append({"label": "the released client (a new OpenAI client per completion, one "
                                             "after another)", "seconds": time.perf_counter() - started})
            sequential = self.scorer.with_options(concurrency=1)
            sequential.score_sync(self.completions[:2], self.images[:2])
            started = time.perf_counter()
            sequential.score_sync(self.completions, self.images)
            self.references.append({"label": "this side's client at concurrency 1 (one request at a time)",
                                    "seconds": time.perf_counter() - started})

    def info(self) -> dict[str, Any]:
        return {**super().info(), "references": self.references}

    def measure(self) -> dict[str, float]:
        started, cpu = time.perf_counter(), time.process_time()
        rewards = self.scorer.score_sync(self.completions, self.images)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        if len(rewards) != self.n or not all(0.85 < reward < 0.95 for reward in rewards):
            raise RuntimeError(f"unexpected rewards: {rewards[:8]}...")
        name = f"locatability, {self.n} completions, RM {float(self.config.get('latency', 0.05)) * 1000:.0f} ms"
        return {f"{name} [wall]": seconds, f"{name} [CPU]": cpu_seconds}


def released_locatability(url: str, completions: list[str], images: list[list[dict[str, Any]]]) -> list[float]:
    """The released reward's client: a new ``openai.OpenAI`` client per completion, one after another,
    P(yes) from the first token's top logprobs (yes/Yes/YES against no/No/NO, summed)."""
    import base64
    import math

    from openai import OpenAI

    from globe.prompts import LOCATABILITY_SYSTEM_PROMPT

    out = []
    for text, row in zip(completions, images):
        client = OpenAI(api_key="EMPTY", base_url=url)
        data = base64.b64encode(row[0]["bytes"]).decode()
        response = client.chat.completions.create(
            model="fake-model", max_tokens=3, temperature=0.0, logprobs=True, top_logprobs=5,
            messages=[{"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT},
                      {"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"data:image;base64,{data}"}},
                                                   {"type": "text", "text": text}]}],
        )
        yes = no = 0.0
        for entry in response.choices[0].logprobs.content[0].top_logprobs:
            if entry.token in ("yes", "Yes", "YES"):
                yes += math.exp(entry.logprob)
            elif entry.token in ("no", "No", "NO"):
                no += math.exp(entry.logprob)
        out.append(yes / (yes + no + 1e-19))
        client.close()
    return out


def bench_image(index: int, size: str | None = None, comment: str = "") -> bytes:
    """A JPEG per prompt: tiny and flat by default, else ``"WxH"`` of gradient and noise (photo-sized bytes);
    ``comment`` goes in its comment segment (the scripted server's marker)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    if not size:
        Image.new("RGB", (64, 48), (index * 13 % 256, 120, 200)).save(buffer, format="JPEG", comment=comment.encode())
        return buffer.getvalue()
    import numpy as np

    width, height = (int(part) for part in str(size).lower().split("x"))
    rng = np.random.default_rng(index)
    gradient = np.linspace(0, 150, width * height * 3).reshape(height, width, 3)
    pixels = (gradient + rng.integers(0, 100, (height, width, 3))).astype("uint8")
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=85, comment=comment.encode())
    return buffer.getvalue()


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
        batches = [self._fresh() for _ in range(int(self.config.get("repeats", 10)))]
        with timed() as elapsed:
            for batch in batches:  # one batch is ~ms: several to get above timer noise
                self._score(batch)
        return elapsed.metrics(f"accuracy+format+visual, {len(batches[0]['completions'])} completions x {len(batches)}")


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
        out: dict[str, float] = {}
        with timed() as elapsed:
            for country, city in self.names:
                geo.resolve(country, city)
        out.update(elapsed.metrics(f"resolve {len(self.names):,} distinct names (caches cleared)"))
        with timed() as elapsed:
            for country, city in self.repeated:
                geo.resolve(country, city)
        out.update(elapsed.metrics(f"resolve {len(self.repeated):,} repeated names"))
        with timed() as elapsed:
            geo.reverse_many(self.lats, self.lons)
        out.update(elapsed.metrics("reverse 10,000 points"))
        with timed() as elapsed:
            for index in range(2000):
                geo.distance_km((self.lats[index], self.lons[index]), (self.lats[-index - 1], self.lons[-index - 1]))
        out.update(elapsed.metrics("distance_km, 2,000 pairs (geodesic)"))
        return out


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
        out: dict[str, float] = {}
        with timed() as elapsed:
            for path in self.paths:
                self.hash_image(path)
        out.update(elapsed.metrics(f"hash {len(self.paths)} photos (1 process)"))
        with timed() as elapsed:
            index = self.HammingIndex(self.train)
        out.update(elapsed.metrics(f"index {len(self.train):,} hashes"))
        with timed() as elapsed:
            index.nearest(self.test, radius=11)
        out.update(elapsed.metrics("query 3,000 hashes, radius 11"))
        return out


class EvalReportProbe(Probe):
    """``globe-eval score`` of an OSV-5M-sized predictions CSV, in a fresh interpreter: seconds and peak RSS."""

    _CHILD = "import sys; from globe.eval.cli import main; sys.exit(main(['score', sys.argv[1], '--no-plots']))"

    def info(self) -> dict[str, Any]:
        return {**super().info(), "warm_up": False}  # every repetition is a fresh process anyway

    def measure(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for rows, csv_path in self.config["csvs"].items():
            started = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-c", self._CHILD, csv_path], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
            cpu = usage.ru_utime + usage.ru_stime
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode:
                raise RuntimeError(f"globe-eval score {rows} rows exited {process.returncode}: "
                                   f"{process.stderr.read()[-2000:].decode(errors='replace')}")
            process.stderr.close()
            out[f"score {int(rows):,} rows, whole process [CPU]"] = cpu
            out[f"score {int(rows):,} rows, whole process [wall]"] = seconds
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
                    check_imports()
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


def confine_imports(code_root: Path) -> None:
    """Make ``import globe...`` find only ``code_root``'s package.

    An editable install (``pip install -e .``) adds a finder that maps ``globe``'s modules to the
    installed checkout; it answers after ``PYTHONPATH`` does, so a module the base commit lacks
    would silently come from the current checkout. It is removed here, and
    :func:`check_imports` verifies every ``globe`` module loaded came from ``code_root``.
    """
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not getattr(finder, "__module__", "").startswith("__editable__")]
    os.environ["GLOBE_BENCH_CODE_ROOT"] = str(code_root.resolve())


def check_imports() -> None:
    root = Path(os.environ["GLOBE_BENCH_CODE_ROOT"])
    strays = sorted(name for name, module in list(sys.modules.items())
                    if (name == "globe" or name.startswith("globe.")) and getattr(module, "__file__", None)
                    and not Path(module.__file__).resolve().is_relative_to(root))
    if strays:
        raise RuntimeError(f"modules imported from outside {root}: {', '.join(strays)}")


if __name__ == "__main__":
    confine_imports(Path(sys.argv[2]))
    serve(sys.argv[1])
