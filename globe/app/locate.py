"""What the app does with one photo, without any web framework: ask, stream, score, vote, compare.

photo -> ``globe.chat_client`` (streamed, N samples at once) -> the shared scoring path per
sample -> the evaluation's consensus rule (``globe.eval.consensus``) -> truth, distance and
GeoScore (``globe.eval.metrics``) -> optional locatability P(yes) from the reward model.

:class:`Locator` is used by both the page and the ``/locate`` API, so the two cannot disagree;
the Gradio layer (``globe.app.ui``) only turns its updates into components. Faults the user
must act on raise :class:`AppError` with a message that says what happened and what to do.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, AsyncIterator, Mapping, Sequence

import aiohttp

from globe.app.images import ImageProblem, PreparedImage, prepare_image
from globe.app.samples import Truth
from globe.chat_client import ChatClient, ServerUnavailable, redact, redact_url, user_message

log = logging.getLogger(__name__)

MAX_SAMPLES = 16
#: Longest pause between two page updates while tokens stream in (the first token goes out at once).
UPDATE_INTERVAL_S = 0.05


class AppError(RuntimeError):
    """A fault the user must see (server down, not an image...); the message says what to do."""


@dataclass(frozen=True)
class LocateOptions:
    """One request's choices on the page (or the API's parameters)."""

    use_cot: bool = True
    samples: int = 1
    temperature: float = 0.0
    max_tokens: int = 1024

    def checked(self) -> "LocateOptions":
        """Raise :class:`AppError` for values no request can use."""
        if not isinstance(self.samples, int) or not 1 <= self.samples <= MAX_SAMPLES:
            raise AppError(f"samples must be a whole number from 1 to {MAX_SAMPLES}, got {self.samples!r}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and 0 <= self.temperature <= 2):
            raise AppError(f"temperature must be between 0 and 2, got {self.temperature!r}")
        if self.max_tokens < 1:
            raise AppError(f"max_tokens must be >= 1, got {self.max_tokens!r}")
        return self


@dataclass
class SampleAnswer:
    """One sample's text and where its answer resolved (``status``: ok, unresolved, no_answer, failed)."""

    index: int
    text: str = ""
    status: str = "pending"
    country: str | None = None
    city: str | None = None
    place: str | None = None  # the resolved place's display name, "Lisbon, Portugal"
    level: str | None = None  # "city", "region", "island", "landmark" or "country" (globe.geo)
    lat: float | None = None
    lon: float | None = None
    error: str | None = None

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LocateResult:
    """Everything the page shows and the API returns (:meth:`as_json`)."""

    samples: list[SampleAnswer]
    model: str
    image: PreparedImage
    options: LocateOptions
    ranked: list[Any] = field(default_factory=list)  # globe.eval.consensus.RankedPlace, most votes first
    truth: Truth | None = None
    distance_km: float | None = None
    geoscore: float | None = None
    locatability: float | None = None
    locatability_note: str | None = None
    first_token_s: float | None = None
    total_s: float = 0.0

    @property
    def top(self) -> Any | None:
        return self.ranked[0] if self.ranked else None

    @property
    def representative(self) -> SampleAnswer:
        """The sample whose answer is reported: the consensus's first voter, else the first that named anything."""
        if self.top is not None:
            return self.samples[self.top.samples[0]]
        return next((s for s in self.samples if s.country or s.city), self.samples[0])

    @property
    def status(self) -> str:
        if self.top is not None:
            return "ok"
        if any(s.country or s.city for s in self.samples):
            return "unresolved"
        return "no_answer"

    @property
    def message(self) -> str:
        if self.status == "ok":
            return ""
        if self.status == "unresolved":
            rep = self.representative
            return (f"the model answered country={rep.country!r} city={rep.city!r}, which no gazetteer entry matches, "
                    "so there is no place to pin")
        failed = [s for s in self.samples if s.status == "failed"]
        if failed and len(failed) == len(self.samples):
            return f"every sample failed: {failed[0].error}"
        return ("the model returned no answer: no 'country:' / 'city:' lines in its reply"
                + (" (try more tokens or the CoT prompt)" if self.samples[0].text.strip() else " (its reply was empty)"))

    def as_json(self) -> dict[str, Any]:
        from globe.answers import think_text

        rep = self.representative
        top = self.top
        return {
            "status": self.status,
            "message": self.message,
            "country": rep.country,
            "city": rep.city,
            "place": rep.place if top is not None else None,
            "level": top.level if top is not None else None,
            "lat": top.lat if top is not None else None,
            "lon": top.lon if top is not None else None,
            "reasoning": think_text(rep.text) if self.options.use_cot else rep.text,
            "agreement": top.share if top is not None else 0.0,
            "votes": top.votes if top is not None else 0,
            "samples": [s.public() for s in self.samples],
            "places": [{"lat": p.lat, "lon": p.lon, "country": p.country, "city": p.city, "level": p.level,
                        "votes": p.votes, "share": p.share, "samples": list(p.samples)} for p in self.ranked],
            "truth": asdict(self.truth) if self.truth else None,
            "distance_km": self.distance_km,
            "geoscore": self.geoscore,
            "locatability": self.locatability,
            "locatability_note": self.locatability_note,
            "model": self.model,
            "mode": "cot" if self.options.use_cot else "direct",
            "temperature": self.options.temperature,
            "image": {"width": self.image.width, "height": self.image.height, "sent_width": self.image.sent_width,
                      "sent_height": self.image.sent_height, "downscaled": self.image.downscaled,
                      "exif_gps": list(self.image.gps) if self.image.gps else None},
            "first_token_s": self.first_token_s,
            "total_s": self.total_s,
        }


@dataclass(frozen=True)
class Progress:
    """A streaming update: every sample's text so far."""

    texts: tuple[str, ...]
    first_token_s: float | None


# ---------------------------------------------------------------------------- pure helpers


def score_answer(text: str, index: int = 0) -> SampleAnswer:
    """One sample's text -> its names and resolved place, by the shared scoring path (``globe.scoring``).

    Read leniently, as ``globe-eval`` reads answers: the page shows what the model said wherever it
    said it, not only what a training reward would accept.
    """
    from globe.geo import country_name
    from globe.scoring import score_answer as score

    scored = score(text, lenient=True)
    answer = SampleAnswer(index=index, text=text, country=scored.country, city=scored.city, status=scored.status)
    place = scored.place
    if place is not None:
        country = country_name(place.country_code) or place.country_code
        answer.place = country if place.level == "country" else f"{place.name}, {country}"
        answer.level, answer.lat, answer.lon = place.level, float(place.lat), float(place.lon)
    return answer


def rank_answers(samples: Sequence[SampleAnswer]) -> list[Any]:
    """The evaluation's consensus over the samples' places (``globe.eval.consensus.rank_places``)."""
    from globe.eval.consensus import SamplePlace, rank_places

    places = [SamplePlace(s.lat, s.lon, s.country, s.city, s.level) if s.status == "ok" else None for s in samples]
    return rank_places(places)


def server_fault(url: str, exc: BaseException, secrets: Sequence[str | None] = ()) -> AppError:
    """A clear message for a model server that could not be used, naming its URL (credentials redacted)."""
    shown = redact_url(url)
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)
    if isinstance(exc, (ServerUnavailable, aiohttp.ClientConnectionError, ConnectionError, OSError)):
        return AppError(f"The model server at {shown} is not answering: start it (serve_policy.sh, `swift deploy` "
                        f"or `vllm serve`) or restart globe-app with the right --url. Details: {detail[:300]}")
    return AppError(f"The model server at {shown} failed: {redact(str(exc), secrets)}")


# ---------------------------------------------------------------------------- the locator


class Locator:
    """Answers photos with one model server (and optionally a reward model); see the module docstring.

    One :class:`ChatClient` (one connection pool) serves every request of an event loop; the
    Gradio server runs one loop, so in practice one pool for the app's lifetime.
    """

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_pixels: int | None = None,
        rm_url: str | None = None,
        rm_model: str | None = None,
        sample_truths: Mapping[str, Truth] | None = None,
        max_tokens: int = 1024,
    ):
        self.url = url
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_pixels = max_pixels
        self.rm_url = rm_url
        self.rm_model = rm_model
        self.sample_truths = dict(sample_truths or {})
        self.max_tokens = max_tokens
        self._client: ChatClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scorer: Any = None
        # Fails now, at start-up, for a URL no request could use.
        ChatClient(url, api_key=api_key, model=model)

    async def _chat_client(self) -> ChatClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # retries=0: a person is waiting; a down server is reported at once, not after backoff.
            self._client = ChatClient(self.url, api_key=self.api_key, model=self.model, timeout=self.timeout,
                                      retries=0, concurrency=64)
            await self._client.open()
            self._loop = loop
        return self._client

    async def close(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = self._loop = None

    def prepare(self, path: str | None) -> PreparedImage:
        """The photo at ``path`` ready to send; :class:`AppError` when there is none or it is unusable."""
        if not path:
            raise AppError("No photo: upload or paste one, or pick a sample image.")
        try:
            return prepare_image(path, self.max_pixels)
        except ImageProblem as exc:
            raise AppError(str(exc)) from None

    def truth_for(self, image: PreparedImage) -> Truth | None:
        """The photo's EXIF GPS, else the known place of a bundled sample image, else ``None``."""
        if image.gps is not None:
            return Truth(image.gps[0], image.gps[1], "EXIF GPS")
        return self.sample_truths.get(image.digest)

    async def stream(self, image: PreparedImage, options: LocateOptions) -> AsyncIterator[Progress | LocateResult]:
        """Yield :class:`Progress` while the samples stream in, then one :class:`LocateResult`.

        The first :class:`Progress` (no text yet) comes as soon as the requests are sent, so the
        page updates while the server works rather than delaying the request.

        Raises :class:`AppError` when the server cannot be used at all; a sample that fails
        after others succeeded is recorded as ``failed`` in the result instead.
        """
        from globe.prompts import geo_prompt

        options = options.checked()
        started = time.perf_counter()
        client = await self._chat_client()
        try:
            model = await client.resolve_model()
        except ServerUnavailable as exc:
            raise server_fault(self.url, exc, [self.api_key]) from None
        messages = [user_message(geo_prompt(options.use_cot), image.data)]
        texts = [""] * options.samples
        errors: list[BaseException | None] = [None] * options.samples
        queue: asyncio.Queue[tuple[int, str | None, BaseException | None]] = asyncio.Queue()

        async def run_sample(index: int) -> None:
            try:
                async for piece in client.stream(messages, max_tokens=options.max_tokens,
                                                 temperature=options.temperature):
                    await queue.put((index, piece, None))
            except Exception as exc:  # noqa: BLE001 - reported per sample
                await queue.put((index, None, exc))
                return
            await queue.put((index, None, None))

        tasks = [asyncio.create_task(run_sample(i)) for i in range(options.samples)]
        first_token_s: float | None = None
        last_update = 0.0
        dirty = False  # text arrived that the last update did not show
        try:
            yield Progress(tuple(texts), None)  # the requests are on their way: the page may say so
            pending = options.samples
            while pending:
                try:
                    index, piece, error = await asyncio.wait_for(queue.get(), timeout=UPDATE_INTERVAL_S)
                except asyncio.TimeoutError:
                    index, piece, error = -1, None, None
                if index >= 0 and piece is None:
                    pending -= 1
                    errors[index] = error
                elif piece is not None:
                    texts[index] += piece
                    dirty = True
                    if first_token_s is None:
                        first_token_s = time.perf_counter() - started
                now = time.perf_counter()
                # The first token goes out at once; later ones at most every UPDATE_INTERVAL_S.
                if dirty and (last_update == 0.0 or now - last_update >= UPDATE_INTERVAL_S):
                    last_update, dirty = now, False
                    yield Progress(tuple(texts), first_token_s)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if all(error is not None for error in errors):
            raise server_fault(self.url, errors[0], [self.api_key])  # type: ignore[arg-type]
        yield Progress(tuple(texts), first_token_s)
        result = await asyncio.to_thread(self._score, image, options, model, texts, errors)
        if self.rm_url and result.top is not None:
            await self._add_locatability(result, image)
        result.first_token_s = first_token_s
        result.total_s = time.perf_counter() - started
        yield result

    def _score(self, image: PreparedImage, options: LocateOptions, model: str, texts: Sequence[str],
               errors: Sequence[BaseException | None]) -> LocateResult:
        """Score every sample, vote, and compare with the truth (in a thread: the gazetteer may load)."""
        from globe.eval.metrics import geoscore
        from globe.geo import distance_km

        samples = []
        for index, (text, error) in enumerate(zip(texts, errors)):
            if error is not None:
                samples.append(SampleAnswer(index=index, text=text, status="failed",
                                             error=str(server_fault(self.url, error, [self.api_key]))))
            else:
                samples.append(score_answer(text, index))
        result = LocateResult(samples=samples, model=model, image=image, options=options,
                              ranked=rank_answers(samples), truth=self.truth_for(image))
        if result.truth is not None and result.top is not None:
            result.distance_km = distance_km((result.truth.lat, result.truth.lon), (result.top.lat, result.top.lon))
            result.geoscore = geoscore([result.distance_km])
        return result

    async def _add_locatability(self, result: LocateResult, image: PreparedImage) -> None:
        """P(yes) of the reward model for the reported sample's reasoning; a note instead when it fails."""
        from globe.locatability import SCORED_STATUSES, LocatabilityScorer

        shown = redact_url(self.rm_url)
        try:
            if self._scorer is None:
                self._scorer = LocatabilityScorer(self.rm_url, model=self.rm_model, retries=0, timeout=self.timeout)
            batch = await self._scorer.score_batch([result.representative.text], [image.data])
        except Exception as exc:  # noqa: BLE001 - the score is an extra: the answer stands without it
            result.locatability_note = f"locatability unavailable: {shown}: {redact(exc)}"
            return
        if batch.statuses and batch.statuses[0] in SCORED_STATUSES:
            result.locatability = float(batch.rewards[0])
        else:
            detail = (batch.errors[0] if batch.errors else None) or (batch.statuses[0] if batch.statuses else "")
            result.locatability_note = f"locatability unavailable: the reward model at {shown} did not score ({detail})"

    async def locate(self, path: str | None, options: LocateOptions) -> LocateResult:
        """The whole answer for the photo at ``path`` (the API's path: no streaming)."""
        image = await asyncio.to_thread(self.prepare, path)
        async for update in self.stream(image, options):
            if isinstance(update, LocateResult):
                return update
        raise AppError("the model stream ended without a result")  # unreachable by construction
