"""A loopback OpenAI-compatible server with scripted answers and injected faults.

For tests and benchmarks only: it lets the evaluation client, the locatability reward client
and ``globe-infer`` be exercised against 500s, hanging requests, garbled bodies and latency
without a GPU. It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (JSON or
server-sent-event streaming, with first-token ``top_logprobs``) on ``127.0.0.1`` from an
``aiohttp.web`` app running in a background thread::

    with FakeOpenAIServer(answers={"PARIS": "country: France\\ncity: Paris"}, error_rate=0.2,
                          max_faults_per_request=2) as server:
        ChatClient(server.url)  # server.url == "http://127.0.0.1:<port>/v1"

**Choosing the answer.** ``responder(request_json) -> str`` wins when given. Otherwise each
key of ``answers`` is looked for in the request: in the text parts and inside the decoded
bytes of every ``data:`` image (put the key in a JPEG comment, see :func:`marked_jpeg`);
the first key found picks the answer, else ``default_answer``.

**Several samples.** An answer may be a list of strings, a script of samples: each choice the
server hands out for the same request (ignoring its ``n``) takes the script's next entry, in
order, wrapping round; so ``n=3`` gets entries 0-2 in one response, and three single requests
get them one by one. ``n_support`` says how the server treats ``n > 1``: ``"honour"`` (vLLM:
that many choices), ``"ignore"`` (one choice, as some servers do) or ``"reject"`` (HTTP 400).

**Faults** are deterministic: whether attempt *k* of a request fails depends only on
``seed``, a digest of the request body and *k*, never on arrival order. ``error_rate``
answers ``error_status`` (500), ``hang_rate`` sleeps ``hang_s`` (longer than a client's
timeout), ``garbage_rate`` sends a truncated JSON body with status 200. With
``max_faults_per_request=N`` attempt N+1 of the same request always succeeds, so a client
with ``retries >= N`` must complete every request.

**Hostile servers** (each off by default): ``hang_models`` makes ``GET /v1/models`` accept
and never answer (``hang_s``; ``hang_rate=1.0`` does the same to every chat request);
``gzip_bomb_bytes`` answers every chat request with a valid gzip body that unpacks to that
many bytes; ``echo_auth`` puts the request's ``Authorization`` header in its error bodies
(as some proxies do); ``ignore_stream`` answers a streamed request with a plain JSON body;
``raw_top_logprobs`` sends these ``top_logprobs`` entries verbatim (NaN, true, strings...).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import random
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from aiohttp import web

DEFAULT_ANSWER = "<think>The image shows nothing specific.</think><answer>country: France\ncity: Paris</answer>"


def marked_jpeg(marker: str, size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (90, 140, 200)) -> bytes:
    """A small valid JPEG carrying ``marker`` in its comment segment, so the server can pick its answer."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG", comment=marker.encode("utf-8"))
    return buffer.getvalue()


def image_marker(image_name: str) -> str:
    """The marker :func:`write_scripted_eval_set` hides in an image's JPEG comment."""
    return f"<<{image_name}>>"


def write_scripted_eval_set(
    directory: str | Path, rows: Sequence[tuple[str, float, float, str, str, str | Sequence[str]]], write_images: bool = True
) -> tuple[Path, Path, dict[str, str]]:
    """A ground-truth CSV, its images and the server's scripted answers, for eval tests and benchmarks.

    ``rows`` are ``(image name, lat, lon, country, city, answer)``. Returns ``(gt.csv, image dir,
    answers)`` where ``answers`` maps each image's marker to its answer (pass it as
    ``FakeOpenAIServer(answers=...)``). Each image gets a different colour and its own marker.
    """
    import csv

    directory = Path(directory)
    images = directory / "images"
    images.mkdir(parents=True, exist_ok=True)
    answers: dict[str, str] = {}
    gt_file = directory / "gt.csv"
    with open(gt_file, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["IMG_ID", "LAT", "LON", "country", "city"])
        for index, (name, lat, lon, country, city, answer) in enumerate(rows):
            writer.writerow([name, lat, lon, country, city])
            answers[image_marker(name)] = answer
            if write_images:
                colour = ((index * 67) % 256, (index * 131 + 40) % 256, (index * 29 + 90) % 256)
                (images / name).parent.mkdir(parents=True, exist_ok=True)
                (images / name).write_bytes(marked_jpeg(image_marker(name), color=colour))
    return gt_file, images, answers


def _request_texts_and_images(request: Mapping[str, Any], decode_images: bool = True) -> tuple[list[str], list[bytes]]:
    """Every text part and (unless ``decode_images`` is false) every decoded ``data:`` image of the request's messages."""
    texts: list[str] = []
    images: list[bytes] = []
    for message in request.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            texts.append(content)
            continue
        for part in content or []:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif decode_images and part.get("type") == "image_url":
                url = (part.get("image_url") or {}).get("url", "")
                if isinstance(url, str) and url.startswith("data:") and "," in url:
                    try:
                        images.append(base64.b64decode(url.split(",", 1)[1]))
                    except ValueError:
                        pass
    return texts, images


def answer_by_marker(answers: Mapping[str, str | Sequence[str]], default: str) -> Callable[[dict], str | Sequence[str]]:
    """A responder that returns ``answers[key]`` for the first key found in the request's text or image bytes."""

    def respond(request: dict) -> str:
        texts, images = _request_texts_and_images(request)
        for key, answer in answers.items():
            encoded = key.encode("utf-8")
            if any(key in text for text in texts) or any(encoded in image for image in images):
                return answer
        return default

    return respond


def yes_no_logprobs(answer: str) -> dict[str, float]:
    """Default first-token top logprobs: the answer's first word at p=0.9 and its yes/no opposite at p=0.1."""
    words = answer.strip().split()
    first = words[0] if words else ""
    other = {"yes": "no", "no": "yes"}.get(first.lower(), "no" if first else "yes")
    if not first:
        return {"yes": math.log(0.5), "no": math.log(0.5)}
    return {first: math.log(0.9), other: math.log(0.1)}


class FakeOpenAIServer:
    """See the module docstring. ``requests`` holds every chat request body received, in order."""

    def __init__(
        self,
        responder: Callable[[dict], str | Sequence[str]] | None = None,
        answers: Mapping[str, str | Sequence[str]] | None = None,
        default_answer: str = DEFAULT_ANSWER,
        model: str = "fake-model",
        latency_s: float = 0.0,
        error_rate: float = 0.0,
        hang_rate: float = 0.0,
        garbage_rate: float = 0.0,
        error_status: int = 500,
        hang_s: float = 30.0,
        max_faults_per_request: int | None = None,
        seed: int = 0,
        n_support: str = "honour",
        top_logprobs: Callable[[dict, str], dict[str, float]] | Mapping[str, float] | None = None,
        stream_chunk_delay_s: float = 0.0,
        record_requests: bool = True,
        hang_models: bool = False,
        gzip_bomb_bytes: int | None = None,
        echo_auth: bool = False,
        ignore_stream: bool = False,
        raw_top_logprobs: list[Any] | None = None,
    ):
        if error_rate + hang_rate + garbage_rate > 1.0:
            raise ValueError("error_rate + hang_rate + garbage_rate must be <= 1")
        if n_support not in ("honour", "ignore", "reject"):
            raise ValueError(f"n_support must be 'honour', 'ignore' or 'reject', got {n_support!r}")
        self.n_support = n_support
        self._script_cursors: dict[str, int] = {}
        self.responder = responder or answer_by_marker(answers or {}, default_answer)
        self.model = model
        self.latency_s = latency_s
        self.error_rate, self.hang_rate, self.garbage_rate = error_rate, hang_rate, garbage_rate
        self.error_status = error_status
        self.hang_s = hang_s
        self.max_faults_per_request = max_faults_per_request
        self.seed = seed
        self.top_logprobs = top_logprobs
        self.stream_chunk_delay_s = stream_chunk_delay_s
        self.record_requests = record_requests
        self.hang_models = hang_models
        self.gzip_bomb_bytes = gzip_bomb_bytes
        self.echo_auth = echo_auth
        self.ignore_stream = ignore_stream
        self.raw_top_logprobs = raw_top_logprobs
        self._gzip_bomb: bytes | None = None
        self.model_requests = 0
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []  # the Authorization header of each chat request
        self.in_flight = 0
        self.max_in_flight = 0  # the most chat requests handled at once: checks a client's concurrency bound
        self.counts = {"requests": 0, "ok": 0, "error": 0, "hang": 0, "garbage": 0}
        self._attempts_by_digest: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle

    @property
    def url(self) -> str:
        """The ``/v1`` base URL clients use."""
        if self.port is None:
            raise RuntimeError("server not started: use `with FakeOpenAIServer(...) as server:`")
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self, port: int = 0) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._start_site(port))
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start within 10 s")
        if errors:
            raise RuntimeError(f"fake OpenAI server failed to start: {errors[0]}")

    async def _start_site(self, port: int) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = self._thread = self._runner = None

    async def _shutdown(self) -> None:
        """Close the site, then cancel handlers still sleeping (hung requests) so none is left pending."""
        if self._runner is not None:
            await self._runner.cleanup()
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- behaviour

    def _fault_for(self, body: bytes) -> str | None:
        """``"error"``, ``"hang"``, ``"garbage"`` or ``None`` for this attempt of this request body."""
        if not (self.error_rate or self.hang_rate or self.garbage_rate):
            return None  # no faults asked for: no digest per request (benchmarks measure the client, not this)
        digest = hashlib.sha1(body).hexdigest()
        attempt = self._attempts_by_digest.get(digest, 0)
        self._attempts_by_digest[digest] = attempt + 1
        if self.max_faults_per_request is not None and attempt >= self.max_faults_per_request:
            return None
        roll = random.Random(f"{self.seed}:{digest}:{attempt}").random()
        for kind, rate in (("error", self.error_rate), ("hang", self.hang_rate), ("garbage", self.garbage_rate)):
            if roll < rate:
                return kind
            roll -= rate
        return None

    def _choices_for(self, request: dict, answer: str | Sequence[str], count: int) -> list[str]:
        """``count`` answers: ``answer`` itself, or the next entries of a script (see module docstring)."""
        if isinstance(answer, str):
            return [answer] * count
        script = list(answer)
        key = hashlib.sha1(json.dumps({k: v for k, v in request.items() if k != "n"}, sort_keys=True).encode()).hexdigest()
        start = self._script_cursors.get(key, 0)
        self._script_cursors[key] = start + count
        return [script[(start + i) % len(script)] for i in range(count)]

    def _logprobs_for(self, request: dict, answer: str) -> dict[str, float]:
        if callable(self.top_logprobs):
            return dict(self.top_logprobs(request, answer))
        if self.top_logprobs is not None:
            return dict(self.top_logprobs)
        return yes_no_logprobs(answer)

    def _logprobs_block(self, request: dict, answer: str) -> dict[str, Any] | None:
        if not request.get("logprobs"):
            return None
        if self.raw_top_logprobs is not None:
            return {"content": [{"token": "x", "logprob": -1.0, "top_logprobs": self.raw_top_logprobs}]}
        ranked = sorted(self._logprobs_for(request, answer).items(), key=lambda item: -item[1])
        ranked = ranked[: max(1, int(request.get("top_logprobs") or 1))]
        top = [{"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))} for token, logprob in ranked]
        return {"content": [{"token": top[0]["token"], "logprob": top[0]["logprob"], "top_logprobs": top}]}

    # -- handlers

    def _bomb(self) -> bytes:
        """A gzip body of a chat completion padded with spaces to ``gzip_bomb_bytes`` (built once)."""
        if self._gzip_bomb is None:
            import gzip
            import io

            head = b'{"choices": [{"message": {"role": "assistant", "content": "'
            buffer = io.BytesIO()
            with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as handle:
                handle.write(head)
                block = b" " * (1 << 20)
                remaining = max(0, int(self.gzip_bomb_bytes or 0) - len(head) - 4)
                while remaining > 0:
                    handle.write(block[:remaining])
                    remaining -= len(block)
                handle.write(b'"}}]}')
            self._gzip_bomb = buffer.getvalue()
        return self._gzip_bomb

    async def _models(self, request: web.Request) -> web.Response:
        self.model_requests += 1
        if self.hang_models:
            await asyncio.sleep(self.hang_s)
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "globe"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.counts["requests"] += 1
        if self.record_requests:
            self.authorizations.append(request.headers.get("Authorization"))
        try:
            payload = json.loads(body)
        except ValueError:
            return web.json_response({"error": {"message": "request body is not JSON"}}, status=400)
        if self.record_requests:
            self.requests.append(payload)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        fault = self._fault_for(body)
        if fault is not None:
            self.counts[fault] += 1
        if fault == "error":
            error: dict[str, Any] = {"message": "injected fault"}
            if self.echo_auth:
                error["request_headers"] = {"Authorization": request.headers.get("Authorization")}
                error["message"] = f"injected fault; you sent Authorization: {request.headers.get('Authorization')}"
            return web.json_response({"error": error}, status=self.error_status)
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
            return web.json_response({"error": {"message": "hung request finally answered"}}, status=504)
        if fault == "garbage":
            return web.Response(body=b'{"id": "chatcmpl-x", "choices": [{"message": {"conte', content_type="application/json")
        if self.gzip_bomb_bytes:
            return web.Response(body=self._bomb(), headers={"Content-Encoding": "gzip",
                                                            "Content-Type": "application/json"})
        wanted = payload.get("n") or 1
        if wanted > 1 and self.n_support == "reject":
            return web.json_response({"error": {"message": "n > 1 is not supported"}}, status=400)
        answers = self._choices_for(payload, self.responder(payload), wanted if self.n_support == "honour" else 1)
        answer = answers[0]
        self.counts["ok"] += 1
        if payload.get("stream") and not self.ignore_stream:
            return await self._stream(request, payload, answer)
        prompt_tokens = sum(len(text.split()) for text in _request_texts_and_images(payload, decode_images=False)[0])
        completion = {
            "id": f"chatcmpl-{self.counts['requests']}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model", self.model),
            "choices": [{
                "index": index,
                "message": {"role": "assistant", "content": text},
                "logprobs": self._logprobs_block(payload, text),
                "finish_reason": "stop",
            } for index, text in enumerate(answers)],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(answer.split()),
                "total_tokens": prompt_tokens + len(answer.split()),
            },
        }
        return web.json_response(completion)

    async def _stream(self, request: web.Request, payload: dict, answer: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        base = {"id": f"chatcmpl-{self.counts['requests']}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": payload.get("model", self.model)}

        async def send(delta: dict, finish_reason: str | None = None) -> None:
            chunk = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish_reason}])
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode("utf-8"))

        await send({"role": "assistant", "content": ""})
        for piece in re.findall(r"\S+\s*|\s+", answer):  # word by word; joined, exactly the answer
            if self.stream_chunk_delay_s:
                await asyncio.sleep(self.stream_chunk_delay_s)
            await send({"content": piece})
        await send({}, finish_reason="stop")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


@contextlib.contextmanager
def server_process(*flags: str) -> Iterator[str]:
    """The fake server in a child process (``main``'s flags), so it does not share the caller's
    interpreter lock; yields its ``/v1`` URL and stops it on exit. For benchmarks."""
    import subprocess
    import sys

    from globe import REPO_ROOT

    process = subprocess.Popen([sys.executable, "-m", "tests.support.fake_openai", *flags], stdout=subprocess.PIPE,
                               text=True, cwd=REPO_ROOT)
    try:
        url = process.stdout.readline().strip() if process.stdout else ""
        if not url.startswith("http"):
            raise RuntimeError(f"fake server did not start (printed {url!r})")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    """Run the fake server in the foreground (for benchmarks in a separate process, or a demo)."""
    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible fake server (tests/benchmarks only).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--answer", default=DEFAULT_ANSWER, help="answer text for every request")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--hang", action="store_true", help="accept chat requests and never answer them")
    parser.add_argument("--hang-models", action="store_true", help="accept GET /v1/models and never answer it")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(default_answer=args.answer, latency_s=args.latency, error_rate=args.error_rate,
                              model=args.model, record_requests=False, hang_rate=1.0 if args.hang else 0.0,
                              hang_s=24 * 3600.0, hang_models=args.hang_models)
    server.start(args.port)
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
