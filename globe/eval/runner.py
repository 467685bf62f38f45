"""The evaluation run: one request per ground-truth row, rows appended to the CSV as they finish.

Why it is built this way:

* **Nothing is lost on a kill.** Each finished row is formatted to one string and written with
  a single ``os.write`` on an ``O_APPEND`` descriptor, so a SIGKILL loses at most the rows still
  in flight, never half a row (a torn tail from a full disk is trimmed on resume anyway).
* **Resume without duplicates.** Rows are keyed by ``gt_index`` (their position in the ground
  truth). Rerunning with the same ``--output`` keeps rows the model answered (``ok``,
  ``unresolved``, ``no_answer``) and redoes the rest (failed requests, missing images...), after
  rewriting the file without them, atomically. ``overwrite=True`` starts afresh.
* **One run, one set of settings.** The settings that decide the answers (model, prompt,
  sampling, geocoder, ground-truth file) are recorded beside the CSV when a run starts afresh,
  and a resume with different ones is refused before the CSV is touched
  (``globe.eval.fingerprint``).
* **Nothing is silently dropped.** Every failure is a row with ``status`` and ``error``; the
  metrics count it as wrong (``globe.eval.metrics``).
* **Bounded memory.** ``concurrency`` workers pull rows from a queue; only their images are in memory.
* **Several samples per image** (``EvalSettings.samples`` N > 1): one request with ``n`` = N
  where the server honours it, else N single requests, one after another (the first response
  with fewer choices than asked, or a rejected ``n``, switches the run to single requests; the
  samples already received are kept). Every sample's answer, parsed names and place are kept in
  the row's ``samples`` column (JSON); the row's ``pred_*`` columns are the top-ranked place of
  :func:`globe.eval.consensus.rank_places` and ``agreement`` its vote share. The row is written
  once, when all N samples are in, so resume stays per image. With N = 1 (the default) nothing
  of this applies: the request, the columns and the rows are those of a single-answer run.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from globe import geo
from globe.catalog import GroundTruthRow
from globe.chat_client import ChatClient, ChatResult, ClientSettings, user_message
from globe.data.image_paths import resolve_image_path
from globe.data.images import ImageError, released_image_url, request_image
from globe.data.layouts import Layout
from globe.eval.data import GroundTruthFile
from globe.eval.fingerprint import check_resume, run_fingerprint, write_fingerprint
from globe.runfiles import AppendOnlyFile, atomic_write_lines, read_csv_records
from globe.scoring import ANSWERED_STATUSES, resolve_place

logger = logging.getLogger(__name__)

#: Columns the run adds after the ground truth's own columns.
RESULT_COLUMNS = [
    "gt_index", "gt_country", "gt_city", "gt_lat", "gt_lon",
    "prediction", "pred_country", "pred_city", "pred_lat", "pred_lon", "pred_level", "error_km",
    "status", "error", "attempts", "latency_s",
]

#: Columns a run with several samples per image adds after :data:`RESULT_COLUMNS`.
SAMPLE_COLUMNS = ["n_samples", "agreement", "samples"]
#: What each entry of the ``samples`` column records about one sample.
SAMPLE_FIELDS = ("text", "country", "city", "lat", "lon", "level", "status", "error")

#: Columns added after the first release: a CSV lacking only these is upgraded in place on resume.
ADDED_RESULT_COLUMNS = ("pred_level",)

PlaceResolver = Callable[[str | None, str | None], Any]


@dataclass
class EvalSettings(ClientSettings):
    """What each request looks like, and how it is sent (timeouts, retries, concurrency: the shared
    :class:`~globe.chat_client.ClientSettings`); mirrors the CLI options."""

    prompt: str
    system_prompt: str | None = None
    max_tokens: int = 1024
    temperature: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Completions asked per image (``--samples``); 1 is the single-answer run.
    samples: int = 1
    #: Send each file's bytes unchanged as ``data:image;base64,...`` (the released eval; ``--released-settings``)
    #: instead of :func:`globe.data.images.request_image`'s budgeted image.
    released_image: bool = False


@dataclass
class RunStats:
    n_total: int = 0
    n_already_done: int = 0
    n_done_now: int = 0
    n_redone: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class OutputMismatchError(ValueError):
    """An existing output CSV was written for different ground-truth columns."""


# --------------------------------------------------------------------------- CSV output


def output_columns(gt_columns: Sequence[str], samples: int = 1) -> list[str]:
    """Ground-truth columns (those not clashing with ours), :data:`RESULT_COLUMNS`, and with
    ``samples`` > 1 :data:`SAMPLE_COLUMNS`."""
    ours = set(RESULT_COLUMNS) | (set(SAMPLE_COLUMNS) if samples > 1 else set())
    return [column for column in gt_columns if column not in ours] + RESULT_COLUMNS + (
        SAMPLE_COLUMNS if samples > 1 else [])


def format_csv_row(fieldnames: Sequence[str], record: Mapping[str, Any]) -> str:
    """One CSV line (``\n``-terminated) of ``record``'s values in ``fieldnames`` order; absent ones empty."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(record.get(key)) for key in fieldnames])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)  # repr round-trips exactly
    return value


class AppendOnlyCsv(AppendOnlyFile):
    """A CSV opened for appending whole rows, one ``os.write`` each (:class:`globe.runfiles.AppendOnlyFile`)."""

    def __init__(self, path: Path, fieldnames: Sequence[str]):
        super().__init__(path)
        self.fieldnames = list(fieldnames)
        if self.empty:
            super().write(format_csv_row(self.fieldnames, dict(zip(self.fieldnames, self.fieldnames))))

    def write(self, record: Mapping[str, Any]) -> None:
        super().write(format_csv_row(self.fieldnames, record))


def read_output_rows(path: Path) -> tuple[list[str], list[dict[str, str]], bool]:
    """``(header, complete rows, clean)`` of an output CSV (:func:`globe.runfiles.read_csv_records`)."""
    header, records, clean = read_csv_records(path)
    return header, [dict(zip(header, values)) for values in records], clean


def prepare_output(path: Path, fieldnames: Sequence[str], overwrite: bool) -> tuple[dict[int, dict[str, str]], int]:
    """Make ``path`` hold only rows to keep; returns ``(kept rows by gt_index, rows dropped to redo)``.

    A CSV from an older version, lacking only :data:`ADDED_RESULT_COLUMNS`, is rewritten with
    them (empty in its old rows; ``globe.eval.metrics.prediction_level`` says how they read).
    """
    if overwrite or not path.exists() or path.stat().st_size == 0:
        if path.exists():
            path.unlink()
        return {}, 0
    header, rows, clean = read_output_rows(path)
    upgraded = header != list(fieldnames) and header == [name for name in fieldnames if name not in ADDED_RESULT_COLUMNS]
    if header != list(fieldnames) and not upgraded:
        raise OutputMismatchError(
            f"{path} has columns {header[:6]}... which differ from this run's {list(fieldnames)[:6]}...: "
            f"it was written for another ground-truth file or version. Pass --overwrite to replace it, "
            f"or choose another --output."
        )
    kept: dict[int, dict[str, str]] = {}
    dropped = 0
    for row in rows:
        try:
            index = int(row["gt_index"])
        except (KeyError, ValueError):
            dropped += 1
            continue
        # an answered row is kept (redoing it would change sampled results); a failed one is redone
        if row.get("status") in ANSWERED_STATUSES and index not in kept:
            kept[index] = row
        else:
            dropped += 1
    if dropped or not clean or upgraded:  # an older CSV gains the new columns, empty in its old rows
        atomic_write_lines(path, [format_csv_row(fieldnames, dict(zip(fieldnames, fieldnames)))]
                           + [format_csv_row(fieldnames, kept[index]) for index in sorted(kept)])
    return kept, dropped


# --------------------------------------------------------------------------- the CPU lane


def _run_jobs(jobs: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """Run ``jobs`` in order: ``(True, result)`` or ``(False, exception)`` each, so one bad row fails alone."""
    outcomes: list[tuple[bool, Any]] = []
    for function, args in jobs:
        try:
            outcomes.append((True, function(*args)))
        except Exception as exc:  # noqa: BLE001 - handed to that job's awaiting row
            outcomes.append((False, exc))
    return outcomes


class CpuLane:
    """One worker thread running the run's CPU work (image reads, offline scoring), in batches.

    Why: handing a job to a thread and back costs about 0.1 ms of CPU (a queue put, a thread
    wake-up, a self-pipe write to wake the loop), as much as reading a small image, and a row
    made two such trips. Here the jobs that arrive while a batch runs wait and go together in
    the next one, so under load one round trip carries several rows' work. The event loop never
    runs the work itself: aiohttp sends a request's body on a later loop turn, so CPU work on
    the loop delays every request in flight. One thread is enough: the work holds the
    interpreter lock anyway, and huge images are downscaled a few at a time regardless
    (``globe.data.images``). A job that blocks on a network (an online geocoder) must not queue
    here behind the others: :func:`evaluate_row` sends those to their own threads.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="globe-eval-cpu")
        self._waiting: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future]] = []
        self._busy = False

    def run(self, function: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
        """``function(*args)`` in the lane's thread; await the returned future for its result or exception."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((function, args, future))
        if not self._busy:  # at the end of this loop turn, with every job this turn submits
            self._busy = True
            loop.call_soon(self._start, loop)
        return future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._waiting = self._waiting, []
        if not batch:
            self._busy = False
            return
        done = loop.run_in_executor(self._executor, _run_jobs, [(function, args) for function, args, _ in batch])
        done.add_done_callback(lambda outcome: self._finish(loop, batch, outcome))

    def _finish(self, loop: asyncio.AbstractEventLoop, batch: list, outcome: "asyncio.Future[Any]") -> None:
        self._busy = False
        failure = None if outcome.cancelled() else outcome.exception()
        for index, (_, _, future) in enumerate(batch):
            if future.done():
                continue
            if outcome.cancelled():
                future.cancel()
            elif failure is not None:
                future.set_exception(failure)
            else:
                ok, value = outcome.result()[index]
                future.set_result(value) if ok else future.set_exception(value)
        if self._waiting and not loop.is_closed():
            self._start(loop)

    def close(self) -> None:
        """Let the thread end once its batch is done (a cancelled run does not wait for it)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _offline(resolver: PlaceResolver) -> bool:
    """Whether ``resolver`` is the offline gazetteer (CPU only), whose scoring may share the :class:`CpuLane`."""
    return resolver is geo.resolve or resolver is resolve_place


# --------------------------------------------------------------------------- one row


def _base_record(row: GroundTruthRow) -> dict[str, Any]:
    record: dict[str, Any] = dict(row.raw)
    record.update(gt_index=row.index, gt_country=row.country, gt_city=row.city, gt_lat=row.lat, gt_lon=row.lon)
    return record


def _fill_prediction(record: dict[str, Any], text: str, scored: Any) -> dict[str, Any]:
    """Copy one answer scored by :func:`globe.scoring.score_answer` into ``record``'s
    ``prediction``/``pred_*``/``status``/``error``/``error_km``."""
    record.update(prediction=text, pred_country=scored.country, pred_city=scored.city, status=scored.status,
                  error=scored.error)
    if scored.place is not None:
        record.update(pred_lat=float(scored.place.lat), pred_lon=float(scored.place.lon), pred_level=scored.level,
                      error_km=scored.distance_km)
    return record


def _score(text: str, record: Mapping[str, Any], resolver: PlaceResolver) -> Any:
    from globe.scoring import score_answer

    return score_answer(text, record.get("gt_lat"), record.get("gt_lon"), lenient=True, resolver=resolver)


def score_prediction(record: dict[str, Any], text: str, resolver: PlaceResolver) -> dict[str, Any]:
    """Fill ``pred_*``, ``error_km`` and ``status`` of ``record`` from a model's answer text.

    :func:`globe.scoring.score_answer`, read leniently (evaluation also counts answers found
    outside the tags); ``pred_level`` is the place's own level ("city", "country", "region"...).
    """
    return _fill_prediction(record, text, _score(text, record, resolver))


def sample_entry(text: str, scored: Any) -> dict[str, Any]:
    """What the ``samples`` column keeps of one sample (:data:`SAMPLE_FIELDS`)."""
    place = scored.place
    return {"text": text, "country": scored.country, "city": scored.city,
            "lat": float(place.lat) if place is not None else None,
            "lon": float(place.lon) if place is not None else None,
            "level": scored.level if place is not None else None, "status": scored.status, "error": scored.error}


def score_predictions(record: dict[str, Any], texts: Sequence[str], resolver: PlaceResolver) -> dict[str, Any]:
    """Fill ``record`` from several sampled answers: every sample, then the consensus (module docstring).

    Each sample is scored as a single answer is (:func:`score_prediction`). The row's prediction
    is the representative (first) sample of the top-ranked place; with no placed sample, the
    first sample that named something (``unresolved``), else the first (``no_answer``).
    """
    from globe.eval.consensus import SamplePlace, agreement, rank_places

    scored = [_score(text, record, resolver) for text in texts]
    ranked = rank_places([SamplePlace.from_place(s.place, s.country, s.city) if s.place is not None else None
                          for s in scored])
    if ranked:
        chosen = ranked[0].samples[0]
    else:
        chosen = next((i for i, s in enumerate(scored) if s.status == "unresolved"), 0)
    _fill_prediction(record, texts[chosen], scored[chosen])
    record.update(n_samples=len(texts), agreement=agreement(ranked), samples=json.dumps(
        [sample_entry(text, s) for text, s in zip(texts, scored)], ensure_ascii=False))
    return record


def read_row_image(row: GroundTruthRow, image_root: Path, settings: EvalSettings,
                   layout: Layout | None = None) -> tuple[Any, str | None, str | None]:
    """``(image for the request, None, None)`` for ``row``, or ``(None, status, error)`` why there is none.

    The row's file is found inside ``image_root`` (``layout``: how ids name files, default the
    MP16 rule) and read by the bounded reader (:mod:`globe.data.images`). Never raises for a bad row.
    """
    try:
        if layout is None:
            path = resolve_image_path(image_root, row.image_id or "")
        else:
            path = resolve_image_path(image_root, row.image_id or "", layout.image_names, layout.file_id)
    except PermissionError as exc:
        return None, "outside_image_root", str(exc)
    try:
        reader = released_image_url if settings.released_image else request_image
        return reader(path), None, None  # bounded: see globe.data.images
    except FileNotFoundError:
        return None, "missing_image", f"image not found: {path}"
    except ImageError as exc:
        return None, exc.status, str(exc)
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for broken files
        return None, "corrupt_image", f"cannot decode {path}: {type(exc).__name__}: {exc}"


async def evaluate_row(
    row: GroundTruthRow, image_root: Path, client: ChatClient, settings: EvalSettings, resolver: PlaceResolver,
    mode: "SamplingMode | None" = None, layout: Layout | None = None, lane: CpuLane | None = None,
) -> dict[str, Any]:
    """One output record for one ground-truth row; never raises for a bad row.

    ``layout``: how the ground truth's ids name image files (default: the MP16 rule). ``lane``:
    where the image read and (offline) scoring run; without one, each in a thread of its own.
    """
    record = _base_record(row)
    if row.problem:
        record.update(status="bad_row", error=row.problem)
        return record
    offload = lane.run if lane is not None else asyncio.to_thread
    image, status, error = await offload(read_row_image, row, image_root, settings, layout)
    if status is not None:
        record.update(status=status, error=error)
        return record

    messages = []
    if settings.system_prompt:
        messages.append({"role": "system", "content": settings.system_prompt})
    messages.append(user_message(settings.prompt, image))
    # Off the loop: an online geocoder blocks (rate limits) and must not stall the other requests,
    # nor, in the lane, the other rows' image reads: it gets a thread of its own.
    score_in = lane.run if lane is not None and _offline(resolver) else asyncio.to_thread
    if settings.samples > 1:
        return await _evaluate_samples(record, messages, client, settings, resolver, mode or SamplingMode(), score_in)
    result: ChatResult = await client.chat(
        messages, max_tokens=settings.max_tokens, temperature=settings.temperature, extra=settings.extra or None
    )
    record.update(attempts=result.attempts, latency_s=round(result.latency_s, 3))
    if not result.ok:
        record.update(status=result.status, error=result.error)
        return record
    return await score_in(score_prediction, record, result.text or "", resolver)


@dataclass
class SamplingMode:
    """Whether this run's server honours ``n`` (``None`` until a response says), shared by the workers."""

    use_n: bool | None = None


#: Statuses of a request with ``n`` that may mean "this server does not take ``n``": retried without it.
N_REJECTED_STATUSES = frozenset({"http_400", "http_422", "http_501"})


async def request_samples(
    messages: list[dict[str, Any]], client: ChatClient, settings: EvalSettings, mode: SamplingMode
) -> tuple[list[str], int, float, ChatResult | None]:
    """``settings.samples`` answer texts for one image: ``(texts, attempts, seconds, failed result or None)``.

    One request with ``n`` unless ``mode`` says the server ignores or rejects it; the texts keep
    the order the server gave them (choice index, then request order).
    """
    wanted = settings.samples
    extra = dict(settings.extra or {})
    texts: list[str] = []
    attempts, seconds = 0, 0.0

    async def ask(n: int) -> ChatResult:
        nonlocal attempts, seconds
        result = await client.chat(messages, max_tokens=settings.max_tokens, temperature=settings.temperature,
                                   extra={**extra, "n": n} if n > 1 else (extra or None))
        attempts += result.attempts
        seconds += result.latency_s
        return result

    if mode.use_n is not False:
        result = await ask(wanted)
        if result.ok:
            texts.extend((result.texts or [result.text or ""])[:wanted])
            if len(texts) < wanted:
                if mode.use_n is not False:
                    logger.info("the server returned %d of %d choices asked with n: asking one sample per "
                                "request from now on", len(texts), wanted)
                mode.use_n = False
            elif mode.use_n is None:
                mode.use_n = True
        elif result.status in N_REJECTED_STATUSES and mode.use_n is None:
            logger.info("the server refused n=%d (%s): asking one sample per request", wanted, result.status)
            mode.use_n = False
        else:
            return texts, attempts, seconds, result
    while len(texts) < wanted:
        result = await ask(1)
        if not result.ok:
            return texts, attempts, seconds, result
        texts.append(result.text or "")
    return texts, attempts, seconds, None


async def _evaluate_samples(
    record: dict[str, Any], messages: list[dict[str, Any]], client: ChatClient, settings: EvalSettings,
    resolver: PlaceResolver, mode: SamplingMode, score_in: Callable[..., Any] = asyncio.to_thread,
) -> dict[str, Any]:
    texts, attempts, seconds, failed = await request_samples(messages, client, settings, mode)
    record.update(attempts=attempts, latency_s=round(seconds, 3))
    if failed is not None:  # the image is redone whole on resume: a row never holds part of its samples
        record.update(status=failed.status, error=failed.error, n_samples=len(texts))
        return record
    return await score_in(score_predictions, record, texts, resolver)


# --------------------------------------------------------------------------- the run


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="eval", unit="img", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


async def run_eval_async(
    gt: GroundTruthFile,
    output: Path,
    client: ChatClient,
    settings: EvalSettings,
    resolver: PlaceResolver,
    overwrite: bool = False,
    progress: bool = True,
    fingerprint: Mapping[str, Any] | None = None,
) -> RunStats:
    """Evaluate every row of ``gt`` not already in ``output``; see the module docstring.

    ``fingerprint`` (:func:`globe.eval.fingerprint.run_fingerprint`): this run's settings, checked
    against those recorded beside ``output`` before resuming it (raises
    :class:`~globe.eval.fingerprint.RunSettingsMismatch`) and recorded when starting afresh.
    """
    fieldnames = output_columns(gt.columns, settings.samples)
    fresh = overwrite or not output.exists() or output.stat().st_size == 0
    warning = check_resume(output, fingerprint) if fingerprint is not None and not fresh else None
    kept, dropped = prepare_output(output, fieldnames, overwrite)
    if fingerprint is not None and (fresh or warning):
        # After prepare_output: an overwritten CSV is gone before the new settings claim its name.
        write_fingerprint(output, fingerprint)
    wanted = {row.index for row in gt.rows}
    pending = [row for row in gt.rows if row.index not in kept]
    stats = RunStats(n_total=len(gt.rows), n_already_done=len(wanted & set(kept)), n_redone=dropped)
    if warning:
        logger.warning(warning)
        stats.warnings.append(warning)
    if stats.n_already_done:
        logger.info("resuming %s: %d rows done, %d to go", output, stats.n_already_done, len(pending))
    mode = SamplingMode()
    queue: asyncio.Queue[GroundTruthRow] = asyncio.Queue()
    for row in pending:
        queue.put_nowait(row)

    lane = CpuLane()
    with AppendOnlyCsv(output, fieldnames) as writer, _progress(len(pending), progress) as bar:
        async def worker() -> None:
            while True:
                try:
                    row = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                record = await evaluate_row(row, gt.image_root, client, settings, resolver, mode, gt.layout, lane)
                writer.write(record)
                status = str(record.get("status"))
                stats.status_counts[status] = stats.status_counts.get(status, 0) + 1
                stats.n_done_now += 1
                bar.update(1)

        workers = [asyncio.create_task(worker()) for _ in range(max(1, min(settings.concurrency, len(pending))))]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            lane.close()
    return stats


async def run_eval_with_server(
    gt: GroundTruthFile,
    output: Path,
    url: str,
    settings: EvalSettings,
    resolver: PlaceResolver,
    model: str | None = None,
    api_key: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    run_info: Mapping[str, Any] | None = None,
) -> tuple[RunStats, str]:
    """Open one client for the run, pick the model (the server's first unless given), run; ``(stats, model)``.

    The run's fingerprint is built from ``settings``, ``gt`` and the model, plus ``run_info``
    (settings only the caller knows: ``use_cot``, ``geocoder``).
    """
    async with ChatClient(url, api_key=api_key, model=model, settings=settings) as client:
        chosen = await client.resolve_model()  # fails fast with a clear message if the server is down
        fingerprint = run_fingerprint(
            model=chosen, prompt=settings.prompt, system_prompt=settings.system_prompt,
            temperature=settings.temperature, max_tokens=settings.max_tokens, extra=settings.extra,
            samples=settings.samples,
            gt_file=gt.gt_file, lat_lon_swapped=gt.lat_lon_swapped, image_root=gt.image_root, **dict(run_info or {}),
        )
        stats = await run_eval_async(gt, output, client, settings, resolver, overwrite=overwrite, progress=progress,
                                     fingerprint=fingerprint)
    return stats, chosen


def results_for_ground_truth(gt: GroundTruthFile, output: Path) -> list[dict[str, Any]]:
    """One row per ground-truth row, in order: its result in ``output``, else a ``missing_result`` row.

    So a summary's ``n`` is always the ground truth's row count. A row the CSV lacks (a run stopped
    by a full disk, a record damaged after it was written) counts as failed, and the next run on
    the same ``--output`` evaluates it.
    """
    found = {int(row["gt_index"]): row for row in load_results(output, indices=[row.index for row in gt.rows])}
    rows: list[dict[str, Any]] = []
    for row in gt.rows:
        if row.index in found:
            rows.append(found[row.index])
            continue
        record = _base_record(row)
        record.update(status="missing_result", error=f"no result for this row in {output}; rerun to evaluate it")
        rows.append(record)
    return rows


def id_keys(image_id: str) -> set[str]:
    """The spellings an image id matches by: as written (slashes normalised, no ``./``) and the
    file names the MP16 rule gives it (a bare ``abc`` is also ``abc.jpg``)."""
    from globe.data.layouts import mp16_image_names

    normalised = image_id.strip().replace("\\", "/")
    while normalised.startswith("./"):
        normalised = normalised[2:]
    return {normalised, *mp16_image_names(normalised)} if normalised else set()


def excluded_id_keys(ids: Iterable[str]) -> set[str]:
    return set().union(*(id_keys(image_id) for image_id in ids))


def exclude_rows(gt: GroundTruthFile, ids: Iterable[str]) -> tuple[GroundTruthFile, int, int]:
    """``(gt without the rows whose image the ids name, rows excluded, ids matching no row)``.

    Rows keep their ``gt_index``, so an excluded run resumes and compares with a full one.
    """
    from dataclasses import replace

    ids = list(ids)
    keys = excluded_id_keys(ids)
    kept = [row for row in gt.rows if not id_keys(row.image_id or "") & keys]
    present = excluded_id_keys(row.image_id or "" for row in gt.rows)
    unmatched = sum(1 for image_id in set(ids) if not id_keys(image_id) & present)
    return replace(gt, rows=kept), len(gt.rows) - len(kept), unmatched


def load_results(path: Path, indices: Iterable[int] | None = None) -> list[dict[str, str]]:
    """The complete rows of an output CSV, ordered by ``gt_index`` (optionally only ``indices``)."""
    _, rows, _ = read_output_rows(path)
    keep = set(indices) if indices is not None else None
    by_index: dict[int, dict[str, str]] = {}
    unkeyed: list[dict[str, str]] = []
    for row in rows:
        try:
            index = int(row["gt_index"])
        except (KeyError, ValueError):
            unkeyed.append(row)
            continue
        if keep is None or index in keep:
            by_index[index] = row  # the last write of an index wins
    return [by_index[index] for index in sorted(by_index)] + (unkeyed if keep is None else [])
