"""An async client for OpenAI-compatible chat servers (vLLM, ``swift deploy``, LMDeploy, OpenAI).

Why our own client rather than ``openai.OpenAI`` per request (what the released eval did): a
run sends thousands of image requests, so it must reuse ONE connection pool, bound how many
requests are in flight (a vLLM server queues everything it is sent and then times out), retry
what is transient (429, 5xx, timeouts, dropped connections) with exponential backoff and
jitter, and never raise for one bad request: a batch records the failure in the row and goes
on. :class:`ChatResult` therefore carries ``status``/``error``/``attempts`` instead of raising.

Hostile servers are bounded here, once, for every caller (eval, distill, the reward model,
``globe-infer``): a per-attempt ``timeout`` and an overall per-request ``deadline`` (a server
that accepts connections and never answers costs at most the deadline, ``/v1/models``
included), a response size cap counted on the compressed and the decompressed bytes (a gzip
body that unpacks to 400 MB is refused at ``max_response_bytes``), and :func:`redact` applied
to every error text, so a key echoed by a server or written into a URL never reaches a
result, a log or an output file. :class:`ClientSettings` is the one settings type for all
of this; the eval, distill and reward-model configurations extend it.

Usage::

    async with ChatClient("http://127.0.0.1:8000/v1", concurrency=32) as client:
        result = await client.chat([user_message("Where is this?", "photo.jpg")], max_tokens=512)
        if result.ok:
            print(result.text)
"""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import math
import random
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

try:  # several times faster than json on the request bodies (a base64 image each); not required
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

from globe.answers import content_text

#: HTTP statuses worth another try: request timeout, rate limiting, and 5xx except "not implemented".
RETRYABLE_HTTP = frozenset({408, 429} | set(range(500, 600)) - {501, 505})
#: Longest single backoff sleep, whatever the attempt number or a server's Retry-After.
MAX_BACKOFF_S = 30.0
#: Largest response body accepted by default (compressed or decompressed): a chat completion,
#: even a 32k-token one with logprobs, is a few MB; a broken or hostile server must not be able
#: to take the caller's memory (a trainer's, for the reward model).
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: What :func:`redact` puts where a secret was.
REDACTED = "***"




def json_body(payload: Any) -> bytes:
    """``payload`` as a UTF-8 JSON request body: orjson when installed, else :mod:`json`.

    A locatability or eval request carries a base64 image, which the standard encoder copies through
    its escaping scan and a str-to-bytes encode; orjson writes it in one pass (the RM client's
    per-request cost matters: a GRPO step waits on 128 of them). Both raise ``TypeError`` for what
    is not JSON (:meth:`ChatClient.chat` reports it as ``client_error``).
    """
    if orjson is not None:
        return orjson.dumps(payload)
    return json.dumps(payload).encode("utf-8")


def json_loads(raw: bytes | str) -> Any:
    """A response body parsed: orjson when installed, else :mod:`json`; ``ValueError`` when it is not JSON.

    What orjson refuses is read again by :mod:`json`, which accepts the ``NaN``/``Infinity`` some
    servers write: such a body is then refused by the logprob checks with a message that names
    the logprob, rather than as unparseable text.
    """
    if orjson is not None:
        try:
            return orjson.loads(raw)
        except ValueError:
            pass
    return json.loads(raw)


# --------------------------------------------------------------------------- redaction

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:api[-_]?key|key|access[-_]?token|token|auth|password|secret|sig|signature)=)[^&#\s'\"<>]+"
)
_AUTH_HEADER = re.compile(
    r"(?i)([\"']?(?:authorization|proxy-authorization|api[-_]key|x-api-key|ocp-apim-subscription-key)[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?:bearer|basic|token)\s+)?[^\s\"',;})\]]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
#: Key formats that are unmistakable (OpenAI-style ``sk-...``, Hugging Face ``hf_...``, GitHub, Slack),
#: strict enough that a model name such as ``hf-internal-testing/tiny`` in an error stays readable.
_KEY_LIKE = re.compile(r"\b(sk|rk)-[A-Za-z0-9_-]{8,}|\b(hf|gh[pousr])_[A-Za-z0-9]{20,}|\b(xox[abpr])-[A-Za-z0-9-]{8,}")


def redact(text: Any, secrets: Sequence[str | None] = ()) -> str:
    """``text`` with credentials replaced by ``***``: the one redaction rule of GLOBE.

    Covers ``user:key@host`` in URLs, ``?api-key=``/``?key=``/``?token=`` query values,
    ``Authorization``/``api-key`` headers echoed in a body (JSON or not), ``Bearer ...``
    tokens, ``sk-...``-style keys, and every string in ``secrets`` (the caller's own key).

    >>> redact("HTTP 401 from http://bob:sk-abcdef123@h/v1?api-key=sk-abcdef123 (Authorization: Bearer sk-abcdef123)")
    'HTTP 401 from http://***@h/v1?api-key=*** (Authorization: ***)'
    """
    text = "" if text is None else str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _KEY_LIKE.sub(_mask_key, text)


def _mask_key(match: re.Match) -> str:
    """``sk-***``: the key's prefix and separator kept, so a reader knows which kind of key was there."""
    prefix = next(group for group in match.groups() if group)
    return match.group(0)[: len(prefix) + 1] + REDACTED


def redact_url(url: Any) -> str:
    """A URL fit for a message, a log or an output file (see :func:`redact`)."""
    return redact(url)


# --------------------------------------------------------------------------- settings


@dataclass(kw_only=True)
class ClientSettings:
    """How to talk to an OpenAI-compatible server; the eval, distill and RM configurations extend it.

    ``timeout`` bounds one attempt (connect to last byte); ``deadline`` bounds a whole request
    (queueing for a connection slot, every attempt and every backoff sleep; ``None``: only the
    attempts bound it); ``retries`` extra attempts on 408/429/5xx/timeouts/dropped connections,
    the n-th after ``backoff * 2**(n-1)`` s (+-50% jitter); ``concurrency`` requests in flight;
    ``max_response_bytes`` the largest body accepted, compressed or decompressed.

    Subclasses are dataclasses too; every one gets the redacting ``repr`` below (a field named
    ``api_key`` is shown as ``***``, URLs lose their credentials), whatever fields it adds.
    """

    timeout: float = 120.0
    deadline: float | None = None
    retries: int = 3
    backoff: float = 1.0
    concurrency: int = 16
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # @dataclass keeps a __repr__ already in the class dict: every subclass keeps redacting.
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = ClientSettings.__repr__  # type: ignore[method-assign]

    def __repr__(self) -> str:
        parts = []
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name.endswith("key") or item.name in ("token", "secret", "password"):
                shown = REDACTED if value else repr(value)
            else:
                shown = redact(repr(value))
            parts.append(f"{item.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def client_settings(self) -> "ClientSettings":
        """Just the transport settings (what :class:`ChatClient` reads), from any subclass."""
        return ClientSettings(**{item.name: getattr(self, item.name) for item in dataclasses.fields(ClientSettings)})

    def check_client_settings(self, label: Any = None) -> None:
        """Raise ``ValueError`` naming the setting (``label(name)``, default ``name``) for unusable values."""
        label = label or (lambda name: name)
        checks = [
            ("timeout", _positive_number(self.timeout), "a number of seconds > 0"),
            ("deadline", self.deadline is None or _positive_number(self.deadline), "a number of seconds > 0"),
            ("retries", isinstance(self.retries, int) and self.retries >= 0, "an integer >= 0"),
            ("backoff", _number(self.backoff) and self.backoff >= 0, "a number of seconds >= 0"),
            ("concurrency", isinstance(self.concurrency, int) and self.concurrency >= 1, "an integer >= 1"),
            ("max_response_bytes", isinstance(self.max_response_bytes, int) and self.max_response_bytes >= 1024,
             "a number of bytes >= 1024"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{label(name)} must be {expected}; got {getattr(self, name)!r}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_number(value: Any) -> bool:
    return _number(value) and value > 0


@dataclass
class ChatResult:
    """The outcome of one chat request, successful or not (never an exception).

    ``status`` is ``"ok"``, ``"http_<code>"``, ``"timeout"``, ``"connection_error"``,
    ``"bad_response"`` (the server answered 2xx but not with a chat completion, or with garbage
    logprobs), ``"response_too_large"`` (past ``max_response_bytes``; not retried) or
    ``"client_error"`` (the request could not be built, e.g. a message that is not JSON; not retried).
    ``"timeout"`` also marks a request ended by its deadline. ``error`` is always redacted.
    """

    ok: bool
    text: str | None = None
    first_token_top_logprobs: dict[str, float] | None = None
    #: The same entries as listed, in order and with repeats (the released verdict reading sums repeats).
    first_token_top_logprob_entries: list[tuple[str, float]] | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None
    attempts: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    #: Every choice's text, in choice order (several with a request's ``n``); ``[text]`` otherwise.
    texts: list[str] = field(default_factory=list)


class ServerUnavailable(RuntimeError):
    """The server could not be reached or listed no models (raised by setup calls and ``stream``, not by ``chat``)."""


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
    if isinstance(image, str) and image.startswith(("data:", "http://", "https://")):
        return image  # first: an already encoded image is the reward model's every request
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


def _finite_logprob(token: Any, value: Any) -> float:
    """``value`` as a float logprob; ``ValueError`` for what no model emits (a broken server's garbage)."""
    if not isinstance(token, str):
        raise ValueError(f"top_logprobs token {token!r} is not a string")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"logprob of {token!r} is {value!r}, not a finite number")
    return float(value)


def first_token_top_logprobs(choice: Mapping[str, Any]) -> dict[str, float] | None:
    """``choices[0].logprobs.content[0].top_logprobs`` as ``{token: logprob}`` (best logprob per token).

    ``None`` when the server sent no logprobs; ``ValueError`` when it sent garbage (NaN,
    Infinity, true/false, strings, a token that is not a string), so the request counts as a
    failed ``bad_response`` rather than as a verdict.
    """
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, Mapping):
        return None
    content = logprobs.get("content")
    if not content or not isinstance(content, list) or not isinstance(content[0], Mapping):
        return None
    first = content[0]
    result: dict[str, float] = {}
    entries = first.get("top_logprobs") or []
    if not isinstance(entries, list):
        raise ValueError(f"top_logprobs is a {type(entries).__name__}, not a list")
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ValueError(f"top_logprobs entry {entry!r} is not an object")
        token = entry.get("token")
        logprob = _finite_logprob(token, entry.get("logprob"))
        result[token] = max(logprob, result.get(token, -math.inf))
    if not result and "token" in first:  # the server ignored top_logprobs but sent the sampled token
        result[first["token"]] = _finite_logprob(first.get("token"), first.get("logprob"))
    return result or None


def first_token_top_logprob_entries(body: Mapping[str, Any]) -> list[tuple[str, float]] | None:
    """``choices[0].logprobs.content[0].top_logprobs`` of a parsed chat completion as ``(token, logprob)``
    pairs in the server's order, repeats kept; ``None`` when it sent none.

    Only the listed entries (no fallback to the sampled token): what the released reward read.
    Called after :func:`parse_completion`, which has already refused garbage values.
    """
    choice = body["choices"][0]
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if not content or not isinstance(content, list) or not isinstance(content[0], Mapping):
        return None
    entries = content[0].get("top_logprobs") or []
    return [(entry["token"], float(entry["logprob"])) for entry in entries]


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
    text = content_text(message.get("content"))  # some servers send [{"type": "text", "text": ...}] parts
    if text is None:
        raise ValueError(f"message content is {type(message.get('content')).__name__}")
    usage = body.get("usage") if isinstance(body.get("usage"), Mapping) else {}
    return text, first_token_top_logprobs(choice), dict(usage), choice.get("finish_reason")


def choice_texts(body: Mapping[str, Any]) -> list[str]:
    """The text of every choice of a chat completion, by ``index`` (a request with ``n`` gets several)."""
    choices = body.get("choices") or []
    if len(choices) == 1 and isinstance(choices[0], Mapping) and isinstance(choices[0].get("message"), Mapping):
        return [content_text(choices[0]["message"].get("content")) or ""]  # the usual single answer
    choices = [choice for choice in choices if isinstance(choice, Mapping)]
    choices.sort(key=lambda choice: choice.get("index") if isinstance(choice.get("index"), int) else 0)
    messages = [choice.get("message") for choice in choices]
    return [(content_text(message.get("content")) or "") if isinstance(message, Mapping) else "" for message in messages]


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: ignore and use our own backoff


# --------------------------------------------------------------------------- client

_ClientOption = Any  # a ClientSettings field's value, given to ChatClient as a keyword


#: The session's own timeout: none; every request is bounded by ``asyncio.timeout`` (attempt and deadline).
_NO_AIOHTTP_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None, sock_read=None)


class ChatClient:
    """Bounded-concurrency chat client over one ``aiohttp`` session; see the module docstring.

    Settings come from ``settings`` (a :class:`ClientSettings` or any subclass, e.g. the eval
    or RM configuration), then keyword overrides of its fields (``timeout=``, ``retries=``,
    ``deadline=`` ...). ``api_key`` is sent as a Bearer token when given; reading it from the
    environment is the caller's choice. ``model=None`` uses the server's first model from
    ``/v1/models``. A query string in ``base_url`` (``?api-version=...``) is sent with every
    request, and ``user:password@`` as basic auth; both are redacted from every message.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str | None = None,
        settings: ClientSettings | None = None,
        **options: _ClientOption,
    ):
        if not isinstance(base_url, str) or not base_url.strip().startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {redact_url(base_url)!r} "
                             "(e.g. http://127.0.0.1:8000/v1)")
        unknown = set(options) - {item.name for item in dataclasses.fields(ClientSettings)}
        if unknown:
            raise TypeError(f"unknown ChatClient option(s): {', '.join(sorted(unknown))}")
        self.settings = dataclasses.replace((settings or ClientSettings()).client_settings(), **options)
        self.settings.check_client_settings()
        url = URL(base_url.strip())
        self._query = url.query
        self._base = url.with_query(None).with_fragment(None)
        self._secrets = [api_key, url.password, *(value for key, value in url.query.items()
                                                  if _SECRET_QUERY.search(f"?{key}=x"))]
        #: The base URL for messages: no query, no credentials.
        self.base_url = redact_url(str(self._base).rstrip("/"))
        self.api_key = api_key
        self.model = model
        self._session: aiohttp.ClientSession | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._model_lock: asyncio.Lock | None = None
        self._random = random.Random()
        self._urls: dict[str, URL] = {}

    # Settings as attributes, for callers and tests that read them.
    timeout = property(lambda self: self.settings.timeout)
    deadline = property(lambda self: self.settings.deadline)
    retries = property(lambda self: self.settings.retries)
    backoff = property(lambda self: self.settings.backoff)
    concurrency = property(lambda self: self.settings.concurrency)
    max_response_bytes = property(lambda self: self.settings.max_response_bytes)

    def redact(self, text: Any) -> str:
        """:func:`redact` plus this client's own key and URL credentials."""
        return redact(text, self._secrets)

    def _url(self, path: str) -> URL:
        """The endpoint's URL, built once per path (parsing a URL per request showed in the eval profile)."""
        url = self._urls.get(path)
        if url is None:
            url = self._base / path if str(self._base).endswith("/") else URL(f"{self._base}/{path}")
            url = self._urls[path] = url.with_query(self._query) if self._query else url
        return url

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
        # No cookie jar: an OpenAI-compatible API keeps no session in cookies, and matching every
        # request's URL against a jar was a measurable part of each request's CPU (bench/eval_stages.py).
        self._session = aiohttp.ClientSession(headers=headers, connector=connector, timeout=_NO_AIOHTTP_TIMEOUT,
                                              cookie_jar=aiohttp.DummyCookieJar())
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

    # -- time and size bounds

    def _deadline_at(self, deadline: float | None) -> float | None:
        """The loop time a request must be done by (``deadline`` overrides the settings'), or ``None``."""
        seconds = self.settings.deadline if deadline is None else deadline
        return None if seconds is None else asyncio.get_running_loop().time() + seconds

    @staticmethod
    def _remaining(end: float | None) -> float | None:
        return None if end is None else max(0.0, end - asyncio.get_running_loop().time())

    def _attempt_timeout(self, end: float | None) -> aiohttp.ClientTimeout:
        remaining = self._remaining(end)
        total = self.timeout if remaining is None else max(0.001, min(self.timeout, remaining))
        return aiohttp.ClientTimeout(total=total)

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        """The body, refused past ``max_response_bytes`` (the announced size, then the decompressed bytes)."""
        limit = self.max_response_bytes
        announced = response.content_length
        if announced is not None and announced > limit:
            raise _AttemptFailed("response_too_large", f"the response from {self.base_url} announces {announced} "
                                 f"bytes, over the limit of {limit} (max_response_bytes)", False)
        if announced is not None and not response.headers.get("Content-Encoding"):
            return await response.read()  # exactly the announced bytes, within the limit: one read
        chunks, total = [], 0
        async for chunk in response.content.iter_chunked(1 << 16):
            total += len(chunk)
            if total > limit:
                raise _AttemptFailed("response_too_large", f"the response from {self.base_url} exceeds {limit} bytes "
                                     "(decompressed) and was dropped (max_response_bytes)", False)
            chunks.append(chunk)
        return b"".join(chunks)

    # -- models

    async def list_models(self, deadline: float | None = None) -> list[str]:
        """Model ids the server serves, in its order; raises :class:`ServerUnavailable` with the URL."""
        return [str(entry["id"]) for entry in await self.list_model_entries(deadline)]

    async def list_model_entries(self, deadline: float | None = None) -> list[dict[str, Any]]:
        """The raw ``/v1/models`` entries, in the server's order (``id``; vLLM adds ``parent`` to LoRA modules).

        Retried like a chat request and bounded by the same deadline (``deadline`` seconds, default
        the settings'); raises :class:`ServerUnavailable` naming the URL.
        """
        session = self._require_session()
        end = self._deadline_at(deadline)
        url = f"{self.base_url}/models"
        last_error = ""
        try:
            async with asyncio.timeout(self._remaining(end)):
                for attempt in range(self.retries + 1):
                    limit = self._attempt_timeout(end)
                    try:
                        async with session.get(self._url("models"), timeout=limit) as response:
                            raw = await self._read_capped(response)
                            if response.status == 200:
                                body = json_loads(raw)
                                data = body.get("data") if isinstance(body, Mapping) else None
                                if isinstance(data, list):
                                    return [dict(entry) for entry in data if isinstance(entry, Mapping) and "id" in entry]
                                last_error = f"no 'data' list in the response: {str(body)[:200]}"
                            else:
                                last_error = f"HTTP {response.status}: {raw[:200].decode('utf-8', 'replace')}"
                                if response.status not in RETRYABLE_HTTP:
                                    break
                    except _AttemptFailed as exc:
                        last_error = exc.error
                        break
                    except asyncio.TimeoutError:
                        last_error = f"no response within {limit.total:.3g} s"
                    except (aiohttp.ClientError, ValueError, AttributeError) as exc:
                        last_error = f"{type(exc).__name__}: {exc}"
                    if end is not None and self._remaining(end) <= 0.001:
                        break
                    if attempt < self.retries:
                        await asyncio.sleep(self._backoff_delay(attempt + 1, None))
        except TimeoutError:
            pass
        if end is not None and self._remaining(end) <= 0.001:
            seconds = self.settings.deadline if deadline is None else deadline
            last_error = f"no answer within the {seconds:.3g} s deadline; {last_error or 'no response'}"
        raise ServerUnavailable(self.redact(
            f"cannot list models at {url} ({last_error}); is the server running and is the URL the /v1 base URL?"
        ))

    async def resolve_model(self, deadline: float | None = None) -> str:
        """The model to request: the one given, else the server's first (looked up once)."""
        if self.model:
            return self.model
        self._require_session()
        assert self._model_lock is not None
        async with self._model_lock:
            if not self.model:
                models = await self.list_models(deadline)
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

    async def _attempt(
        self, payload_bytes: bytes, end: float | None
    ) -> tuple[str, dict[str, float] | None, dict[str, Any], str | None, list[str], list[tuple[str, float]] | None]:
        session = self._require_session()
        limit = self.timeout if end is None else max(0.001, min(self.timeout, self._remaining(end)))
        try:
            # asyncio's timeout rather than aiohttp's per-request one (the session has none): the same
            # bound on the whole attempt (connecting included), without aiohttp's timer objects
            async with asyncio.timeout(limit), session.post(self._url("chat/completions"), data=payload_bytes) as response:
                raw = await self._read_capped(response)
                if response.status != 200:
                    detail = raw[:300].decode("utf-8", "replace")
                    raise _AttemptFailed(
                        f"http_{response.status}",
                        f"HTTP {response.status} from {self.base_url}/chat/completions: {detail}",
                        response.status in RETRYABLE_HTTP,
                        _retry_after_seconds(response.headers),
                    )
        except TimeoutError:
            raise _AttemptFailed("timeout", f"no complete response within {limit:.3g} s", True) from None
        except aiohttp.ClientError as exc:
            raise _AttemptFailed("connection_error", f"{type(exc).__name__}: {exc}", True) from None
        try:
            body = json_loads(raw)
            return (*parse_completion(body), choice_texts(body), first_token_top_logprob_entries(body))
        except ValueError as exc:  # includes JSONDecodeError
            # A truncated or garbled body is usually a transient proxy/server hiccup: retry it.
            raise _AttemptFailed("bad_response", f"not a chat completion: {exc}", True) from None

    def _failed(self, status: str, error: str, attempts: int, started: float) -> ChatResult:
        return ChatResult(ok=False, status=status, error=self.redact(error), attempts=attempts,
                          latency_s=time.perf_counter() - started)

    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None = 1024,
        temperature: float | None = 0.0,
        top_logprobs: int | None = None,
        extra: Mapping[str, Any] | None = None,
        deadline: float | None = None,
    ) -> ChatResult:
        """Send one chat completion with retries; always returns a :class:`ChatResult`.

        The whole request (model lookup, waiting for a connection slot, every attempt and
        backoff) ends within ``deadline`` seconds (default: the settings'); past it the result
        is a ``"timeout"``. The only exception is using a client that is not open (a
        programming error, not a bad request).
        """
        self._require_session()
        started = time.perf_counter()
        end = self._deadline_at(deadline)
        attempts = 0
        try:
            model = self.model or await self.resolve_model(self._remaining(end))
            payload_bytes = json_body(self._payload(model, messages, max_tokens, temperature, top_logprobs, extra))
        except ServerUnavailable as exc:
            return self._failed("connection_error", str(exc), 0, started)
        except (TypeError, ValueError, RuntimeError) as exc:
            return self._failed("client_error", f"{type(exc).__name__}: {exc}", 0, started)

        assert self._semaphore is not None
        loop = asyncio.get_running_loop()
        failure: _AttemptFailed | None = None
        # One timer per attempt (in _attempt, ending at the deadline if that comes first), none around
        # the whole request: the deadline is checked where time passes outside an attempt (waiting
        # for a slot, backing off; a backoff that would end past it ends the request now). A second
        # timer per request was ~5% of a locatability batch's client CPU (bench/rewards.py --base).
        past_deadline = False
        while attempts <= self.retries:
            if failure is not None:
                delay = self._backoff_delay(attempts, failure.retry_after)
                if end is not None and loop.time() + delay >= end:
                    past_deadline = True  # the next try would start after the deadline
                    break
                # Sleep outside the semaphore so waiting retries do not block fresh requests.
                await asyncio.sleep(delay)
            try:
                await self._acquire_slot(end)
            except TimeoutError:
                past_deadline = True
                break
            attempts += 1
            try:
                text, logprobs, usage, finish_reason, texts, entries = await self._attempt(payload_bytes, end)
                return ChatResult(
                    ok=True, text=text, first_token_top_logprobs=logprobs, usage=usage, status="ok",
                    first_token_top_logprob_entries=entries,
                    attempts=attempts, latency_s=time.perf_counter() - started, finish_reason=finish_reason,
                    texts=texts,
                )
            except _AttemptFailed as exc:
                failure = exc
                if not exc.retryable:
                    break
            except Exception as exc:  # noqa: BLE001 - a per-request bug must not kill a 12k-row batch
                failure = _AttemptFailed("client_error", f"{type(exc).__name__}: {exc}", False)
                break
            finally:
                self._semaphore.release()
            if end is not None and loop.time() >= end - 0.001:
                past_deadline = True  # the deadline, not the attempt's own timeout
                break
        if past_deadline:
            seconds = self.settings.deadline if deadline is None else deadline
            last = f"; last error: {failure.error}" if failure is not None else ""
            return self._failed("timeout", f"no complete response within the {seconds:.3g} s deadline "
                                f"({attempts} attempt(s)){last}", attempts, started)
        assert failure is not None
        return self._failed(failure.status, failure.error, attempts, started)

    async def _acquire_slot(self, end: float | None) -> None:
        """Take one of the ``concurrency`` slots; waiting for one ends at the deadline (``TimeoutError``)."""
        assert self._semaphore is not None
        if end is None or not self._semaphore.locked():
            await self._semaphore.acquire()  # free now: no wait, no timer
            return
        async with asyncio.timeout_at(end):
            await self._semaphore.acquire()

    async def stream(
        self,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None = 1024,
        temperature: float | None = 0.0,
        extra: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[str]:
        """Yield text pieces of one streamed completion as they arrive (server-sent events).

        For interactive use (``globe-infer``): no retries, and errors raise ``RuntimeError`` with
        the status and (redacted) body, since there is one request and a person watching it.
        ``timeout`` bounds the wait for each piece, ``deadline`` the whole answer and
        ``max_response_bytes`` its size. A server that ignores ``stream`` and answers with one
        JSON chat completion yields that completion's text as a single piece.
        """
        session = self._require_session()
        end = self._deadline_at(None)
        model = await self.resolve_model(self._remaining(end))
        payload = self._payload(model, messages, max_tokens, temperature, None, extra)
        payload["stream"] = True
        url = f"{self.base_url}/chat/completions"
        limit = self.max_response_bytes
        try:
            async with asyncio.timeout(self._remaining(end)):
                async with session.post(
                    self._url("chat/completions"), data=json.dumps(payload).encode("utf-8"),
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=self.timeout),
                ) as response:
                    if response.status != 200:
                        body = (await self._read_capped(response))[:300].decode("utf-8", "replace")
                        raise RuntimeError(self.redact(f"HTTP {response.status} from {url}: {body}"))
                    if "text/event-stream" not in response.headers.get("Content-Type", ""):
                        text, _, _, _ = parse_completion(json.loads(await self._read_capped(response)))
                        if text:
                            yield text
                        return
                    buffer, total = b"", 0
                    async for chunk in response.content.iter_any():
                        total += len(chunk)
                        if total > limit:
                            raise RuntimeError(f"the stream from {url} exceeds {limit} bytes (max_response_bytes)")
                        buffer += chunk
                        *lines, buffer = buffer.split(b"\n")
                        for raw_line in lines:
                            for piece in _sse_pieces(raw_line, url):
                                if piece is None:
                                    return
                                yield piece
                    for piece in _sse_pieces(buffer, url):
                        if piece is None:
                            return
                        yield piece
        except _AttemptFailed as exc:
            raise RuntimeError(self.redact(exc.error)) from None
        except TimeoutError:
            if end is None or self._remaining(end) > 0:  # aiohttp's per-read timeout is a TimeoutError too
                raise RuntimeError(f"no data from {url} within the {self.timeout:g} s timeout") from None
            raise RuntimeError(f"no complete answer from {url} within the {self.settings.deadline:g} s deadline") from None
        except ValueError as exc:
            raise RuntimeError(self.redact(f"the answer from {url} is not a chat completion: {exc}")) from None
        except aiohttp.ClientConnectorError as exc:  # nothing listens there: say so with the type callers catch
            raise ServerUnavailable(self.redact(f"cannot connect to {url}: {type(exc).__name__}: {exc}")) from None
        except aiohttp.ClientError as exc:
            raise RuntimeError(self.redact(f"{type(exc).__name__}: {exc}")) from None


def _sse_pieces(raw_line: bytes, url: str) -> list[str | None]:
    """The text pieces of one server-sent-event line; ``None`` marks ``[DONE]``."""
    line = raw_line.decode("utf-8", "replace").strip()
    if not line.startswith("data:"):
        return []
    data = line[len("data:"):].strip()
    if data == "[DONE]":
        return [None]
    try:
        chunk = json.loads(data)
    except ValueError:
        raise RuntimeError(f"malformed stream chunk from {url}: {data[:200]}") from None
    pieces: list[str | None] = []
    for choice in (chunk.get("choices") if isinstance(chunk, Mapping) else None) or []:
        piece = (choice.get("delta") or {}).get("content") if isinstance(choice, Mapping) else None
        if isinstance(piece, str) and piece:
            pieces.append(piece)
    return pieces
