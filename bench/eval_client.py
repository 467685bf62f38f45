"""Benchmark: evaluation client throughput against a loopback OpenAI-compatible server.

Compares, in the same run and against the same server process:

* **ours**: ``globe.chat_client.ChatClient`` (asyncio, one aiohttp connection pool, bounded concurrency);
* **released**: the released ``eval.py`` design: 16 threads, each request creating a new
  ``openai.OpenAI`` client (a new HTTP connection pool, TLS context and connection every time).

Then requests/s for our client at 50 ms of server latency with concurrency 1, 16 and 64
(the ideal is concurrency / 0.05 s). The server runs in its own process
(``python -m tests.support.fake_openai``) so it does not share the client's interpreter lock.
Each request carries a small JPEG as a data URL and the CoT prompt, like an eval request.

    python bench/eval_client.py            # ~30 s
    python bench/eval_client.py --quick    # ~10 s
    python bench/eval_client.py --base c3e8018 [--rows 1500 --rounds 5]

``--base REF``: the same-run A/B of ``bench/_ab.py``: 1,500 rows of a scripted eval set (tiny
marked JPEGs, answers naming cities, aliases, countries, unplaceable names and no answer) against
a zero-latency scripted server in its own process, evaluated by ``run_eval_with_server`` (read,
request, parse, place, write) and then ``globe-eval score --no-plots``, each timed inside the
worker, on the base's code and on this checkout's, alternating.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ab import add_ab_arguments, run_ab  # noqa: E402

from globe.chat_client import ChatClient, image_data_url, user_message  # noqa: E402
from globe.prompts import geo_prompt  # noqa: E402
from tests.support.fake_openai import server_process  # noqa: E402
from tests.support.images import jpeg_bytes  # noqa: E402

ANSWER = "<think>Red double-decker buses and left-hand traffic.</think><answer>country: United Kingdom\ncity: London</answer>"


def fake_server(latency_s: float):
    """The fake server in a child process; yields its /v1 URL."""
    return server_process("--latency", str(latency_s), "--answer", ANSWER)


def messages() -> list[dict]:
    return [user_message(geo_prompt(True), jpeg_bytes(7))]


def run_ours(url: str, n_requests: int, concurrency: int) -> tuple[float, int]:
    """(requests/s, failures) for ``n_requests`` sent through one ChatClient."""

    async def go() -> tuple[float, int]:
        async with ChatClient(url, model="fake-model", concurrency=concurrency, timeout=30, retries=0) as client:
            payload = messages()
            await client.chat(payload, max_tokens=64)  # connect once before timing
            started = time.perf_counter()
            results = await asyncio.gather(*(client.chat(payload, max_tokens=64) for _ in range(n_requests)))
            elapsed = time.perf_counter() - started
        return n_requests / elapsed, sum(not result.ok for result in results)

    return asyncio.run(go())


def run_released(url: str, n_requests: int, threads: int = 16) -> tuple[float, int]:
    """(requests/s, failures) for the released design: a new openai.OpenAI client per request, 16 threads."""
    from openai import OpenAI

    base64_image = image_data_url(jpeg_bytes(7))
    prompt = geo_prompt(True)

    def one(_: int) -> bool:
        client = OpenAI(api_key="EMPTY", base_url=url)
        try:
            response = client.chat.completions.create(
                model="fake-model", timeout=60, temperature=0.1, max_tokens=64,
                messages=[{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": base64_image}},
                    {"type": "text", "text": prompt},
                ]}],
            )
            return bool(response.choices[0].message.content)
        except Exception:  # noqa: BLE001 - the released code logged and returned ""
            return False
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(threads)))  # warm the imports and the thread pool
        started = time.perf_counter()
        ok = list(pool.map(one, range(n_requests)))
        elapsed = time.perf_counter() - started
    return n_requests / elapsed, ok.count(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--rows", type=int, default=1500, help="rows per repetition with --base")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight with --base")
    parser.add_argument("--latency", type=float, default=0.0, help="the scripted server's latency with --base (s)")
    parser.add_argument("--image-size", default=None, metavar="WxH",
                        help="with --base: photo-like JPEGs of this size (512x384 is about 90 KB) instead of tiny ones")
    parser.add_argument("--verbose", action="store_true", help="show the workers' output with --base")
    add_ab_arguments(parser)
    args = parser.parse_args()
    if args.base:
        images = f", {args.image_size} JPEGs" if args.image_size else ""
        sys.exit(run_ab("eval_client", args, {"rows": args.rows, "concurrency": args.concurrency,
                                              "latency": args.latency, "image_size": args.image_size},
                        f"Eval client, {args.rows} rows{images} against a scripted server answering in "
                        f"{args.latency * 1000:g} ms, concurrency {args.concurrency}: base {args.base} vs this "
                        f"checkout, same run"))
    scale = 0.3 if args.quick else 1.0
    n_fast_ours, n_fast_released = int(3000 * scale), int(300 * scale)

    rows: list[tuple[str, str, str, str]] = []
    with fake_server(0.0) as url:
        released_rps, released_failures = run_released(url, n_fast_released)
        ours_rps, ours_failures = run_ours(url, n_fast_ours, concurrency=64)
    rows.append(("0 ms", "released: new openai.OpenAI per request, 16 threads", f"{released_rps:8.0f}",
                 f"{released_failures}/{n_fast_released}"))
    rows.append(("0 ms", "ours: ChatClient, one pool, concurrency 64", f"{ours_rps:8.0f}", f"{ours_failures}/{n_fast_ours}"))

    slow = {}
    with fake_server(0.05) as url:
        for concurrency in (1, 16, 64):
            n = max(20, int(min(400, 40 * concurrency) * scale))
            slow[concurrency] = run_ours(url, n, concurrency)
            rps, failures = slow[concurrency]
            rows.append(("50 ms", f"ours: ChatClient, concurrency {concurrency} (ideal {concurrency / 0.05:.0f}/s)",
                         f"{rps:8.0f}", f"{failures}/{n}"))
        n = max(20, int(160 * scale))
        released_slow, released_slow_failures = run_released(url, n)
        rows.append(("50 ms", "released: new client per request, 16 threads (ideal 320/s)", f"{released_slow:8.0f}",
                     f"{released_slow_failures}/{n}"))

    print(f"\nEval client throughput against the loopback fake server (python {sys.version.split()[0]})\n")
    header = ("latency", "client", "req/s", "failed")
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(4)]
    print("  ".join(str(cell).ljust(width) for cell, width in zip(header, widths)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    ratio = ours_rps / released_rps if released_rps else float("inf")
    verdict = "meets" if ratio >= 5 else "BELOW"
    print(f"\nratio at 0 ms latency, ours / released: {ratio:.1f}x ({verdict} the >= 5x target)")


if __name__ == "__main__":
    main()
