"""The asynchronous distillation loop: every image to every teacher, filters, verifier, commit.

Concurrency: one :class:`globe.chat_client.ChatClient` per endpoint (teacher or verifier), each
with at most ``concurrency`` requests in flight, retries with exponential backoff, and a
per-request timeout. At most ``rows_in_flight`` images (default ``2 x concurrency``) are open at
once, so memory stays bounded (each holds its base64 image) while every endpoint stays busy:
an image's teacher requests go out together, and its verifier requests follow.

A row's outcome is ``kept``, ``dropped`` (a filter said no; the reason is in
:mod:`globe.distill.filters`) or ``failed`` (a request still failed after every retry, or a bug:
the row is recorded with the error and tried again on the next run). One row never stops the
run. Results are handed to ``commit`` (the output store) as soon as each row finishes.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from globe.catalog import GroundTruthRow
from globe.chat_client import (
    ChatClient,
    ChatResult,
    ClientSettings,
    ServerUnavailable,
    image_data_url,
    redact_url,
    user_message,
)
from globe.data.images import request_image
from globe.prompts import ENTITY_VERIFIER_PROMPT, TEACHER_PROMPT

from .filters import (
    AnswerVerdict,
    FilterSettings,
    FunnelResult,
    answers_agree,
    compare_places,
    funnel,
    grounded_entities,
    judge_answer,
    reward_model_labels,
    verifier_says,
)
from .teacher import TeacherAnswer, parse_teacher_answer


class EndpointError(RuntimeError):
    """An endpoint cannot be used at all (checked once before any row is sent)."""


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible server: ``/v1`` base URL, model (None: the server's first) and key."""

    url: str
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    #: A teacher run inside a Ray cluster by a vLLM engine stage (``globe-distill --ray`` with a model
    #: path): no server to ask; its answers arrive with the row (:meth:`Distiller.process`).
    engine: bool = False

    @classmethod
    def engine_teacher(cls, model_source: str) -> "Endpoint":
        """A teacher given as a model path or hub id, for the Ray job's vLLM engine stage."""
        return cls(url=f"vllm-engine:{model_source}", model=model_source, engine=True)

    @classmethod
    def parse(cls, spec: str, api_key: str | None = None) -> "Endpoint":
        """``URL[=MODEL]``, e.g. ``http://127.0.0.1:8000/v1=Qwen/Qwen2.5-VL-72B-Instruct``.

        The ``=`` that starts MODEL is the first one before any ``?``: a query string
        (``http://h/v1?api-key=...``) stays part of the URL, so its key never becomes the
        model name. A model with such a URL goes before the query: ``http://h/v1=MODEL?api-version=1``.
        """
        head, question, query = spec.strip().partition("?")
        url, _, model = head.partition("=")
        url = url.strip().rstrip("/") + question + query.strip()
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                f"endpoint {redact_url(spec)!r}: expected URL[=MODEL] with an http(s) /v1 base URL, "
                "e.g. http://127.0.0.1:8000/v1=Qwen/Qwen2.5-VL-72B-Instruct"
            )
        return cls(url=url, model=model.strip() or None, api_key=api_key)

    def __repr__(self) -> str:
        return f"Endpoint(url={redact_url(self.url)!r}, model={self.model!r})"

    @property
    def name(self) -> str:
        """For reports and messages: the model and the URL without credentials."""
        return f"{self.model or '<first model>'} @ {redact_url(self.url)}"


@dataclass
class PipelineConfig(ClientSettings):
    """How requests are made (timeouts, retries, backoff, concurrency: the shared
    :class:`~globe.chat_client.ClientSettings`, per endpoint); the filters live in ``filters``."""

    teachers: list[Endpoint]
    filters: FilterSettings
    verifier: Endpoint | None = None
    rows_in_flight: int | None = None
    max_tokens: int = 1024
    temperature: float = 0.0
    verifier_max_tokens: int = 8
    prompt: str = TEACHER_PROMPT
    verifier_prompt: str = ENTITY_VERIFIER_PROMPT

    def check(self) -> None:
        if not self.teachers:
            raise ValueError("at least one --teacher URL[=MODEL] is needed")
        self.check_client_settings(lambda name: "--" + name.replace("_", "-"))
        if self.filters.grounding and self.verifier is None:
            raise ValueError("entity grounding needs a --verifier URL[=MODEL] (or pass --no-grounding)")
        self.filters.check(len(self.teachers))


def prompt_digest(config: PipelineConfig) -> str:
    """A short hash of the prompts, so a resume with changed prompts is refused."""
    text = config.prompt + "\x00" + (config.verifier_prompt if config.verifier else "")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class RowResult:
    """Everything one image produced: the ledger entry and the data rows to append."""

    ledger: dict[str, Any]
    sft_row: dict[str, Any] | None
    rm_rows: list[dict[str, Any]]

    @property
    def outcome(self) -> str:
        return self.ledger["outcome"]


# --------------------------------------------------------------------------- rows


def _record(result: ChatResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "attempts": result.attempts,
        "latency_s": round(result.latency_s, 3),
        "usage": result.usage,
        "finish_reason": result.finish_reason,
        "error": result.error,
        "text": result.text,
    }


def data_row(row: GroundTruthRow, image_ref: str, reasoning: str, entities: Iterable[str],
             locatable: str) -> dict[str, Any]:
    """A row in the layout ``globe-data convert`` writes (``globe.catalog.JSONL_KEYS``)."""
    return {
        "image_id": row.image_id,
        "images": [image_ref],
        "country": row.country,
        "city": row.city,
        "lat": row.lat,
        "lon": row.lon,
        "solution": f"{row.country}\t{row.city}",
        "entities": [{"text": e} for e in entities],
        "reasoning": reasoning,
        "locatable": locatable,
    }


def _entry(row: GroundTruthRow, outcome: str, stage: str | None, reason: str | None, **extra: Any) -> dict[str, Any]:
    entry = {
        "image_id": row.image_id,
        "outcome": outcome,
        "stage": stage,
        "reason": reason,
        "gt": {"country": row.country, "city": row.city, "lat": row.lat, "lon": row.lon},
    }
    entry.update(extra)
    return entry


def judge_row(
    row: GroundTruthRow, answers: list[TeacherAnswer], settings: FilterSettings
) -> tuple[list[AnswerVerdict], FunnelResult, list[dict[str, Any]]]:
    """Per-answer verdicts, the funnel result and the pairwise agreement records (pure, no I/O)."""
    verdicts = [judge_answer(answer, row, settings) for answer in answers]
    agreement: dict[tuple[int, int], bool] = {}
    pairs: list[dict[str, Any]] = []
    for a in range(len(answers)):
        for b in range(a + 1, len(answers)):
            if answers[a].country is None or answers[b].country is None:
                continue
            comparison = compare_places(answers[a].country, answers[a].city, answers[b].country, answers[b].city)
            agree = comparison.matches(settings.agreement_match, settings.agreement_km)
            agreement[(a, b)] = agree
            pairs.append({"a": a, "b": b, "agree": agree, "country_match": comparison.country_match})

    def agree(i: int, j: int) -> bool:
        key = (min(i, j), max(i, j))
        if key not in agreement:
            agreement[key] = answers_agree(answers[key[0]], answers[key[1]], settings.agreement_match,
                                           settings.agreement_km)
        return agreement[key]

    return verdicts, funnel(verdicts, settings, agree), pairs


class Distiller:
    """Holds the open clients; :meth:`process` turns one ground-truth row into a :class:`RowResult`."""

    def __init__(self, config: PipelineConfig, image_ref: Callable[[GroundTruthRow], str]):
        config.check()
        self.config = config
        self.image_ref = image_ref
        self.teachers: list[ChatClient | None] = []
        self.verifier: ChatClient | None = None
        self._stack = contextlib.AsyncExitStack()

    def _client(self, endpoint: Endpoint) -> ChatClient:
        return ChatClient(endpoint.url, api_key=endpoint.api_key, model=endpoint.model, settings=self.config)

    async def __aenter__(self) -> "Distiller":
        try:
            for endpoint in self.config.teachers:
                if endpoint.engine:  # answered by the Ray job's vLLM stage, not over HTTP
                    self.teachers.append(None)
                    continue
                self.teachers.append(await self._stack.enter_async_context(self._client(endpoint)))
            if self.config.verifier is not None and self.config.filters.grounding:
                self.verifier = await self._stack.enter_async_context(self._client(self.config.verifier))
            for client, role in [(t, "teacher") for t in self.teachers] + [(self.verifier, "verifier")]:
                if client is not None:
                    await self._check_endpoint(client, role)
            # Name the resolved models in the report ("<first model>" says little a month later).
            self.config.teachers = [e if c is None else replace(e, model=c.model)
                                    for e, c in zip(self.config.teachers, self.teachers)]
            if self.verifier is not None and self.config.verifier is not None:
                self.config.verifier = replace(self.config.verifier, model=self.verifier.model)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stack.aclose()

    @staticmethod
    async def _check_endpoint(client: ChatClient, role: str) -> None:
        """Fail before the first row when a server is down or does not serve the named model."""
        try:
            models = await client.list_models()
        except ServerUnavailable as exc:
            raise EndpointError(f"{role} {client.base_url}: {exc}") from None
        if client.model is None:
            if not models:
                raise EndpointError(f"{role} {client.base_url} lists no models: give one as URL=MODEL")
            client.model = models[0]
        elif models and client.model not in models:
            raise EndpointError(
                f"{role} {client.base_url} serves {models}, not {client.model!r}: fix the =MODEL part of the flag"
            )

    async def process(self, row: GroundTruthRow, answers: Mapping[int, str] | None = None) -> RowResult:
        """Never raises for a row's own problems: a bug becomes a ``failed`` row with the error.

        ``answers``: teacher index -> the text an engine teacher (``Endpoint.engine``) gave for this
        row in an earlier stage of a Ray job; every other teacher is asked over HTTP.
        """
        try:
            return await self._process(row, answers or {})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one row's bug must not end a 100k-image run
            entry = _entry(row, "failed", "internal", "internal_error", error=f"{type(exc).__name__}: {exc}")
            return RowResult(entry, None, [])

    async def _ask(self, index: int, client: ChatClient | None, messages: list[dict[str, Any]],
                   answers: Mapping[int, str]) -> ChatResult:
        """Teacher ``index``'s answer: over HTTP, or the text its engine stage left in ``answers``."""
        if client is None:
            if index not in answers:
                return ChatResult(ok=False, status="client_error", error=f"teacher {index}: no engine answer for the row")
            return ChatResult(ok=True, text=answers[index], status="ok", attempts=1, texts=[answers[index]])
        return await client.chat(messages, max_tokens=self.config.max_tokens, temperature=self.config.temperature)

    async def _process(self, row: GroundTruthRow, answers: Mapping[int, str]) -> RowResult:
        config, settings = self.config, self.config.filters
        if row.image_path is None:
            return RowResult(_entry(row, "dropped", "input", "image_outside_root", error=row.problem), None, [])
        try:
            image = await asyncio.to_thread(lambda: image_data_url(request_image(row.image_path)))  # bounded read
        except (OSError, ValueError) as exc:
            entry = _entry(row, "dropped", "input", "image_unreadable", error=f"{type(exc).__name__}: {exc}")
            return RowResult(entry, None, [])
        messages = [user_message(config.prompt, image)]
        results = await asyncio.gather(*(
            self._ask(i, client, messages, answers) for i, client in enumerate(self.teachers)
        ))
        records = [_record(result) for result in results]
        if not all(result.ok for result in results):
            statuses = [f"teacher {i}: {r.status} ({r.error})" for i, r in enumerate(results) if not r.ok]
            entry = _entry(row, "failed", "request", "teacher_request_failed", teachers=records,
                           error="; ".join(statuses))
            return RowResult(entry, None, [])

        answers = [parse_teacher_answer(result.text) for result in results]
        verdicts, result, pairs = judge_row(row, answers, settings)
        for record, answer, verdict in zip(records, answers, verdicts):
            record["answer"] = answer.to_dict()
            record["checks"] = {
                "answer_failure": verdict.answer_failure,
                "locatability_failure": verdict.locatability_failure,
                "gt_failure": verdict.gt_failure,
                "gt": verdict.gt.to_dict() if verdict.gt is not None else None,
                "passed": verdict.passed,
            }
        extra: dict[str, Any] = {"teachers": records, "agreement": pairs, "chosen": result.chosen}

        entities: list[str] = []
        grounding_failed = False
        outcome, stage, reason = ("kept", None, None) if result.passed else ("dropped", result.stage, result.reason)
        if result.passed:
            chosen = answers[result.chosen]
            entities = list(chosen.entities)
            if settings.grounding:
                grounding = await self._ground(image, entities)
                extra["grounding"] = grounding
                if grounding["failed"]:
                    entry = _entry(row, "failed", "request", "verifier_request_failed", **extra,
                                   error="; ".join(grounding["errors"]))
                    return RowResult(entry, None, [])
                entities, why = grounded_entities(entities, grounding["verdicts"], settings.min_entities)
                grounding["kept"] = entities
                if why:
                    grounding_failed = True
                    outcome, stage, reason = "dropped", "grounding", why

        labels = reward_model_labels(verdicts, answers, result, grounding_failed)
        extra["rm_labels"] = {str(i): label for i, label in labels.items()}
        image_ref = self.image_ref(row)
        rm_rows = []
        for i, label in sorted(labels.items()):
            rm_entities = entities if i == result.chosen else list(answers[i].entities)
            rm_row = data_row(row, image_ref, answers[i].reasoning, rm_entities, label)
            rm_rows.append({**rm_row, "sample_id": f"{row.image_id}#t{i}", "teacher": i})
        sft_row = None
        if outcome == "kept":
            sft_row = data_row(row, image_ref, answers[result.chosen].reasoning, entities, "yes")
        return RowResult(_entry(row, outcome, stage, reason, **extra), sft_row, rm_rows)

    async def _ground(self, image: str, entities: list[str]) -> dict[str, Any]:
        """Ask the verifier about each entity; unclear answers count as not seen."""
        assert self.verifier is not None
        config = self.config
        results = await asyncio.gather(*(
            self.verifier.chat([user_message(config.verifier_prompt.format(entity=entity), image)],
                               max_tokens=config.verifier_max_tokens, temperature=0.0)
            for entity in entities
        ))
        return {
            "entities": entities,
            "answers": [r.text for r in results],
            "verdicts": [verifier_says(r.text) if r.ok else None for r in results],
            "statuses": [r.status for r in results],
            "usages": [r.usage for r in results],
            "failed": not all(r.ok for r in results),
            "errors": [f"{e!r}: {r.status} ({r.error})" for e, r in zip(entities, results) if not r.ok],
        }


async def run_rows(
    distiller: Distiller,
    rows: Iterable[GroundTruthRow],
    commit: Callable[[RowResult], None],
    rows_in_flight: int,
) -> None:
    """Process ``rows`` with at most ``rows_in_flight`` open at once, committing each as it finishes.

    ``commit`` runs in the event loop thread, one row at a time, so the output files need no lock.
    """
    if rows_in_flight < 1:
        raise ValueError(f"rows_in_flight={rows_in_flight}: must be >= 1")
    slots = asyncio.Semaphore(rows_in_flight)
    pending: set[asyncio.Task] = set()
    errors: list[BaseException] = []

    async def one(row: GroundTruthRow) -> None:
        try:
            result = await distiller.process(row)
            commit(result)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a failing commit (disk full) must stop the run, not vanish
            errors.append(exc)
            raise
        finally:
            slots.release()

    try:
        for row in rows:
            await slots.acquire()
            if errors:
                break
            task = asyncio.create_task(one(row))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        for task in list(pending):
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    if errors:
        raise errors[0]
