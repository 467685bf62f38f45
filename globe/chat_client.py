"""An async client for OpenAI-compatible chat servers (vLLM, ``swift deploy``, LMDeploy, OpenAI).

Why our own client rather than ``openai.OpenAI`` per request (what the released eval did): a
run sends thousands of image requests, so it must reuse ONE connection pool, bound how many
requests are in flight (a vLLM server queues everything it is sent and then times out), retry
what is transient (429, 5xx, timeouts, dropped connections) with exponential backoff and
jitter, and never raise for one bad request: a batch records the failure in the row and goes
on. :class:`ChatResult` therefore carries ``status``/``error``/``attempts`` instead of raising.

Usage::

    async with ChatClient("http://127.0.0.1:8000/v1", concurrency=32) as client:
        result = await client.chat([user_message("Where is this?", "photo.jpg")], max_tokens=512)
        if result.ok:
            print(result.text)
"""
from __future__ import annotations

import asyncio
import base64
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Mapping, Sequence

import aiohttp

#: HTTP statuses worth another try: request timeout, rate limiting, and 5xx except "not implemented".
RETRYABLE_HTTP = frozenset({408, 429} | set(range(500, 600)) - {501, 505})
#: Longest single backoff sleep, whatever the attempt number or a server's Retry-After.
MAX_BACKOFF_S = 30.0


@dataclass
class ChatResult:
    """The outcome of one chat request, successful or not (never an exception).

    ``status`` is ``"ok"``, ``"http_<code>"``, ``"timeout"``, ``"connection_error"``,
    ``"bad_response"`` (the server answered 2xx but not with a chat completion) or
    ``"client_error"`` (the request could not be built, e.g. a message that is not JSON; not retried).
    """

    ok: bool
    text: str | None = None
    first_token_top_logprobs: dict[str, float] | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None
    attempts: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None


class ServerUnavailable(RuntimeError):
    """The server could not be reached or listed no models (raised by setup calls, not by ``chat``)."""


class _AttemptFailed(Exception):
    """One failed attempt: ``status`` as in :class:`ChatResult`, whether a retry may help, and a delay hint."""

    def __init__(self, status: str, error: str, retryable: bool, retry_after: float | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after


# --------------------------------------------------------------------------- messages


_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def _image_mime(data: bytes) -> str:
    """The MIME type from the file's magic bytes (servers decode by content, the label is advisory)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    return "image/jpeg"


def image_data_url(image: Any) -> str:
    """A ``data:`` URL for an image given as bytes, a path, ``{"bytes":..., "path":...}`` or a PIL image.

    Strings that already are ``data:``/``http(s)://`` URLs pass through unchanged, so rows that
    point at hosted images still work. Raises ``FileNotFoundError``/``ValueError`` naming the input.
    """
    if isinstance(image, Mapping):
        if image.get("bytes"):
            return image_data_url(bytes(image["bytes"]))
        if image.get("path"):
            return image_data_url(image["path"])
        raise ValueError(f"image dict has neither 'bytes' nor 'path': keys {sorted(image)}")
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if not data:
            raise ValueError("image bytes are empty")
        return f"data:{_image_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"
    if isinstance(image, str) and image.startswith(("data:", "http://", "https://")):
        return image
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image file not found: {path}")
        return image_data_url(path.read_bytes())
    if hasattr(image, "save"):  # a PIL image: re-encode losslessly
        import io

        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return image_data_url(buffer.getvalue())
    raise ValueError(f"unsupported image type {type(image).__name__}: pass bytes, a path, a dict or a PIL image")


def user_message(text: str, image: Any = None) -> dict[str, Any]:
    """An OpenAI user message: plain text, or image(s) first then the text (how VLMs are trained)."""
    if image is None:
        return {"role": "user", "content": text}
    images = image if isinstance(image, (list, tuple)) else [image]
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": image_data_url(item)}} for item in images
    ]
    content.append({"type": "text", "text": text})
    return {"role": "user", "content": content}


# --------------------------------------------------------------------------- responses


def _message_text(content: Any) -> str:
    """Message content as text; some servers send a list of ``{"type": "text", "text": ...}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    raise TypeError(f"message content is {type(content).__name__}")


def first_token_top_logprobs(choice: Mapping[str, Any]) -> dict[str, float] | None:
    """``choices[0].logprobs.content[0].top_logprobs`` as ``{token: logprob}`` (best logprob per token)."""
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, Mapping):
        return None
    content = logprobs.get("content")
    if not content or not isinstance(content, list) or not isinstance(content[0], Mapping):
        return None
    first = content[0]
    result: dict[str, float] = {}
    for entry in first.get("top_logprobs") or []:
        token, logprob = entry.get("token"), entry.get("logprob")
        if isinstance(token, str) and isinstance(logprob, (int, float)) and not math.isnan(logprob):
            result[token] = max(float(logprob), result.get(token, -math.inf))
    if not result and isinstance(first.get("token"), str) and isinstance(first.get("logprob"), (int, float)):
        result[first["token"]] = float(first["logprob"])  # server ignored top_logprobs but sent the sampled one
    return result or None


def parse_completion(body: Any) -> tuple[str, dict[str, float] | None, dict[str, Any], str | None]:
    """``(text, first-token top logprobs, usage, finish_reason)`` from a chat completion body.

    Raises ``ValueError`` describing what is missing when the body is not a chat completion.
    """
    if not isinstance(body, Mapping):
        raise ValueError(f"response is a JSON {type(body).__name__}, not an object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise ValueError(f"response has no choices: {json.dumps(body)[:200]}")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise ValueError("choices[0] has no message")
    try:
        text = _message_text(message.get("content"))
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    usage = body.get("usage") if isinstance(body.get("usage"), Mapping) else {}
    return text, first_token_top_logprobs(choice), dict(usage), choice.get("finish_reason")


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: ignore and use our own backoff


# --------------------------------------------------------------------------- client


class ChatClient:
    """Bounded-concurrency chat client over one ``aiohttp`` session; see the module docstring.

    ``retries`` is the number of extra attempts after the first; ``timeout`` is per attempt in
    seconds; ``backoff`` is the first retry's base delay, doubled each retry, with +-50% jitter
    (so a thousand requests failed together do not return together). ``api_key`` is sent as a
    Bearer token when given; reading it from the environment is the caller's choice.
    ``model=None`` uses the server's first model from ``/v1/models``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        concurrency: int = 32,
        backoff: float = 0.5,
    ):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r} (e.g. http://127.0.0.1:8000/v1)")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.concurrency = int(concurrency)
        self.backoff = float(backoff)
        self._session: aiohttp.ClientSession | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._model_lock: asyncio.Lock | None = None
        self._random = random.Random()

    # -- lifecycle

    async def __aenter__(self) -> "ChatClient":
        await self.open()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the session (one pool of ``concurrency`` connections) inside the running loop."""
        if self._session is not None:
            return
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.concurrency)
        self._session = aiohttp.ClientSession(headers=headers, connector=connector)
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._model_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("ChatClient is not open: use `async with ChatClient(...) as client:`")
        return self._session

    # -- models

    async def list_models(self) -> list[str]:
        """Model ids the server serves, in its order; raises :class:`ServerUnavailable` with the URL."""
        return [str(entry["id"]) for entry in await self.list_model_entries()]

    async def list_model_entries(self) -> list[dict[str, Any]]:
        """The raw ``/v1/models`` entries, in the server's order (``id``; vLLM adds ``parent`` to LoRA modules).

        Retried like a chat request; raises :class:`ServerUnavailable` naming the URL.
        """
        session = self._require_session()
        url = f"{self.base_url}/models"
        last_error = ""
        for attempt in range(self.retries + 1):
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                    if response.status == 200:
                        body = await response.json(content_type=None)
                        data = body.get("data") if isinstance(body, Mapping) else None
                        if isinstance(data, list):
                            return [dict(entry) for entry in data if isinstance(entry, Mapping) and "id" in entry]
                        last_error = f"no 'data' list in the response: {str(body)[:200]}"
                    else:
                        last_error = f"HTTP {response.status}: {(await response.text())[:200]}"
                        if response.status not in RETRYABLE_HTTP:
                            break
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, AttributeError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                await asyncio.sleep(self._backoff_delay(attempt + 1, None))
        raise ServerUnavailable(
            f"cannot list models at {url} ({last_error}); is the server running and is the URL the /v1 base URL?"
        )

    async def resolve_model(self) -> str:
        """The model to request: the one given, else the server's first (looked up once)."""
        if self.model:
            return self.model
        self._require_session()
        assert self._model_lock is not None
        async with self._model_lock:
            if not self.model:
                models = await self.list_models()
                if not models:
                    raise ServerUnavailable(f"{self.base_url}/models lists no models; pass the model name explicitly")
                self.model = models[0]
        return self.model

    # -- chat

    def _payload(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None,
        temperature: float | None,
        top_logprobs: int | None,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": model, "messages": list(messages)}
        if max_tokens is not None:
            payload["max_tokens"] = int(max_tokens)
        if temperature is not None:
            payload["temperature"] = float(temperature)
        if top_logprobs is not None:
            payload["logprobs"] = True
            payload["top_logprobs"] = int(top_logprobs)
        if extra:
            payload.update(extra)
        return payload

    def _backoff_delay(self, retry_number: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; a server's Retry-After wins when it asks for longer."""
        delay = self.backoff * (2 ** (retry_number - 1)) * self._random.uniform(0.5, 1.5)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, MAX_BACKOFF_S)

    async def _attempt(self, payload_bytes: bytes) -> tuple[str, dict[str, float] | None, dict[str, Any], str | None]:
        session = self._require_session()
        url = f"{self.base_url}/chat/completions"
        try:
            async with session.post(
                url, data=payload_bytes, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                raw = await response.read()
                if response.status != 200:
                    detail = raw[:300].decode("utf-8", "replace")
                    raise _AttemptFailed(
                        f"http_{response.status}",
                        f"HTTP {response.status} from {url}: {detail}",
                        response.status in RETRYABLE_HTTP,
                        _retry_after_seconds(response.headers),
                    )
        except asyncio.TimeoutError:
            raise _AttemptFailed("timeout", f"no complete response within {self.timeout:g} s", True) from None
        except aiohttp.ClientError as exc:
            raise _AttemptFailed("connection_error", f"{type(exc).__name__}: {exc}", True) from None
        try:
            return parse_completion(json.loads(raw))
        except ValueError as exc:  # includes JSONDecodeError
            # A truncated or garbled body is usually a transient proxy/server hiccup: retry it.
            raise _AttemptFailed("bad_response", f"not a chat completion: {exc}", True) from None

    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None = 1024,
        temperature: float | None = 0.0,
        top_logprobs: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ChatResult:
        """Send one chat completion with retries; always returns a :class:`ChatResult`.

        The only exception is using a client that is not open (a programming error, not a bad request).
        """
        self._require_session()
        started = time.perf_counter()
        attempts = 0
        try:
            model = await self.resolve_model()
            payload_bytes = json.dumps(
                self._payload(model, messages, max_tokens, temperature, top_logprobs, extra)
            ).encode("utf-8")
        except ServerUnavailable as exc:
            return ChatResult(ok=False, status="connection_error", error=str(exc), latency_s=time.perf_counter() - started)
        except (TypeError, ValueError, RuntimeError) as exc:
            return ChatResult(ok=False, status="client_error", error=f"{type(exc).__name__}: {exc}",
                              latency_s=time.perf_counter() - started)

        assert self._semaphore is not None
        failure: _AttemptFailed | None = None
        while attempts <= self.retries:
            if failure is not None:
                # Sleep outside the semaphore so waiting retries do not block fresh requests.
                await asyncio.sleep(self._backoff_delay(attempts, failure.retry_after))
            attempts += 1
            try:
                async with self._semaphore:
                    text, logprobs, usage, finish_reason = await self._attempt(payload_bytes)
                return ChatResult(
                    ok=True, text=text, first_token_top_logprobs=logprobs, usage=usage, status="ok",
                    attempts=attempts, latency_s=time.perf_counter() - started, finish_reason=finish_reason,
                )
            except _AttemptFailed as exc:
                failure = exc
                if not exc.retryable:
                    break
            except Exception as exc:  # noqa: BLE001 - a per-request bug must not kill a 12k-row batch
                failure = _AttemptFailed("client_error", f"{type(exc).__name__}: {exc}", False)
                break
        assert failure is not None
        return ChatResult(
            ok=False, status=failure.status, error=failure.error, attempts=attempts,
            latency_s=time.perf_counter() - started,
        )

    async def stream(
        self,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None = 1024,
        temperature: float | None = 0.0,
        extra: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[str]:
        """Yield text pieces of one streamed completion as they arrive (server-sent events).

        For interactive use (``globe-infer``): no retries, and errors raise ``RuntimeError`` with
        the status and body, since there is one request and a person watching it.
        """
        session = self._require_session()
        model = await self.resolve_model()
        payload = self._payload(model, messages, max_tokens, temperature, None, extra)
        payload["stream"] = True
        url = f"{self.base_url}/chat/completions"
        async with session.post(
            url, data=json.dumps(payload).encode("utf-8"),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=self.timeout),
        ) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status} from {url}: {(await response.text())[:300]}")
            async for raw_line in response.content:
                line = raw_line.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise RuntimeError(f"malformed stream chunk from {url}: {data[:200]}") from None
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
