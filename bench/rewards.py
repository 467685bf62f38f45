"""Benchmark GLOBE's rewards against the released ones, baselines measured in the same run.

    python bench/rewards.py              # both parts
    python bench/rewards.py --part text  # accuracy + format + visual match only

(a) accuracy + format + visual match over 128 completions, against a re-implementation of the
    released logic (case-insensitive substring match with the 0.7 length ratio, the think/answer
    regex, lower-case substring entity match). Ours resolves names through globe.geo; "cold"
    clears every name cache first (names never seen before), "warm" keeps the names resolved
    by earlier repeats (GRPO's batches keep naming the same few thousand places). Both clear
    the per-text parse cache before each repeat, so no completion is ever parsed for free.
    Target: warm <= 2x the baseline.
(b) locatability over 128 completions against the loopback fake RM (a separate process) with
    50 ms latency per request: our scorer (one session, concurrent) against the released way
    (a new ``openai.OpenAI`` client per sample, called one after another), and against our own
    client at concurrency 1 (one session, sequential). Target: >= 30x faster than sequential.

``--base REF`` (``bench/_ab.py``): (a) on a fresh batch per repeat, and (b) one batch of 128 in
its own event loop (as ms-swift calls it), on the base's code and this checkout's, alternating;
(b) also times each side's own client at concurrency 1 once, the sequential reference. (b)'s
batch is GRPO's shape (8 prompts x 16 completions, each with its own copy of its prompt's image
bytes); ``--image-size 512x384`` sends photo-sized JPEGs (~90 KB) instead of tiny ones, and
``--server loopback`` asks ``tests/support/loopback_rm.py`` (almost no CPU per request, as a
reward model on another machine) instead of the aiohttp fake server (about as much CPU per
request as the client, on the same cores). The figure judged is the client's CPU per batch;
the speed-up over the sequential client is elapsed time, which on a shared 2-core machine
mostly measures the other processes (see README, "Development").
"""
from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _ab import add_ab_arguments, run_ab  # noqa: E402
from _probes import released_locatability  # noqa: E402

from globe import geo  # noqa: E402
from globe import rewards  # noqa: E402
from globe import scoring  # noqa: E402
from globe.answers import answer_block_fields, parse_answer  # noqa: E402

N = 128
PLACES = [
    ("France", "Paris"), ("Japan", "Tokyo"), ("United States", "New York City"), ("Brazil", "São Paulo"),
    ("Germany", "Munich"), ("India", "Mumbai"), ("United Kingdom", "London"), ("Italy", "Rome"),
    ("Spain", "Barcelona"), ("Australia", "Sydney"), ("Canada", "Toronto"), ("Mexico", "Mexico City"),
    ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Thailand", "Bangkok"), ("Turkey", "Istanbul"),
]
# How a model writes the same place: aliases, other scripts, spellings.
VARIANTS = {
    "United States": ["USA", "U.S.", "United States of America"], "New York City": ["NYC", "New York"],
    "United Kingdom": ["UK", "England", "Britain"], "Germany": ["Deutschland"], "Munich": ["München", "Munchen"],
    "Japan": ["日本"], "Tokyo": ["東京"], "São Paulo": ["Sao Paulo"], "Mumbai": ["Bombay"], "Turkey": ["Türkiye"],
}
ENTITIES = ["double-decker bus", "minaret", "tuk-tuk", "palm trees", "yellow taxi", "cobblestone street",
            "red brick", "kanji signage", "Cyrillic script", "tram", "mosque", "skyscraper", "bus", "harbour"]


def make_batch(seed: int = 0) -> dict[str, list]:
    """128 completions in GRPO's shape: 16 prompts x 8 generations, right, near, aliased, wrong, malformed."""
    rng = random.Random(seed)
    completions, solutions, entities = [], [], []
    for prompt in range(N // 8):
        country, city = PLACES[prompt % len(PLACES)]
        row_entities = rng.sample(ENTITIES, 4)
        for _ in range(8):
            kind = rng.random()
            named = rng.sample(row_entities, rng.randint(0, 4)) + rng.sample(ENTITIES, 1)
            think = (" ".join(f"I notice the {e} in the scene, which is typical of the region." for e in named)
                     + " The vegetation, the road markings and the business signs narrow it down further.")
            if kind < 0.35:
                c, ci = rng.choice(VARIANTS.get(country, [country])), rng.choice(VARIANTS.get(city, [city]))
            elif kind < 0.55:
                c, ci = country, city
            elif kind < 0.75:
                c, ci = country, rng.choice(PLACES)[1]
            else:
                c, ci = rng.choice(PLACES)
            if kind > 0.93:
                text = f"{think}\nMy guess: {c}, {ci}."  # malformed: no tags, no field lines
            else:
                text = f"<think>{think}</think>\n<answer>country: {c}\ncity: {ci}</answer>"
            completions.append(text)
            solutions.append(f"{country}\t{city}")
            entities.append([{"text": e} for e in row_entities])
    return {"completions": completions, "solution": solutions, "entities": entities}


# --------------------------------------------------------------------------- the released logic (re-implemented)


def _released_match(pred: str, truth: str) -> bool:
    pred, truth = pred.lower(), truth.lower()
    if not pred or not truth:
        return False
    return (pred in truth and len(pred) / len(truth) >= 0.7) or (truth in pred and len(truth) / len(pred) >= 0.7)


def released_accuracy(completions, solution, **_) -> list[float]:
    out = []
    for text, sol in zip(completions, solution):
        block = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
        pred = block.group(1).strip() if block else ""
        gt_country, gt_city = sol.split("\t")
        country = re.search(r"country:\s*([^\n]+)", pred)
        city = re.search(r"city:\s*([^\n]+)", pred)
        country_text = country.group(1).strip() if country else ""
        city_text = city.group(1).strip() if city else ""
        if _released_match(city_text, gt_city) and _released_match(country_text, gt_country):
            out.append(1.0)
        elif _released_match(country_text, gt_country):
            out.append(0.2)
        else:
            out.append(0.0)
    return out


def released_format(completions, **_) -> list[float]:
    pattern = re.compile(r"^<think>.*?</think>\s*<answer>.*?</answer>(?![\s\S])", re.DOTALL)
    return [1.0 if pattern.match(text) else 0.0 for text in completions]


def released_visual(completions, entities, **_) -> list[float]:
    out = []
    for text, row in zip(completions, entities):
        tags = {entity["text"].lower() for entity in row}
        reasoning = text.split("</think>")[0].replace("<think>", "").lower()
        out.append(sum(tag in reasoning for tag in tags) / len(tags) if tags else 0.0)
    return out


def ours(batch) -> list[list[float]]:
    return [
        rewards.accuracy_rewards(batch["completions"], solution=batch["solution"]),
        rewards.format_rewards(batch["completions"]),
        rewards.visual_match_rewards(batch["completions"], entities=batch["entities"]),
    ]


def released(batch) -> list[list[float]]:
    return [released_accuracy(**batch), released_format(**batch), released_visual(**batch)]


def clear_text_caches() -> None:
    """Forget every parsed completion: each timed repeat scores texts never seen before."""
    rewards.parse_cached.cache_clear()
    rewards.reasoning_cached.cache_clear()
    answer_block_fields.cache_clear()


def clear_name_caches() -> None:
    """Forget parsed completions, resolved names (ours and globe.geo's) and entity patterns; indexes stay loaded."""
    from globe.geo import countries, gazetteer

    clear_text_caches()
    for cached in (scoring.same_place, scoring.resolve_place, scoring._named_as_country,
                   rewards._row_patterns, rewards._entity_pattern,
                   getattr(gazetteer, "resolve_cached", None),
                   getattr(countries, "_country_code_cached", None)):
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def best_of(fn: Callable[[], object], repeats: int, before: Callable[[], None] | None = None) -> float:
    """Fastest of ``repeats`` runs: on a shared machine the minimum is the least disturbed one."""
    times = []
    for _ in range(repeats):
        if before:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_text(repeats: int) -> pd.DataFrame:
    start = time.perf_counter()
    geo.warm_up()
    load_s = time.perf_counter() - start
    batch = make_batch()
    ours(batch)  # first touch (imports, regex compilation) outside the timings
    base_s = best_of(lambda: released(batch), repeats)
    cold_s = best_of(lambda: ours(batch), repeats, before=clear_name_caches)
    warm_s = best_of(lambda: ours(batch), repeats, before=clear_text_caches)
    parse_s = best_of(lambda: [parse_answer(text) for text in batch["completions"]], repeats)
    mine, theirs = ours(batch), released(batch)
    names = ["accuracy", "format", "visual_match"]
    differ = {name: sum(a != b for a, b in zip(m, t)) for name, m, t in zip(names, mine, theirs)}
    mean = {name: (sum(m) / N, sum(t) / N) for name, m, t in zip(names, mine, theirs)}
    rows = [
        ("released logic (substring, 0.7 ratio)", base_s, 1.0, ""),
        ("globe.rewards, cold name caches", cold_s, cold_s / base_s, "target <= 2x"),
        ("globe.rewards, warm name caches", warm_s, warm_s / base_s, "target <= 2x"),
        ("  of which globe.answers.parse_answer", parse_s, parse_s / base_s, "one parse per completion"),
    ]
    table = pd.DataFrame(rows, columns=["accuracy+format+visual, 128 completions", "seconds", "x baseline", "note"])
    print(f"\n(a) geo index load (once per process, not in the rows): {load_s:.2f} s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("rows scored differently from the released logic: "
          + ", ".join(f"{k} {v}/{N} (mean ours {mean[k][0]:.3f} vs released {mean[k][1]:.3f})" for k, v in differ.items()))
    return table


# --------------------------------------------------------------------------- locatability


def start_fake_rm(latency_s: float) -> tuple[subprocess.Popen, str]:
    """The fake RM in its own process, so the server's work does not share our GIL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openai", "--latency", str(latency_s), "--answer", "yes"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise RuntimeError(f"fake RM did not start (printed {url!r})")
    return process, url


def bench_locatability(latency_s: float, repeats: int) -> pd.DataFrame:
    from globe.locatability import LocatabilityScorer
    from tests.support.fake_openai import marked_jpeg

    batch = make_batch()
    completions = batch["completions"]
    images = [[{"bytes": marked_jpeg(f"IMG-{i // 8}"), "path": None}] for i in range(N)]
    process, url = start_fake_rm(latency_s)
    try:
        scorer = LocatabilityScorer(url=url, env={})
        scorer.score_sync(completions[:2], images[:2])  # model lookup and imports outside the timings
        concurrent_s = best_of(lambda: scorer.score_sync(completions, images), repeats)
        check = scorer.score_sync(completions, images)
        sequential = scorer.with_options(concurrency=1)
        sequential_s = best_of(lambda: sequential.score_sync(completions, images), 1)
        released_s = best_of(lambda: released_locatability(url, completions, images), 1)
        released_scores = released_locatability(url, completions[:4], images[:4])
    finally:
        process.terminate()
        process.wait(10)
    assert all(abs(a - b) < 1e-9 for a, b in zip(check, released_scores)), (check[:4], released_scores)
    rows = [
        ("released: new OpenAI client per sample, sequential", released_s, 1.0, sequential_s / released_s),
        ("globe.locatability, concurrency 1 (one session)", sequential_s, released_s / sequential_s, 1.0),
        (f"globe.locatability, concurrency {scorer.config.concurrency} (default)", concurrent_s,
         released_s / concurrent_s, sequential_s / concurrent_s),
    ]
    table = pd.DataFrame(rows, columns=[f"locatability, {N} completions, {latency_s * 1000:.0f} ms RM latency",
                                        "seconds", "x vs released", "x vs sequential"])
    print(f"\n(b) one round trip = {latency_s:.3f} s; {N} sequential round trips >= {N * latency_s:.1f} s; target >= 30x")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "text", "locatability"], default="all")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per row (the fastest is reported)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake RM latency in seconds")
    parser.add_argument("--image-size", default=None, metavar="WxH",
                        help="with --base: photo-like JPEGs of this size per prompt (512x384 is about 90 KB) "
                             "instead of tiny ones")
    parser.add_argument("--server", choices=["fake", "loopback"], default="fake",
                        help="with --base: the RM both sides ask: the aiohttp fake server (parses every request, "
                             "as CPU-hungry as the client) or tests/support/loopback_rm.py (almost no CPU, as a "
                             "reward model on another machine)")
    parser.add_argument("--verbose", action="store_true", help="show the workers' output with --base")
    add_ab_arguments(parser)
    args = parser.parse_args(argv)
    if args.base:
        status = 0
        if args.part in ("all", "text"):
            status |= run_ab("rewards", args, {"batch": make_batch(), "repeats": 10},
                             f"(a) accuracy + format + visual match, {N} completions never parsed before, x10: "
                             f"base {args.base} vs this checkout, same run")
        if args.part in ("all", "locatability"):
            images = (f", {args.image_size} JPEGs" if args.image_size else "") + f", {args.server} server"
            status |= run_ab("locatability", args, {"latency": args.latency, "completions": N,
                                                    "image_size": args.image_size, "server": args.server},
                             f"(b) locatability, one batch of {N} completions (8 prompts x 16{images}) in its own "
                             f"event loop, RM answering in {args.latency * 1000:.0f} ms: base {args.base} vs this "
                             f"checkout, same run")
        sys.exit(status)
    if args.part in ("all", "text"):
        bench_text(args.repeats)
    if args.part in ("all", "locatability"):
        bench_locatability(args.latency, max(1, args.repeats // 2))


if __name__ == "__main__":
    main()
