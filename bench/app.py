"""Benchmark: the time the app adds before the first token reaches the user.

Against a loopback fake OpenAI server with a fixed latency (its own process), in the same run:

* **direct**: ``globe.chat_client.ChatClient.stream`` to the server: time from sending the
  request to the first text piece (the baseline: what any client waits for);
* **through the app**: ``globe-app`` (its own process) serving the page's streamed event:
  time from the call (what pressing "Locate" sends, the photo already uploaded) to the first
  server-sent event that carries reasoning text. That path includes Gradio's queue, reading and
  checking the photo, the request to the server, and pushing the update to the browser.

The overhead is the difference of the medians; the target is under 100 ms. Requests alternate
between the two paths so that drift on a busy machine hits both alike.

    python bench/app.py            # ~30 s
    python bench/app.py --quick    # ~15 s
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from globe.chat_client import ChatClient, user_message  # noqa: E402
from globe.prompts import geo_prompt  # noqa: E402
from globe.swift_run import free_port, stop_process, wait_for_server  # noqa: E402
from tests.support.images import jpeg_bytes  # noqa: E402

ANSWER = "<think>Red double-decker buses and left-hand traffic.</think><answer>country: United Kingdom\ncity: London</answer>"
TARGET_MS = 100.0


@contextmanager
def child(cmd: list[str], env: dict[str, str] | None = None):
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
                               env=env, start_new_session=True)
    try:
        yield process
    finally:
        stop_process(process)


def wait_for_page(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"globe-app exited with {process.returncode}:\n{process.stdout.read()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"globe-app did not answer at {url} within {timeout:.0f} s")


async def direct_first_token(client: ChatClient, image: bytes) -> float:
    """Seconds from sending the request to the first streamed piece, straight to the server."""
    started = time.perf_counter()
    async for piece in client.stream([user_message(geo_prompt(True), image)], max_tokens=256, temperature=0.0):
        if piece:
            elapsed = time.perf_counter() - started
            break
    else:
        raise RuntimeError("the server streamed no text")
    return elapsed


def upload(app_url: str, path: Path) -> dict:
    """Upload the photo the way the page does before "Locate" is pressed; returns the file payload."""
    with open(path, "rb") as handle:
        response = httpx.post(f"{app_url}gradio_api/upload", files={"files": (path.name, handle, "image/jpeg")},
                              timeout=30)
    response.raise_for_status()
    return {"path": response.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def app_first_token(http: httpx.Client, app_url: str, photo: dict) -> float:
    """Seconds from calling the page's event to the first server-sent update with reasoning text."""
    started = time.perf_counter()
    call = http.post(f"{app_url}gradio_api/call/locate_stream", json={"data": [photo, "Reasoning (CoT)", 1, 0.0]})
    call.raise_for_status()
    event_id = call.json()["event_id"]
    with http.stream("GET", f"{app_url}gradio_api/call/locate_stream/{event_id}") as response:
        event = None
        first = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("generating", "complete"):
                data = json.loads(line.split(":", 1)[1])
                if first is None and isinstance(data, list) and len(data) > 1 and isinstance(data[1], str) and data[1]:
                    first = time.perf_counter() - started
            elif line.startswith("data:") and event == "error":
                raise RuntimeError(f"the app answered with an error: {line}")
        if first is None:
            raise RuntimeError("no update with reasoning text came back")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency", type=float, default=0.2, help="the fake server's latency per request (s)")
    args = parser.parse_args(argv)
    rounds = 10 if args.quick else 25

    with tempfile.TemporaryDirectory() as folder:
        photo_path = Path(folder) / "photo.jpg"
        photo_path.write_bytes(jpeg_bytes(11, size=(640, 480)))
        env = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_ANALYTICS_ENABLED": "False"}
        fake_cmd = [sys.executable, "-m", "tests.support.fake_openai", "--latency", str(args.latency), "--answer", ANSWER]
        with child(fake_cmd, env) as fake:
            server_url = fake.stdout.readline().strip()
            wait_for_server(server_url, fake, timeout=30)
            port = free_port()
            app_url = f"http://127.0.0.1:{port}/"
            with child([sys.executable, "-m", "globe.app", "--url", server_url, "--port", str(port), "--no-samples"],
                       env) as app:
                wait_for_page(app_url, app)
                photo = upload(app_url, photo_path)
                image = photo_path.read_bytes()

                async def measure() -> tuple[list[float], list[float]]:
                    direct, through_app = [], []
                    async with ChatClient(server_url, retries=0) as client:
                        with httpx.Client(timeout=60) as http:
                            for _ in range(2):  # warm-up: connections, the model name, the gazetteer
                                await direct_first_token(client, image)
                                await asyncio.to_thread(app_first_token, http, app_url, photo)
                            for _ in range(rounds):
                                direct.append(await direct_first_token(client, image))
                                through_app.append(await asyncio.to_thread(app_first_token, http, app_url, photo))
                    return direct, through_app

                direct, through_app = asyncio.run(measure())

    def row(name: str, values: list[float]) -> str:
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return f"{name:<28}{1000 * statistics.median(values):>10.1f}{1000 * p90:>10.1f}{1000 * min(values):>10.1f}"

    overhead_ms = 1000 * (statistics.median(through_app) - statistics.median(direct))
    print(f"time to first token, {rounds} requests each, fake server latency {1000 * args.latency:.0f} ms, "
          f"640x480 JPEG, 1 sample")
    print(f"{'path':<28}{'median ms':>10}{'p90 ms':>10}{'min ms':>10}")
    print(row("direct (ChatClient.stream)", direct))
    print(row("through globe-app", through_app))
    verdict = "OK" if overhead_ms < TARGET_MS else "OVER TARGET"
    print(f"app overhead (median difference): {overhead_ms:.1f} ms  (target < {TARGET_MS:.0f} ms: {verdict}); "
          f"ratio app/direct {statistics.median(through_app) / statistics.median(direct):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
