"""The locatability reward client: asks a served reward model whether the reasoning fits the image.

For each completion the reward model (RM) gets the system prompt
:data:`globe.prompts.LOCATABILITY_SYSTEM_PROMPT` and a user turn with the row's image and the
completion's reasoning, and answers "yes" or "no"; the reward is P(yes) / (P(yes) + P(no)) from
the first token's top logprobs (:func:`globe.rewards.locatability_reward_from_logprobs`).

**Why the reasoning, not the whole completion.** The RM is trained on image + plain reasoning
text -> yes/no (the ``rm`` rows of :mod:`globe.data.swift_rows`, and the released RM data
alike); it never saw ``<think>``/``<answer>`` tags or ``country:``/``city:`` lines. Sending
the full completion would score text unlike anything it learned from, and would let the
answer lines sway a verdict that is meant to be about the evidence. So the text sent is
:func:`globe.answers.think_text` of the completion, or the whole completion when that
reasoning is empty (a completion with nothing but an answer still gets a verdict).

What the released reward did wrong, and what this module does instead:

* a hard-coded private IP -> the endpoint comes from an argument or ``GLOBE_RM_URL``;
* one ``OpenAI`` client per sample, called sequentially -> one :class:`globe.chat_client.ChatClient`
  (one aiohttp session) per batch, every request in flight at once up to ``concurrency``;
* ``0.0`` on any failure, one log line per sample -> bounded retries and timeouts inside the
  client, then a configurable fallback, one summary line per batch (counts by reason), or an
  exception with ``fail_fast``.

Configuration: explicit arguments first, then environment variables, then the defaults here.

==========================  ========  ============================================================
variable                    default   meaning
==========================  ========  ============================================================
``GLOBE_RM_URL``            required  OpenAI-compatible base URL, e.g. ``http://127.0.0.1:8000/v1``
``GLOBE_RM_MODEL``          auto      model name; unset: the only model ``/v1/models`` lists, else the only
                                      LoRA among them (see below), else an error listing the names
``GLOBE_RM_API_KEY``        none      sent as a Bearer token
``GLOBE_RM_TIMEOUT``        30        seconds per attempt
``GLOBE_RM_RETRIES``        2         extra attempts after a 429/5xx/timeout/connection error
``GLOBE_RM_BACKOFF``        0.5       first retry delay in seconds (doubles, with jitter)
``GLOBE_RM_CONCURRENCY``    64        requests in flight per training process (x processes per node)
``GLOBE_RM_FALLBACK``       0.5       reward for a completion the RM could not score
``GLOBE_RM_FAIL_FAST``      0         1: raise :class:`LocatabilityError` instead of falling back
``GLOBE_RM_MAX_TOKENS``     3         tokens the RM may generate (only the first is scored)
``GLOBE_RM_TEMPERATURE``    0.0       sampling temperature of the RM's reply
``GLOBE_RM_TOP_LOGPROBS``   5         top logprobs requested for the first token
==========================  ========  ============================================================

**Why the fallback is 0.5, not the paper's 0.0.** GRPO turns rewards into advantages within
a group of generations of one prompt. A failed request says nothing about the completion,
but 0.0 ranks it below every scored sibling, and failures are not random: the longest
completions time out first, so 0.0 quietly teaches the policy to reason less. 0.5 is the
RM's own "undecided" (P(yes) = P(no)) and moves a group's advantages far less. Set
``GLOBE_RM_FALLBACK=0`` to reproduce the paper exactly.

**Which model, when ``GLOBE_RM_MODEL`` is unset.** ``serve_rm.sh`` serves the base model as
``globe-rm-base`` and the trained LoRA as ``globe-rm``; vLLM lists base models first and each
LoRA module after them with a ``"parent"`` (the base it applies to). Taking the first listed
would score with the untrained base model, silently. So: one model listed -> that one;
several -> the one entry with a non-null ``parent`` (logged once); no such entry or several
(e.g. ``swift deploy --adapters``, which lists base and adapters without ``parent``) -> a
:class:`LocatabilityError` naming the served models, since any guess may be the base model.

**Event loops.** ms-swift 4.6 runs every ``AsyncORM`` of a batch with ``asyncio.run``: a new
event loop per batch. An aiohttp session belongs to the loop that created it, so
:meth:`LocatabilityScorer.score` opens one client for the batch and closes it at the end (the
model name looked up from ``/v1/models`` is kept across batches). Code with a long-lived
loop (benchmarks, evaluation) can keep one client open with ``async with scorer:``.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


from globe.answers import think_text
from globe.chat_client import ChatClient, ChatResult, ServerUnavailable, image_data_url, user_message
from globe.prompts import LOCATABILITY_SYSTEM_PROMPT
from globe.rewards import completion_text, locatability_reward_from_logprobs

log = logging.getLogger(__name__)

SERVE_SCRIPT = "examples/train/grpo/globe/serve_rm.sh"
DEFAULT_FALLBACK = 0.5

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_VERDICT = re.compile(r"[a-z]+")


class LocatabilityError(RuntimeError):
    """The RM failed for some completions and ``fail_fast`` is set (the message has the counts), or
    ``GLOBE_RM_MODEL`` is unset and the server lists several models none of which is clearly the RM."""


@dataclass(frozen=True)
class LocatabilityConfig:
    """Where the RM is and how to talk to it; build with :meth:`from_env` (arguments > env > defaults)."""

    url: str
    model: str | None = None
    api_key: str | None = None
    timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.5
    concurrency: int = 64
    fallback: float = DEFAULT_FALLBACK
    fail_fast: bool = False
    max_tokens: int = 3
    temperature: float = 0.0
    top_logprobs: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "LocatabilityConfig":
        """Arguments that are not ``None`` win, then ``GLOBE_RM_*`` variables, then the defaults.

        Raises ``ValueError`` naming the variable when ``GLOBE_RM_URL`` is missing or a value
        does not parse.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, spec in _FIELDS.items():
            if overrides.get(name) is not None:
                values[name] = overrides[name]
                continue
            raw = env.get(spec.env)
            if raw is not None and raw.strip() != "":
                values[name] = spec.parse(spec.env, raw.strip())
        unknown = set(overrides) - set(_FIELDS)
        if unknown:
            raise TypeError(f"unknown locatability option(s): {', '.join(sorted(unknown))}")
        if not values.get("url"):
            raise ValueError(
                "GLOBE_RM_URL is not set: the locatability reward needs the reward model's "
                "OpenAI-compatible endpoint, e.g. GLOBE_RM_URL=http://127.0.0.1:8000/v1. "
                f"Start one with {SERVE_SCRIPT} (vLLM or `swift deploy`), or pass url=..."
            )
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ``ValueError`` naming the setting for values no client could use."""
        if not str(self.url).startswith(("http://", "https://")):
            raise ValueError(f"GLOBE_RM_URL must start with http:// or https://, got {self.url!r}")
        checks = [
            ("GLOBE_RM_TIMEOUT", self.timeout > 0, "a number of seconds > 0"),
            ("GLOBE_RM_RETRIES", self.retries >= 0, "an integer >= 0"),
            ("GLOBE_RM_BACKOFF", self.backoff >= 0, "a number of seconds >= 0"),
            ("GLOBE_RM_CONCURRENCY", self.concurrency >= 1, "an integer >= 1"),
            ("GLOBE_RM_FALLBACK", 0.0 <= self.fallback <= 1.0, "a reward between 0 and 1"),
            ("GLOBE_RM_MAX_TOKENS", self.max_tokens >= 1, "an integer >= 1"),
            ("GLOBE_RM_TEMPERATURE", self.temperature >= 0, "a number >= 0"),
            ("GLOBE_RM_TOP_LOGPROBS", 1 <= self.top_logprobs <= 20, "an integer from 1 to 20"),
        ]
        for variable, ok, expected in checks:
            if not ok:
                raise ValueError(f"{variable} must be {expected}; got {self._value_of(variable)!r}")

    def _value_of(self, variable: str) -> Any:
        name = next(key for key, spec in _FIELDS.items() if spec.env == variable)
        return getattr(self, name)


def _parse_float(variable: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{variable}={raw!r} must be finite")
    return value


def _parse_int(variable: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not an integer") from None


def _parse_bool(variable: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{variable}={raw!r} is not a boolean; use 1/0, true/false")


def _parse_str(variable: str, raw: str) -> str:
    return raw


@dataclass(frozen=True)
class _Field:
    env: str
    parse: Any


_FIELDS: dict[str, _Field] = {
    "url": _Field("GLOBE_RM_URL", _parse_str),
    "model": _Field("GLOBE_RM_MODEL", _parse_str),
    "api_key": _Field("GLOBE_RM_API_KEY", _parse_str),
    "timeout": _Field("GLOBE_RM_TIMEOUT", _parse_float),
    "retries": _Field("GLOBE_RM_RETRIES", _parse_int),
    "backoff": _Field("GLOBE_RM_BACKOFF", _parse_float),
    "concurrency": _Field("GLOBE_RM_CONCURRENCY", _parse_int),
    "fallback": _Field("GLOBE_RM_FALLBACK", _parse_float),
    "fail_fast": _Field("GLOBE_RM_FAIL_FAST", _parse_bool),
    "max_tokens": _Field("GLOBE_RM_MAX_TOKENS", _parse_int),
    "temperature": _Field("GLOBE_RM_TEMPERATURE", _parse_float),
    "top_logprobs": _Field("GLOBE_RM_TOP_LOGPROBS", _parse_int),
}


# --------------------------------------------------------------------------- results

#: Row statuses that are not failures: scored from logprobs, or from the reply's first word.
SCORED = "ok"
SCORED_FROM_TEXT = "ok_text"


@dataclass
class LocatabilityBatch:
    """One batch's rewards with a status per row: ``"ok"``, ``"ok_text"`` or the failure reason.

    Failure reasons are :class:`ChatResult` statuses (``"timeout"``, ``"http_500"``, ...) plus
    ``"no_model"`` (no model configured and ``/v1/models`` could not be read), ``"no_image"``,
    ``"bad_image"`` and ``"no_yes_no"`` (the RM answered, but neither yes nor no was among its
    first token's top logprobs or its reply's first word).
    """

    rewards: list[float]
    statuses: list[str]
    fallback: float
    errors: list[str | None] = field(default_factory=list)

    @property
    def failures(self) -> Counter:
        return Counter(status for status in self.statuses if status not in (SCORED, SCORED_FROM_TEXT))

    @property
    def n_failed(self) -> int:
        return sum(self.failures.values())

    def summary(self) -> str | None:
        """The batch's one log line, or ``None`` when every row was scored from logprobs."""
        n = len(self.statuses)
        parts = []
        if self.n_failed:
            reasons = ", ".join(f"{reason} x{count}" for reason, count in self.failures.most_common())
            example = next((error for error, status in zip(self.errors, self.statuses)
                            if error and status not in (SCORED, SCORED_FROM_TEXT)), None)
            detail = f"; first error: {example[:200]}" if example else ""
            parts.append(f"{self.n_failed}/{n} requests failed ({reasons}); used fallback {self.fallback:g}{detail}")
        from_text = self.statuses.count(SCORED_FROM_TEXT)
        if from_text:
            parts.append(f"{from_text}/{n} scored from the reply's first word (no yes/no among the first token's "
                         "top logprobs; does the server return logprobs?)")
        return "locatability: " + "; ".join(parts) if parts else None


def first_image(images: Any) -> Any:
    """The first image of a row's ``images`` cell, or ``None``.

    A cell is a list of entries (``{"bytes": ..., "path": ...}`` with either ``None``, a path
    string, raw bytes or a PIL image) or a single such entry.
    """
    if images is None:
        return None
    if isinstance(images, (list, tuple)):
        return first_image(images[0]) if images else None
    if isinstance(images, Mapping):
        return images if images.get("bytes") or images.get("path") else None
    if isinstance(images, (bytes, bytearray)):
        return images if images else None
    if isinstance(images, str):
        return images if images.strip() else None
    return images  # a PIL image or a path-like: image_data_url decides


def rm_input_text(completion: Any) -> str:
    """What the RM reads for a completion: its reasoning, or the whole text when that is empty.

    The RM was trained on plain reasoning (see the module docstring), not on tagged completions.
    """
    text = completion_text(completion)
    return think_text(text) or text


def pick_served_model(entries: Sequence[Mapping[str, Any]], url: str) -> tuple[str, bool]:
    """The RM among a server's ``/v1/models`` entries, and whether it was picked as the only LoRA.

    One entry -> it; several -> the only one with a non-null ``parent`` (vLLM's mark of a LoRA
    module). Raises :class:`LocatabilityError` listing the names when there is none or more
    than one such entry: scoring with the base model would be silent and wrong.
    """
    names = [str(entry["id"]) for entry in entries]
    if len(names) == 1:
        return names[0], False
    adapters = [str(entry["id"]) for entry in entries if entry.get("parent") is not None]
    if len(adapters) == 1:
        return adapters[0], True
    why = ("none of them is a LoRA module (an entry with a \"parent\")" if not adapters
           else f"{len(adapters)} of them are LoRA modules ({', '.join(adapters)})")
    raise LocatabilityError(
        f"GLOBE_RM_MODEL is not set and {url}/models lists {len(names)} models ({', '.join(names)}); "
        f"{why}, so which one is the reward model is ambiguous. Set GLOBE_RM_MODEL to the reward "
        f"model's served name ({SERVE_SCRIPT} prints the line, e.g. GLOBE_RM_MODEL=globe-rm)"
    )


def _verdict_from_text(text: str | None) -> float | None:
    """1.0 / 0.0 when the reply's first word is yes / no (quotes and case ignored), else ``None``."""
    if not text:
        return None
    word = _VERDICT.search(text.lower())
    if word is None:
        return None
    return {"yes": 1.0, "no": 0.0}.get(word.group())


# --------------------------------------------------------------------------- scorer


class LocatabilityScorer:
    """Scores a batch of completions against their images with one client; see the module docstring.

    ``env`` replaces ``os.environ`` (tests); other arguments override the ``GLOBE_RM_*`` variables.
    """

    def __init__(
        self,
        url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        concurrency: int | None = None,
        fallback: float | None = None,
        fail_fast: bool | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_logprobs: int | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.config = LocatabilityConfig.from_env(
            env, url=url, model=model, api_key=api_key, timeout=timeout, retries=retries, backoff=backoff,
            concurrency=concurrency, fallback=fallback, fail_fast=fail_fast, max_tokens=max_tokens,
            temperature=temperature, top_logprobs=top_logprobs,
        )
        self._model = self.config.model  # filled from /v1/models on first use, then kept
        self._client: ChatClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def _new_client(self) -> ChatClient:
        c = self.config
        return ChatClient(c.url, api_key=c.api_key, model=self._model, timeout=c.timeout, retries=c.retries,
                          concurrency=c.concurrency, backoff=c.backoff)

    async def __aenter__(self) -> "LocatabilityScorer":
        """Keep one client open for this loop (long-lived loops); closed by ``__aexit__``."""
        self._client = self._new_client()
        await self._client.open()
        self._client_loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = self._client_loop = None

    async def score_batch(self, completions: Sequence[Any], images: Sequence[Any] | None) -> LocatabilityBatch:
        """Score every completion concurrently; never raises for a failed request (see ``statuses``)."""
        n = len(completions)
        if images is None:
            raise ValueError(
                "the locatability reward needs each row's image: the batch has no `images` column "
                "(a GLOBE dataset row has images=[{\"bytes\":..., \"path\":...}])"
            )
        images = list(images)
        if len(images) != n:
            raise ValueError(f"`images` has {len(images)} rows for {n} completions; they must be aligned")
        if n == 0:
            return LocatabilityBatch([], [], self.config.fallback)

        image_urls: dict[Any, str] = {}  # one base64 encoding per distinct image (GRPO repeats each)

        def data_url(image: Any) -> str:
            key = _image_key(image)
            if key is None:
                return image_data_url(image)
            if key not in image_urls:
                image_urls[key] = image_data_url(image)
            return image_urls[key]

        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            outcomes = await self._score_all(self._client, completions, images, data_url)
        else:
            async with self._new_client() as client:
                outcomes = await self._score_all(client, completions, images, data_url)
        rewards = [reward for reward, _, _ in outcomes]
        statuses = [status for _, status, _ in outcomes]
        errors = [error for _, _, error in outcomes]
        return LocatabilityBatch(rewards, statuses, self.config.fallback, errors)

    async def _score_all(self, client: ChatClient, completions: Sequence[Any], images: list[Any],
                         data_url: Any) -> list[tuple[float, str, str | None]]:
        problem = await self._ensure_model(client)
        if problem is not None:
            return [(self.config.fallback, "no_model", problem)] * len(completions)
        return await asyncio.gather(*(self._score_one(client, c, i, data_url) for c, i in zip(completions, images)))

    async def _ensure_model(self, client: ChatClient) -> str | None:
        """Pick the model once (``GLOBE_RM_MODEL``, else :func:`pick_served_model`); the error text if
        the server cannot be asked. Raises :class:`LocatabilityError` when its answer is ambiguous.

        Looked up here, once per batch until it succeeds, rather than by every request: a server
        that hangs on ``/v1/models`` then costs one bounded lookup, not one per completion. An
        unreachable server is a per-batch failure (fallback rewards); an ambiguous model list is
        a configuration error that no retry fixes, so it stops training at the first batch.
        """
        if self._model:
            client.model = self._model
            return None
        try:
            entries = await client.list_model_entries()
        except ServerUnavailable as exc:
            return str(exc)
        if not entries:
            return f"{self.config.url}/models lists no models; set GLOBE_RM_MODEL"
        model, is_only_lora = pick_served_model(entries, self.config.url)
        self._model = client.model = model
        if is_only_lora:
            log.warning(
                "locatability: GLOBE_RM_MODEL is not set; scoring with %r, the only LoRA module among the %d models "
                "at %s (%s); set GLOBE_RM_MODEL to choose another", model, len(entries), self.config.url,
                ", ".join(str(entry["id"]) for entry in entries),
            )
        return None

    async def _score_one(self, client: ChatClient, completion: Any, images: Any, data_url: Any) -> tuple[float, str, str | None]:
        fallback = self.config.fallback
        image = first_image(images)
        if image is None:
            return fallback, "no_image", "row has no image"
        try:
            url = data_url(image)
        except (OSError, ValueError, TypeError) as exc:
            return fallback, "bad_image", f"{type(exc).__name__}: {exc}"
        messages = [
            {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT},
            user_message(rm_input_text(completion), url),
        ]
        result: ChatResult = await client.chat(
            messages, max_tokens=self.config.max_tokens, temperature=self.config.temperature,
            top_logprobs=self.config.top_logprobs,
        )
        if not result.ok:
            return fallback, result.status, result.error
        reward = locatability_reward_from_logprobs(result.first_token_top_logprobs)
        if reward is not None:
            return reward, SCORED, None
        verdict = _verdict_from_text(result.text)
        if verdict is not None:
            return verdict, SCORED_FROM_TEXT, None
        return fallback, "no_yes_no", f"reply {str(result.text)[:80]!r}, top logprobs {result.first_token_top_logprobs}"

    async def score(self, completions: Sequence[Any], images: Sequence[Any] | None) -> list[float]:
        """Rewards for a batch: logs one summary line if anything failed; raises if ``fail_fast``."""
        batch = await self.score_batch(completions, images)
        summary = batch.summary()
        if batch.n_failed and self.config.fail_fast:
            raise LocatabilityError(
                f"{summary} (GLOBE_RM_FAIL_FAST is set; is the reward model at {self.config.url} up? "
                f"see {SERVE_SCRIPT})"
            )
        if summary:
            log.warning(summary)
        return batch.rewards

    def score_sync(self, completions: Sequence[Any], images: Sequence[Any] | None) -> list[float]:
        """:meth:`score` from synchronous code; runs in a helper thread if a loop is already running here."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.score(completions, images))
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = asyncio.run(self.score(completions, images))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=run, name="globe-locatability")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def with_options(self, **overrides: Any) -> "LocatabilityScorer":
        """A scorer with some settings changed (e.g. ``concurrency=1`` for a sequential baseline)."""
        scorer = object.__new__(LocatabilityScorer)
        scorer.config = replace(self.config, **overrides)
        scorer.config.validate()
        scorer._model, scorer._client, scorer._client_loop = scorer.config.model or self._model, None, None
        return scorer


def _image_key(image: Any) -> Any:
    """A key identifying an image within one batch, or ``None`` when it has no cheap identity."""
    if isinstance(image, Mapping):
        data = image.get("bytes")
        return ("bytes", id(data)) if data else ("path", str(image.get("path")))
    if isinstance(image, str):
        return ("path", image)
    if isinstance(image, (bytes, bytearray)):
        return ("bytes", id(image))
    return ("object", id(image))
