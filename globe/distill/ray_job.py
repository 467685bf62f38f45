"""``globe-distill --ray [ADDRESS]``: the distillation pipeline as a Ray Data job.

The same pipeline, not a second copy of it: the driver does what the local command does first
(takes the output folder's lock, stages and selects the ground truth, skips what the ledger
already holds, checks the endpoints), then hands the rows still to do to Ray Data:

1. **Input.** The selected rows are written as one JSON line each to
   ``<out-dir>/distill/ray/todo.jsonl`` and read back as a file-based dataset
   (``ray.data.read_text``), split into blocks across the cluster.
2. **Teachers, verifier and filters.** A batch map on a pool of actors (``--ray-actors``), each
   holding one :class:`globe.distill.pipeline.Distiller`, the object the local command uses: the
   project's async client (:mod:`globe.chat_client`: per-request timeout, retries with backoff,
   bounded concurrency, redacted errors), the teacher prompt, the verifier and the filter funnel.
   A row's failure is recorded in its ledger entry exactly as locally, never raised.
3. **Output.** The driver streams the results back and commits each row through
   :class:`globe.distill.outputs.OutputStore`, the local commit protocol (data lines first, the
   ledger line last), so ``train.jsonl``, ``rm.jsonl``, the ledger and ``report.json`` are the
   local command's files, and resuming is the local rule keyed on image id: a job killed at any
   point and restarted with the same command skips the ids the ledger holds, cuts torn lines,
   and drops data lines the ledger never committed; nothing is lost or written twice.

Why ``ray.data.llm``'s ``HttpRequestProcessorConfig`` is not the HTTP stage: it retries only
429/408/502-504, has no per-request timeout, fails a whole batch on one bad response, and does
not give the per-request status, attempts and latency the ledger records; the verifier's
requests also depend on each teacher answer. Teachers given as a model path (for a GPU
cluster) instead run inside the cluster as a ``ray.data.llm`` vLLM engine stage
(:func:`vllm_teacher_processor`) placed before the batch map, whose answers the map then reads
instead of asking a server (:func:`globe.distill.pipeline.Distiller.process` with ``answers``).

The workers read images by the absolute paths the staged ground truth holds: on a cluster the
images (and ``--out-dir``, written by the driver) must be on storage every node mounts.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from globe import aio
from globe.catalog import GroundTruthRow
from globe.chat_client import image_data_url, user_message
from globe.data.images import request_image
from globe.runfiles import atomic_write_lines
from globe.scale import connect, quiet_progress

from .outputs import WORK_DIR, OutputStore, image_ref_for
from .pipeline import Distiller, PipelineConfig, RowResult

TODO_FILE = f"{WORK_DIR}/ray/todo.jsonl"
#: Default number of actors running the pipeline stage (each keeps ``--concurrency`` requests in flight per endpoint).
DEFAULT_ACTORS = 2
#: CPUs reserved per pipeline actor: it mostly waits on the teachers, so several share a core.
ACTOR_CPUS = 0.25


def row_to_line(row: GroundTruthRow) -> str:
    """A ground-truth row as the JSON line the job reads (ids stay strings: no type guessing)."""
    return json.dumps(dataclasses.asdict(row), ensure_ascii=False)


def row_from_line(line: str) -> GroundTruthRow:
    return GroundTruthRow(**json.loads(line))


def result_to_json(result: RowResult) -> str:
    return json.dumps({"ledger": result.ledger, "sft": result.sft_row, "rm": result.rm_rows}, ensure_ascii=False)


def result_from_json(text: str) -> RowResult:
    data = json.loads(text)
    return RowResult(data["ledger"], data["sft"], data["rm"])


class DistillStage:
    """The pipeline stage of the job: one per actor, holding a :class:`Distiller` and its event loop.

    Ray Data calls it with a batch of ``{"text": [row line, ...]}`` (plus ``teacher_<i>`` text
    columns for teachers answered by a vLLM stage) and gets ``{"image_id", "result"}`` back.
    """

    def __init__(self, config: PipelineConfig, out_dir: str):
        self.loop = aio.new_event_loop()
        self.distiller = Distiller(config, image_ref_for(Path(out_dir)))
        self.loop.run_until_complete(self.distiller.__aenter__())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        """All rows of the batch at once (a batch is ``rows_in_flight`` rows), each through ``Distiller.process``."""
        rows = [row_from_line(str(line)) for line in batch["text"]]
        engine_columns = sorted(k for k in batch if k.startswith("teacher_"))
        answers = [{int(k.split("_", 1)[1]): str(batch[k][n]) for k in engine_columns} for n in range(len(rows))]

        async def run_all() -> list[RowResult]:
            return list(await asyncio.gather(*(self.distiller.process(row, a) for row, a in zip(rows, answers))))

        results = self.loop.run_until_complete(run_all())
        return {"image_id": [r.ledger["image_id"] for r in results], "result": [result_to_json(r) for r in results]}

    def __del__(self) -> None:
        try:
            self.loop.run_until_complete(self.distiller.__aexit__(None, None, None))
            self.loop.close()
        except Exception:  # noqa: BLE001 - an actor being torn down has nowhere to report to
            pass


def write_todo(store: OutputStore, rows: Iterable[GroundTruthRow]) -> tuple[Path, int]:
    """The rows still to do as the job's input file (rewritten whole: a resume lists only what is left)."""
    path = store.path(TODO_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0

    def lines() -> Iterable[str]:
        nonlocal count
        for row in rows:
            count += 1
            yield row_to_line(row) + "\n"

    atomic_write_lines(path, lines())
    return path, count


@dataclass
class EngineSettings:
    """The vLLM engine stage of a model-path teacher: ``engine_kwargs`` go to vLLM (``tensor_parallel_size``,
    ``max_model_len``...), ``replicas`` engines run at once, each fed ``batch_size`` rows at a time."""

    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    replicas: int = 1
    batch_size: int = 16


def build_dataset(todo: Path, n_rows: int, config: PipelineConfig, out_dir: Path, actors: int,
                  engine: EngineSettings | None = None) -> Any:
    """The Ray Data plan: the todo file, a vLLM stage per model-path teacher, then the pipeline stage."""
    import ray.data

    batch = config.rows_in_flight or 2 * config.concurrency
    blocks = max(1, min(-(-n_rows // batch), 64 * actors))
    dataset = ray.data.read_text(str(todo), override_num_blocks=blocks)
    for index, teacher in enumerate(config.teachers):
        if teacher.engine:  # a model path: answered on the cluster's GPUs before the pipeline stage
            engine = engine or EngineSettings()
            dataset = vllm_teacher_processor(teacher.model, config, f"teacher_{index}", concurrency=engine.replicas,
                                             batch_size=engine.batch_size, engine_kwargs=engine.engine_kwargs)(dataset)
    return dataset.map_batches(
        DistillStage, fn_constructor_args=(config, str(out_dir)), batch_size=batch, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=ACTOR_CPUS,
    )


def run_job(config: PipelineConfig, store: OutputStore, rows: Iterable[GroundTruthRow], rows_in: int, done: int,
            progress: bool, address: str, actors: int = DEFAULT_ACTORS, engine: EngineSettings | None = None) -> int:
    """Run the job on the cluster ``address`` names and commit its rows; returns the rows committed."""
    from tqdm import tqdm

    if actors < 1:
        raise ValueError(f"--ray-actors {actors}: must be >= 1")
    connect(address, "globe-distill --ray")
    quiet_progress()
    todo, n_rows = write_todo(store, rows)
    counts: Counter = Counter()
    if not n_rows:
        return 0
    results = build_dataset(todo, n_rows, config, store.out_dir, actors, engine)
    with store, tqdm(total=rows_in, initial=done, unit="img", desc="globe-distill --ray", file=sys.stderr,
                     disable=not progress, dynamic_ncols=True, smoothing=0.1) as bar:
        for batch in results.iter_batches(batch_format="numpy", batch_size=None, prefetch_batches=1):
            for text in batch["result"]:
                result = result_from_json(str(text))
                store.commit(result.ledger, result.sft_row, result.rm_rows)
                counts[result.outcome] += 1
                bar.update(1)
    return sum(counts.values())


def engine_request(line: str, config: PipelineConfig) -> dict[str, Any]:
    """What the vLLM stage is asked for one todo row: the message a served teacher gets (same prompt, same
    bounded image read), and the same sampling settings. A row without a readable image gets the prompt
    alone; the pipeline stage then drops it as the local command does, without using the answer."""
    row = row_from_line(line)
    try:
        image = image_data_url(request_image(row.image_path)) if row.image_path else None
    except (OSError, ValueError):
        image = None
    message = user_message(config.prompt, image)
    return {"messages": [message],
            "sampling_params": {"max_tokens": config.max_tokens, "temperature": config.temperature}}


def vllm_teacher_processor(model_source: str, config: PipelineConfig, column: str, *, concurrency: int = 1,
                           batch_size: int = 16, engine_kwargs: dict[str, Any] | None = None) -> Any:
    """A ``ray.data.llm`` processor running the teacher ``model_source`` (a model path or hub id) in vLLM
    on the cluster's GPUs: each row's image and :data:`globe.prompts.TEACHER_PROMPT` in, the answer text out
    in ``column`` (``teacher_<i>``), which :class:`DistillStage` then judges as a served teacher's answer.

    Built without a GPU (construction needs only ``ray.data.llm``); running it needs vLLM on the workers.
    """
    from globe.scale import require

    llm = require("ray.data.llm", "a --teacher given as a model path")
    engine = {"max_model_len": 8192, "limit_mm_per_prompt": {"image": 1}, **(engine_kwargs or {})}
    processor_config = llm.vLLMEngineProcessorConfig(
        model_source=model_source, engine_kwargs=engine, concurrency=concurrency, batch_size=batch_size,
        prepare_multimodal_stage={"enabled": True}, chat_template_stage={"enabled": True},
        tokenize_stage={"enabled": True}, detokenize_stage={"enabled": True},
    )

    def preprocess(record: dict[str, Any]) -> dict[str, Any]:
        return {**record, **engine_request(record["text"], config)}

    def postprocess(record: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in record.items() if k == "text" or k.startswith("teacher_")}
        return {**kept, column: record.get("generated_text") or ""}

    return llm.build_processor(processor_config, preprocess=preprocess, postprocess=postprocess)
