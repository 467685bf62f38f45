"""The locatability reward: asks a served reward model whether a completion's reasoning fits the image.

For each completion the reward model (RM) gets :data:`globe.prompts.LOCATABILITY_SYSTEM_PROMPT` and a
user turn with the row's image and the completion's text; the reward is P(yes) / (P(yes) + P(no))
from the first token's top logprobs (:func:`globe.answers.verdict_probability`, the one yes/no
reader). The released request is the default and every departure is a ``GLOBE_RM_*`` knob; a whole
batch is scored concurrently under one deadline, with retries, a circuit breaker for a hung RM and
a fallback reward counted in the trainer's metrics. The knobs (released value, GLOBE value, why),
which model is used when ``GLOBE_RM_MODEL`` is unset, and the breaker: README, "Rewards".
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from globe.aio import BackgroundLoop, gather_in_turn
from globe.answers import (
    VERDICT_READINGS,
    completion_text,
    model_text,
    released_verdict_probability,
    think_text,
    verdict_from_text,
    verdict_probability,
)
from globe.chat_client import (
    ChatClient,
    ChatResult,
    ClientSettings,
    ServerUnavailable,
    image_data_url,
    redact,
    redact_url,
    user_message,
)
from globe.prompts import LOCATABILITY_SYSTEM_PROMPT

log = logging.getLogger(__name__)

SERVE_SCRIPT = "examples/train/grpo/globe/serve_rm.sh"
ENV_PREFIX = "GLOBE_RM_"
#: The released reward's value for a completion it could not score.
DEFAULT_FALLBACK = 0.0
#: GLOBE's recommended fallback (``GLOBE_RM_FALLBACK=0.5``; see the module docstring).
GLOBE_FALLBACK = 0.5
RM_INPUTS = ("completion", "reasoning")
NO_VERDICT_RULES = ("zero", "text")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class LocatabilityError(RuntimeError):
    """The RM failed for some completions and ``fail_fast`` is set (the message has the counts), or
    ``GLOBE_RM_MODEL`` is unset and the server lists several models none of which is clearly the RM."""


@dataclass(kw_only=True)
class LocatabilityConfig(ClientSettings):
    """Where the RM is, how to ask it and what to do when it fails; every field is ``GLOBE_RM_<FIELD>``.

    Build with :meth:`from_env` (arguments > env > these defaults). The transport settings
    (timeout, deadline, retries, backoff, concurrency, size limit) are :class:`ClientSettings`'
    with the RM's own defaults: a training step waits on this reward.
    """

    url: str = ""
    model: str | None = None
    api_key: str | None = None
    timeout: float = 20.0
    deadline: float | None = 25.0
    retries: int = 2
    backoff: float = 0.5
    concurrency: int = 128  # a GRPO batch of 128 completions in flight at once: one round trip
    input: str = "completion"
    temperature: float = 0.6
    max_tokens: int = 5
    top_logprobs: int = 5
    no_verdict: str = "zero"
    verdict: str = "released"
    fallback: float = DEFAULT_FALLBACK
    fail_fast: bool = False
    cooldown: float = 60.0
    probe_timeout: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "LocatabilityConfig":
        """Arguments that are not ``None`` win, then ``GLOBE_RM_<FIELD>`` variables, then the defaults.

        Raises ``ValueError`` naming the variable when ``GLOBE_RM_URL`` is missing or a value
        does not parse.
        """
        env = os.environ if env is None else env
        fields = {item.name: item for item in dataclasses.fields(cls)}
        unknown = set(overrides) - set(fields)
        if unknown:
            raise TypeError(f"unknown locatability option(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, item in fields.items():
            if overrides.get(name) is not None:
                values[name] = overrides[name]
                continue
            raw = env.get(env_name(name))
            if raw is not None and raw.strip() != "":
                values[name] = _parse(env_name(name), raw.strip(), str(item.type))
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
        """Raise ``ValueError`` naming the variable for values no client could use."""
        if not str(self.url).startswith(("http://", "https://")):
            raise ValueError(f"GLOBE_RM_URL must start with http:// or https://, got {redact_url(self.url)!r}")
        self.check_client_settings(env_name)
        checks = [
            ("fallback", _number(self.fallback) and 0.0 <= self.fallback <= 1.0, "a reward between 0 and 1"),
            ("max_tokens", isinstance(self.max_tokens, int) and self.max_tokens >= 1, "an integer >= 1"),
            ("temperature", _number(self.temperature) and self.temperature >= 0, "a number >= 0"),
            ("top_logprobs", isinstance(self.top_logprobs, int) and 1 <= self.top_logprobs <= 20,
             "an integer from 1 to 20"),
            ("input", self.input in RM_INPUTS, " or ".join(RM_INPUTS)),
            ("no_verdict", self.no_verdict in NO_VERDICT_RULES, " or ".join(NO_VERDICT_RULES)),
            ("verdict", self.verdict in VERDICT_READINGS, " or ".join(VERDICT_READINGS)),
            ("cooldown", _number(self.cooldown) and self.cooldown >= 0, "a number of seconds >= 0"),
            ("probe_timeout", _number(self.probe_timeout) and self.probe_timeout > 0, "a number of seconds > 0"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{env_name(name)} must be {expected}; got {getattr(self, name)!r}")


def env_name(field_name: str) -> str:
    """The environment variable of a :class:`LocatabilityConfig` field: ``GLOBE_RM_<FIELD>``."""
    return ENV_PREFIX + field_name.upper()


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse(variable: str, raw: str, annotation: str) -> Any:
    """``raw`` as the field's type (``float``, ``int``, ``bool``, ``str``, optional ones), naming the variable."""
    if "None" in annotation and raw.lower() in ("none", "off"):
        return None
    if annotation.startswith("float"):
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{variable}={raw!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{variable}={raw!r} must be finite")
        return value
    if annotation.startswith("int"):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{variable}={raw!r} is not an integer") from None
    if annotation.startswith("bool"):
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"{variable}={raw!r} is not a boolean; use 1/0, true/false")
    return raw


# --------------------------------------------------------------------------- results

#: Row statuses that are verdicts, not failures: from logprobs; from the reply's first word
#: (``no_verdict=text``); 0.0 because neither yes nor no was among the logprobs (``no_verdict=zero``).
SCORED = "ok"
SCORED_FROM_TEXT = "ok_text"
SCORED_ZERO = "ok_no_verdict"
SCORED_STATUSES = frozenset({SCORED, SCORED_FROM_TEXT, SCORED_ZERO})
#: The row got the fallback without a request: the breaker is open after an outage.
CIRCUIT_OPEN = "circuit_open"


def is_server_failure(status: str) -> bool:
    """A failure that costs time and says the server is down or overloaded (what opens the breaker)."""
    if status in ("timeout", "connection_error", "no_model"):
        return True
    return status.startswith("http_") and status[5:].isdigit() and (int(status[5:]) >= 500 or status[5:] == "429")


@dataclass
class LocatabilityBatch:
    """One batch's rewards with a status per row: one of :data:`SCORED_STATUSES` or the failure reason.

    Failure reasons are :class:`ChatResult` statuses (``"timeout"``, ``"http_500"``,
    ``"bad_response"`` (which includes garbage logprobs such as NaN), ...) plus ``"no_model"``
    (``/v1/models`` could not be read), ``"no_image"``, ``"bad_image"``, ``"no_yes_no"``
    (``no_verdict=text`` and the reply's first word is neither) and ``"circuit_open"``.
    """

    rewards: list[float]
    statuses: list[str]
    fallback: float
    errors: list[str | None] = field(default_factory=list)

    @property
    def failures(self) -> Counter:
        return Counter(status for status in self.statuses if status not in SCORED_STATUSES)

    @property
    def n_failed(self) -> int:
        return sum(self.failures.values())

    @property
    def is_outage(self) -> bool:
        """Nothing scored and some rows failed for the server's sake: what opens the breaker."""
        return (bool(self.statuses) and not any(status in SCORED_STATUSES for status in self.statuses)
                and any(is_server_failure(status) for status in self.statuses))

    def metrics(self) -> dict[str, float]:
        """Shares of the batch for the trainer's log: rows that got the fallback, rows skipped by the breaker."""
        n = max(1, len(self.statuses))
        return {"failed": self.n_failed / n, "circuit_open": self.statuses.count(CIRCUIT_OPEN) / n}

    def first_error(self) -> str | None:
        return next((error for error, status in zip(self.errors, self.statuses)
                     if error and status not in SCORED_STATUSES), None)

    def summary(self) -> str | None:
        """The batch's one log line, or ``None`` when every row was scored from logprobs."""
        n = len(self.statuses)
        parts = []
        if self.n_failed:
            reasons = ", ".join(f"{reason} x{count}" for reason, count in self.failures.most_common())
            example = self.first_error()
            detail = f"; first error: {example[:200]}" if example else ""
            parts.append(f"{self.n_failed}/{n} requests failed ({reasons}); used fallback {self.fallback:g}{detail}")
        from_text = self.statuses.count(SCORED_FROM_TEXT)
        if from_text:
            parts.append(f"{from_text}/{n} scored from the reply's first word (no yes/no among the first token's "
                         "top logprobs; does the server return logprobs?)")
        zero = self.statuses.count(SCORED_ZERO)
        if zero:
            parts.append(f"{zero}/{n} scored 0 with neither yes nor no among the first token's top logprobs "
                         "(GLOBE_RM_NO_VERDICT=zero, the released rule)")
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


def rm_input_text(completion: Any, rm_input: str = "completion") -> str:
    """What the RM reads: the whole completion (released), or its reasoning (``"reasoning"``, GLOBE).

    With ``"reasoning"``, a completion whose ``<think>`` text is empty is sent whole, so a
    completion with nothing but an answer still gets a verdict; either way a chat template's think
    prefill in front of the model's own ``<think>`` is not sent (:func:`globe.answers.model_text`),
    so the RM reads what the model wrote under every family. ``"completion"`` sends the raw text,
    as released.
    """
    text = completion_text(completion)
    if rm_input == "reasoning":
        return think_text(text) or model_text(text)
    return text


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
        f"GLOBE_RM_MODEL is not set and {redact_url(url)}/models lists {len(names)} models ({', '.join(names)}); "
        f"{why}, so which one is the reward model is ambiguous. Set GLOBE_RM_MODEL to the reward "
        f"model's served name ({SERVE_SCRIPT} prints the line, e.g. GLOBE_RM_MODEL=globe-rm)"
    )


# --------------------------------------------------------------------------- circuit breaker


class CircuitBreaker:
    """Remembers an RM outage across batches (and event loops) so a dead server costs one deadline.

    ``closed``: batches are scored. An outage batch opens it: until ``cooldown`` seconds have
    passed every batch falls back at once (``open``); then one batch sends a probe
    (``probe``), which closes the breaker if answered and restarts the cool-down if not.
    ``clock`` is injectable for tests.
    """

    def __init__(self, cooldown: float, clock: Callable[[], float] = time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self.opened_at: float | None = None
        self.next_probe_at = 0.0
        self.rows_skipped = 0
        self.batches_skipped = 0

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "probe" if self.clock() >= self.next_probe_at else "open"

    def trip(self) -> bool:
        """Record an outage; ``True`` when this opened the breaker (the one time to log it)."""
        newly = self.opened_at is None
        if newly:
            self.opened_at = self.clock()
            self.rows_skipped = self.batches_skipped = 0
        self.next_probe_at = self.clock() + self.cooldown
        return newly

    def skipped(self, rows: int) -> None:
        self.rows_skipped += rows
        self.batches_skipped += 1

    def reset(self) -> str | None:
        """Close after a success; the one recovery line to log, or ``None`` if it was closed."""
        if self.opened_at is None:
            return None
        line = (f"answers again after {self.clock() - self.opened_at:.0f} s; {self.rows_skipped} completions in "
                f"{self.batches_skipped} batches got the fallback without a request meanwhile")
        self.opened_at = None
        return line


# --------------------------------------------------------------------------- scorer


def read_verdict(result: ChatResult, reading: str) -> float | None:
    """P(yes) from a response's first-token logprobs by ``GLOBE_RM_VERDICT`` (see the module table)."""
    if reading == "released":
        return released_verdict_probability(result.first_token_top_logprob_entries)
    return verdict_probability(result.first_token_top_logprobs)


class LocatabilityScorer:
    """Scores a batch of completions against their images with one client; see the module docstring.

    ms-swift runs every ``AsyncORM`` of a batch with ``asyncio.run`` (a new event loop per batch) and an
    aiohttp session belongs to the loop that made it. So the requests run on :data:`RM_LOOP`, one
    loop kept in a thread for the process, where the scorer keeps one client (and its open
    connections) from batch to batch: a fresh pool per batch cost a third more client CPU, all of
    it in reconnecting (``bench/rewards.py --base``). Code with a long-lived loop of its own can
    instead keep a client on that loop with ``async with scorer:``.

    Settings: ``config`` (a :class:`LocatabilityConfig`), else ``url`` and keyword overrides of
    its fields over the ``GLOBE_RM_*`` variables of ``env`` (``None``: ``os.environ``).
    """

    def __init__(self, url: str | None = None, *, config: LocatabilityConfig | None = None,
                 env: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic,
                 **overrides: Any):
        if config is None:
            config = LocatabilityConfig.from_env(env, url=url, **overrides)
        else:
            config = dataclasses.replace(config, **{k: v for k, v in dict(overrides, url=url).items() if v is not None})
            config.validate()
        self.config = config
        self._model = self.config.model  # filled from /v1/models on first use, then kept
        self._client: ChatClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        #: The client kept on RM_LOOP with the loop it belongs to (a new loop after a fork or a close gets a new one).
        self._kept: tuple[asyncio.AbstractEventLoop, ChatClient] | None = None
        self.breaker = CircuitBreaker(config.cooldown, clock)
        #: The last batch scored (statuses, errors, :meth:`LocatabilityBatch.metrics`).
        self.last_batch: LocatabilityBatch | None = None

    def __repr__(self) -> str:
        return f"LocatabilityScorer({self.config!r})"

    def _new_client(self) -> ChatClient:
        return ChatClient(self.config.url, api_key=self.config.api_key, model=self._model, settings=self.config)

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
        fallback = self.config.fallback
        if n == 0:
            return LocatabilityBatch([], [], fallback)
        state = self.breaker.state
        if state == "open":
            self.breaker.skipped(n)
            log.debug("locatability: breaker open, %d completions get the fallback without a request", n)
            return LocatabilityBatch([fallback] * n, [CIRCUIT_OPEN] * n, fallback, [None] * n)

        image_urls: dict[Any, str] = {}  # one base64 encoding per distinct image (GRPO repeats each)

        def data_url(image: Any) -> str:
            key = _image_key(image)
            if key is None:
                return image_data_url(image)
            if key not in image_urls:
                image_urls[key] = image_data_url(image)
            return image_urls[key]

        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            outcomes = await self._score_all(self._client, completions, images, data_url, state == "probe")
        else:
            outcomes = await RM_LOOP.run(self._score_on_kept_client(completions, images, data_url, state == "probe"))
        return LocatabilityBatch([o[0] for o in outcomes], [o[1] for o in outcomes], fallback, [o[2] for o in outcomes])

    async def _score_on_kept_client(self, completions: Sequence[Any], images: list[Any], data_url: Any,
                                    probe: bool) -> list[tuple[float, str, str | None]]:
        """:meth:`_score_all` with the scorer's client on :data:`RM_LOOP` (run there), opened on first use."""
        loop = asyncio.get_running_loop()
        if self._kept is None or self._kept[0] is not loop:
            client = self._new_client()
            await client.open()
            self._kept = (loop, client)
            RM_LOOP.at_close(client.close)
        return await self._score_all(self._kept[1], completions, images, data_url, probe)

    async def _score_all(self, client: ChatClient, completions: Sequence[Any], images: list[Any], data_url: Any,
                         probe: bool) -> list[tuple[float, str, str | None]]:
        """Score the batch within the deadline; after an outage, one probe row first."""
        loop = asyncio.get_running_loop()
        deadline = self.config.deadline
        end = None if deadline is None else loop.time() + deadline

        def remaining() -> float | None:
            return None if end is None else max(0.001, end - loop.time())

        rows = list(zip(completions, images))
        done: list[tuple[float, str, str | None]] = []
        if probe:
            limit = min(self.config.probe_timeout, remaining() or math.inf)
            problem = await self._ensure_model(client, limit)
            first = ((self.config.fallback, "no_model", problem) if problem is not None
                     else await self._score_one(client, *rows[0], data_url, limit))
            if is_server_failure(first[1]):
                self.breaker.trip()
                self.breaker.skipped(len(rows) - 1)
                log.debug("locatability: probe failed (%s); still falling back", first[2])
                return [first] + [(self.config.fallback, CIRCUIT_OPEN, None)] * (len(rows) - 1)
            done, rows = [first], rows[1:]
        else:
            problem = await self._ensure_model(client, remaining())
            if problem is not None:
                return [(self.config.fallback, "no_model", problem)] * len(rows)
        rest = await gather_in_turn(self._score_one(client, c, i, data_url, remaining()) for c, i in rows)
        return done + list(rest)

    async def _ensure_model(self, client: ChatClient, deadline: float | None) -> str | None:
        """Pick the model once (``GLOBE_RM_MODEL``, else :func:`pick_served_model`); the error text if
        the server cannot be asked. Raises :class:`LocatabilityError` when its answer is ambiguous.

        Looked up here, once per batch until it succeeds, rather than by every request: a server
        that hangs on ``/v1/models`` then costs one bounded lookup (within the batch's deadline),
        not one per completion. An unreachable server is a per-batch failure (fallback rewards);
        an ambiguous model list is a configuration error that no retry fixes, so it stops
        training at the first batch.
        """
        if self._model:
            client.model = self._model
            return None
        try:
            entries = await client.list_model_entries(deadline)
        except ServerUnavailable as exc:
            return str(exc)
        if not entries:
            return f"{client.base_url}/models lists no models; set GLOBE_RM_MODEL"
        model, is_only_lora = pick_served_model(entries, self.config.url)
        self._model = client.model = model
        if is_only_lora:
            log.warning(
                "locatability: GLOBE_RM_MODEL is not set; scoring with %r, the only LoRA module among the %d models "
                "at %s (%s); set GLOBE_RM_MODEL to choose another", model, len(entries), client.base_url,
                ", ".join(str(entry["id"]) for entry in entries),
            )
        return None

    async def _score_one(self, client: ChatClient, completion: Any, images: Any, data_url: Any,
                         deadline: float | None) -> tuple[float, str, str | None]:
        config = self.config
        fallback = config.fallback
        image = first_image(images)
        if image is None:
            return fallback, "no_image", "row has no image"
        try:
            url = data_url(image)
        except (OSError, ValueError, TypeError) as exc:
            return fallback, "bad_image", redact(f"{type(exc).__name__}: {exc}")
        messages = [
            {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT},
            user_message(rm_input_text(completion, config.input), url),
        ]
        result: ChatResult = await client.chat(
            messages, max_tokens=config.max_tokens, temperature=config.temperature,
            top_logprobs=config.top_logprobs, deadline=deadline,
        )
        if not result.ok:
            return fallback, result.status, result.error
        reward = read_verdict(result, config.verdict)
        if reward is not None:
            return reward, SCORED, None
        if config.no_verdict == "zero":
            return 0.0, SCORED_ZERO, None
        verdict = verdict_from_text(result.text)
        if verdict is not None:
            return verdict, SCORED_FROM_TEXT, None
        return fallback, "no_yes_no", f"reply {str(result.text)[:80]!r}, top logprobs {result.first_token_top_logprobs}"

    async def score(self, completions: Sequence[Any], images: Sequence[Any] | None) -> list[float]:
        """Rewards for a batch; logs one line if anything failed (once per outage); raises if ``fail_fast``."""
        batch = await self.score_batch(completions, images)
        self.last_batch = batch
        if batch.n_failed and self.config.fail_fast:
            raise LocatabilityError(
                f"{batch.summary()} (GLOBE_RM_FAIL_FAST is set; is the reward model at "
                f"{redact_url(self.config.url)} up? see {SERVE_SCRIPT})"
            )
        self._log(batch)
        return batch.rewards

    def _log(self, batch: LocatabilityBatch) -> None:
        """One line per batch with failures, except during an outage: one line when it starts and ends."""
        if CIRCUIT_OPEN in batch.statuses:
            return  # the breaker is open: said when it opened
        url = redact_url(self.config.url)
        if batch.is_outage:
            if self.breaker.trip():
                log.warning(
                    "%s. The reward model at %s scored nothing in this batch: from now on every completion gets the "
                    "fallback at once, without a request, and the server is tried again every %g s "
                    "(GLOBE_RM_COOLDOWN); this is logged once, and counted in rewards/GlobeLocatability/failed",
                    batch.summary(), url, self.config.cooldown,
                )
            return
        recovered = self.breaker.reset()
        if recovered:
            log.warning("locatability: the reward model at %s %s", url, recovered)
        summary = batch.summary()
        if summary:
            log.warning(summary)

    def score_sync(self, completions: Sequence[Any], images: Sequence[Any] | None) -> list[float]:
        """:meth:`score` from synchronous code (any thread, running loop or not): it runs on :data:`RM_LOOP`."""
        return RM_LOOP.run_sync(self.score(completions, images))

    def with_options(self, **overrides: Any) -> "LocatabilityScorer":
        """A scorer with some settings changed (e.g. ``concurrency=1`` for a sequential baseline)."""
        scorer = LocatabilityScorer(config=dataclasses.replace(self.config, **overrides), clock=self.breaker.clock)
        scorer._model = scorer.config.model or self._model
        return scorer


#: The loop every scorer's requests run on, unless the scorer was entered on a loop of the caller's.
RM_LOOP = BackgroundLoop("globe-locatability")


def _image_key(image: Any) -> Any:
    """A key identifying an image's content within one batch, or ``None`` when it has no cheap identity.

    Bytes are keyed by their content, not their ``id``: the reward gets one row per completion,
    and when a GRPO prompt's 16 rows are read from the dataset one by one (ms-swift's repeat
    sampler asks the dataset for the same index 16 times) they carry 16 equal copies of the
    image's bytes, which an identity key would base64-encode 16 times. Hashing bytes costs less
    than encoding them, and the dict compares equal keys byte for byte, so two different images
    never share a data URL.
    """
    if isinstance(image, Mapping):
        data = image.get("bytes")
        return _bytes_key(data) if data else ("path", str(image.get("path")))
    if isinstance(image, str):
        return ("path", image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _bytes_key(image)
    return ("object", id(image))


def _bytes_key(data: Any) -> Any:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return ("bytes", bytes(data))  # bytes(b) is b itself: no copy for the usual case
    return ("object", id(data))
