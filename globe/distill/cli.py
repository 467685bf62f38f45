"""``globe-distill`` (also ``python -m globe.distill``): rebuild GLOBE's training data from teacher VLMs.

Example (one vLLM-served teacher, 200 images as a dry run)::

    globe-distill --gt-file mp16_pro.csv --image-root mp16/images \\
        --teacher http://127.0.0.1:8000/v1=Qwen/Qwen2.5-VL-72B-Instruct \\
        --sample 200 --seed 0 --out-dir data/distilled

Re-running the same command resumes (finished images are skipped, failed ones retried);
``--overwrite`` starts again. See docs/rebuild_data.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from globe import aio
from globe.data.layouts import LAYOUTS as DATA_LAYOUTS

from .filters import MATCH_MODES, FilterSettings
from .inputs import InputError, select_rows, stage_ground_truth
from .outputs import (
    LEDGER_FILE,
    RM_BALANCE_MODES,
    RM_FILE,
    RUN_FILE,
    SFT_FILE,
    WORK_DIR,
    OutputError,
    OutputStore,
    atomic_write_text,
    image_ref_for,
)
from .pipeline import Distiller, Endpoint, EndpointError, PipelineConfig, RowResult, prompt_digest, run_rows
from .report import ReportBuilder

ENDPOINTS_FILE = f"{WORK_DIR}/endpoints.json"
TEACHER_KEY_ENV = ("GLOBE_TEACHER_API_KEY", "OPENAI_API_KEY")
VERIFIER_KEY_ENV = ("GLOBE_VERIFIER_API_KEY", "GLOBE_TEACHER_API_KEY", "OPENAI_API_KEY")
LAYOUTS = ("auto", *DATA_LAYOUTS)


def _env_key(names: tuple[str, ...]) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults that say something (not ``None``/``False``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="globe-distill",
        description="Distil reasoning, entities and locatability labels from teacher VLMs into GLOBE "
                    "training rows (SFT/GRPO) and reward-model rows, with a report.",
        formatter_class=_HelpFormatter,
    )
    io = parser.add_argument_group("input and output")
    io.add_argument("--gt-file", required=True, help="ground-truth CSV in any layout globe-data reads, or a globe-data JSONL")
    io.add_argument("--layout", default="auto", choices=LAYOUTS, help="layout of --gt-file (auto: from its header)")
    io.add_argument("--image-root", default=None,
                    help="folder holding the images the ids name (default: the CSV's folder); "
                         "a .jsonl ground truth's image paths must then lie inside it")
    io.add_argument("--image-check", default="decode", choices=("decode", "exists", "none"),
                    help="how ground-truth images are checked before any request")
    io.add_argument("--out-dir", required=True, help="where train.jsonl, rm.jsonl and report.json go")
    io.add_argument("--overwrite", action="store_true", help="delete this folder's earlier distillation outputs first")
    io.add_argument("--limit", type=int, default=None, help="process at most N rows (after --sample)")
    io.add_argument("--sample", type=int, default=None, help="process a seeded uniform sample of N rows")
    io.add_argument("--seed", type=int, default=0, help="seed of --sample and of the reward-model balancing")
    io.add_argument("--retry-failed", action=argparse.BooleanOptionalAction, default=True,
                    help="on resume, retry rows whose requests failed in an earlier run")
    io.add_argument("--rm-balance", default="downsample", choices=RM_BALANCE_MODES,
                    help="balance reward-model yes/no rows by downsampling the majority label")
    io.add_argument("--no-progress", action="store_true", help="no progress bar")
    from globe.scale import add_ray_flag

    add_ray_flag(io, "the distillation (the same pipeline and outputs; a --teacher may then be a model path, "
                     "run by a vLLM engine stage on the cluster's GPUs)")
    io.add_argument("--ray-actors", type=int, default=2,
                    help="with --ray: actors running the pipeline stage, each with --concurrency requests in flight "
                         "per endpoint")
    io.add_argument("--vllm-engine-args", default="{}", metavar="JSON",
                    help="with --ray and a model-path --teacher: vLLM engine arguments, e.g. "
                         "'{\"tensor_parallel_size\": 4, \"max_model_len\": 8192}'")
    io.add_argument("--vllm-replicas", type=int, default=1,
                    help="with --ray and a model-path --teacher: vLLM engines running at once")

    ep = parser.add_argument_group("endpoints (OpenAI-compatible; keys from $GLOBE_TEACHER_API_KEY or $OPENAI_API_KEY)")
    ep.add_argument("--teacher", action="append", required=True, metavar="URL[=MODEL]",
                    help="a teacher's /v1 base URL and model (split at the first '=' before any '?', so "
                         "URL?api-key=... stays a URL); repeat for several teachers, best first")
    ep.add_argument("--verifier", metavar="URL[=MODEL]", default=None,
                    help="entity verifier asked 'is X visible?' per entity (key: $GLOBE_VERIFIER_API_KEY, else the teacher key)")
    ep.add_argument("--concurrency", type=int, default=16, help="requests in flight per endpoint")
    ep.add_argument("--rows-in-flight", type=int, default=None, help="images open at once (default 2 x --concurrency)")
    ep.add_argument("--retries", type=int, default=3, help="extra attempts per request on 429/5xx/timeouts")
    ep.add_argument("--timeout", type=float, default=120.0, help="seconds per request attempt")
    ep.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds (doubles each retry)")
    ep.add_argument("--max-tokens", type=int, default=1024, help="teacher max_tokens")
    ep.add_argument("--temperature", type=float, default=0.0, help="teacher sampling temperature")

    flt = parser.add_argument_group("filters (each a switch with a threshold; see globe/distill/filters.py)")
    flt.add_argument("--locatability", action=argparse.BooleanOptionalAction, default=True,
                     help="keep answers judged locatable with confidence >= --min-confidence")
    flt.add_argument("--min-confidence", type=float, default=0.7)
    flt.add_argument("--gt-agreement", action=argparse.BooleanOptionalAction, default=True,
                     help="keep answers whose place matches the ground truth")
    flt.add_argument("--gt-match", default="city-or-km", choices=MATCH_MODES)
    flt.add_argument("--gt-km", type=float, default=25.0, help="radius for the km modes of --gt-match")
    flt.add_argument("--teacher-agreement", action=argparse.BooleanOptionalAction, default=True,
                     help="with several teachers, keep rows where --min-agreeing of them name the same place")
    flt.add_argument("--agreement-match", default="city-or-km", choices=MATCH_MODES)
    flt.add_argument("--agreement-km", type=float, default=25.0)
    flt.add_argument("--min-agreeing", type=int, default=None, help="teachers that must agree (default: all)")
    flt.add_argument("--grounding", action=argparse.BooleanOptionalAction, default=None,
                     help="check entities with --verifier (default: on when --verifier is given)")
    flt.add_argument("--min-entities", type=int, default=2, help="grounded entities a kept row needs")
    return parser


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in ("limit", "sample", "concurrency", "rows_in_flight", "max_tokens", "ray_actors", "vllm_replicas"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} {value}: must be >= 1")
    if args.retries < 0:
        parser.error(f"--retries {args.retries}: must be >= 0")
    if args.timeout <= 0:
        parser.error(f"--timeout {args.timeout}: must be > 0")
    try:
        engine_args = json.loads(args.vllm_engine_args)
    except json.JSONDecodeError as exc:
        parser.error(f"--vllm-engine-args {args.vllm_engine_args!r}: not JSON ({exc})")
    if not isinstance(engine_args, dict):
        parser.error(f"--vllm-engine-args {args.vllm_engine_args!r}: must be a JSON object")


def _is_model_path(args: argparse.Namespace, spec: str) -> bool:
    """With ``--ray``, a ``--teacher`` that is not an http(s) URL names a model for the vLLM engine stage."""
    return getattr(args, "ray", None) is not None and not spec.strip().startswith(("http://", "https://"))


def build_config(args: argparse.Namespace) -> PipelineConfig:
    teacher_key, verifier_key = _env_key(TEACHER_KEY_ENV), _env_key(VERIFIER_KEY_ENV)
    teachers = [Endpoint.engine_teacher(spec) if _is_model_path(args, spec) else Endpoint.parse(spec, teacher_key)
                for spec in args.teacher]
    verifier = Endpoint.parse(args.verifier, verifier_key) if args.verifier else None
    grounding = (verifier is not None) if args.grounding is None else args.grounding
    filters = FilterSettings(
        locatability=args.locatability, min_confidence=args.min_confidence,
        gt_agreement=args.gt_agreement, gt_match=args.gt_match, gt_km=args.gt_km,
        teacher_agreement=args.teacher_agreement, agreement_match=args.agreement_match,
        agreement_km=args.agreement_km, min_agreeing=args.min_agreeing,
        grounding=grounding, min_entities=args.min_entities,
    )
    config = PipelineConfig(
        teachers=teachers, filters=filters, verifier=verifier, concurrency=args.concurrency,
        rows_in_flight=args.rows_in_flight, retries=args.retries, timeout=args.timeout, backoff=args.backoff,
        max_tokens=args.max_tokens, temperature=args.temperature,
    )
    config.check()
    return config


def run_settings(args: argparse.Namespace, config: PipelineConfig) -> dict[str, Any]:
    """What the outputs depend on; a resume must match it (row selection may change)."""
    return {
        "gt_file": str(Path(args.gt_file).expanduser().resolve()),
        "layout": args.layout,
        "teacher_models": [t.model for t in config.teachers],
        "verifier_model": config.verifier.model if config.verifier and config.filters.grounding else None,
        "filters": dataclasses.asdict(config.filters),
        "prompt_digest": prompt_digest(config),
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
    }


def _count(iterable: Any) -> int:
    return sum(1 for _ in iterable)


def _summary(report: dict[str, Any], out_dir: Path) -> str:
    lines = [
        f"globe-distill: {report['rows_processed']}/{report['rows_in']} rows processed: "
        f"{report['rows_kept']} kept, {report['rows_dropped']} dropped, {report['rows_failed']} failed",
    ]
    gt = report.get("ground_truth") or {}
    if gt.get("converted"):
        dropped = ", ".join(f"{k} {v}" for k, v in (gt.get("dropped") or {}).items()) or "none"
        lines.append(f"  ground truth: {gt.get('rows_read')} rows read, {gt.get('rows_usable')} usable (dropped: {dropped})")
    for reason, n in report["dropped_by_reason"].items():
        lines.append(f"  dropped {reason}: {n}")
    for reason, n in report["failed_by_reason"].items():
        lines.append(f"  failed {reason}: {n}")
    for teacher in report["teachers"]:
        gt = teacher["gt_agreement"]
        lines.append(f"  teacher {teacher['name']}: answered {teacher['answered']}, "
                     f"agrees with ground truth {gt['agree']}/{gt['compared']}, tokens {teacher['tokens'].get('total_tokens', 0)}")
    rm = report["reward_model"]
    lines.append(f"  reward-model rows: {rm['written']['yes']} yes + {rm['written']['no']} no "
                 f"(candidates {rm['candidates']['yes']} yes, {rm['candidates']['no']} no; balance {rm['balance']})")
    if rm["balance"] == "downsample" and min(rm["candidates"].values()) == 0 < max(rm["candidates"].values()):
        lines.append("  warning: reward-model candidates have only one label, so the balanced rm.jsonl is empty "
                     "(distil more rows, or pass --rm-balance none)")
    lines.append(f"  outputs in {out_dir}: {SFT_FILE}, {RM_FILE}, report.json")
    if report["rows_failed"]:
        lines.append("  some rows failed: re-run the same command to retry them")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    try:
        config = build_config(args)
    except ValueError as exc:
        parser.error(str(exc))
    store = OutputStore(args.out_dir)
    progress = not args.no_progress
    started = time.perf_counter()
    rows_in: int | None = None
    gt_summary: dict[str, Any] = {}
    processed_now: int | None = None
    try:
        resumed = store.prepare(run_settings(args, config), overwrite=args.overwrite)
        gt_path, gt_summary = stage_ground_truth(
            args.gt_file, store.out_dir, layout=args.layout, image_root=args.image_root,
            image_check=args.image_check, limit=args.limit if args.sample is None else None, progress=progress,
        )
        repaired = store.repair()
        if repaired:
            print(f"globe-distill: cleaned up after an interrupted run (lines removed: {repaired})", file=sys.stderr)
        state = store.ledger_state()

        def selection() -> Any:
            return select_rows(gt_path, sample=args.sample, seed=args.seed, limit=args.limit,
                               image_root=args.image_root)

        rows_in = _count(selection())
        done = _count(r for r in selection() if state.done(r.image_id, args.retry_failed))
        if resumed:
            print(f"globe-distill: resuming in {store.out_dir}: {done}/{rows_in} rows already done", file=sys.stderr)
        if done < rows_in:
            todo = (r for r in selection() if not state.done(r.image_id, args.retry_failed))
            if args.ray is not None:
                processed_now = _distill_on_ray(config, store, todo, rows_in, done, progress, args)
            else:
                processed_now = aio.run(_distill(config, store, todo, rows_in, done, progress))
        else:  # nothing to ask: rebuild the outputs without needing the endpoints
            processed_now = 0
    except (OutputError, InputError, EndpointError, ImportError, ConnectionError) as exc:
        print(f"globe-distill: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("globe-distill: interrupted; re-run the same command to resume", file=sys.stderr)
        if not store.path(RUN_FILE).exists():
            return 130
    report = finalize(store, config, args, rows_in, gt_summary, {
        "elapsed_s": round(time.perf_counter() - started, 2), "rows_processed": processed_now,
    })
    print(_summary(report, store.out_dir), file=sys.stderr)
    store.release()
    return 0 if processed_now is not None else 130


def endpoint_names(config: PipelineConfig) -> tuple[list[str], str | None]:
    """How the report names the teachers and the verifier."""
    verifier = config.verifier.name if config.verifier is not None and config.filters.grounding else None
    return [t.name for t in config.teachers], verifier


def finalize(store: OutputStore, config: PipelineConfig, args: argparse.Namespace, rows_in: int | None,
             gt_summary: dict[str, Any], this_run: dict[str, Any]) -> dict[str, Any]:
    """Rebuild rm.jsonl and report.json from the ledger and candidates (idempotent)."""
    rm = store.write_rm(args.rm_balance, args.seed)
    names, verifier = endpoint_names(config)
    known = store.path(ENDPOINTS_FILE)
    if known.exists() and any(t.model is None for t in config.teachers):  # the models a run resolved
        saved = json.loads(known.read_text(encoding="utf-8"))
        names, verifier = saved["teachers"], saved["verifier"]
    builder = ReportBuilder(names, config.filters, verifier).add_all(store.ledger_entries())
    report = builder.build(rows_in, extra={
        "reward_model": rm,
        "ground_truth": gt_summary,
        "settings": {
            "filters": dataclasses.asdict(config.filters),
            "teachers": names,
            "verifier": verifier,
            "sample": args.sample, "seed": args.seed, "limit": args.limit,
            "max_tokens": config.max_tokens, "temperature": config.temperature,
            "retries": config.retries, "timeout": config.timeout, "concurrency": config.concurrency,
        },
        "outputs": {"sft": str(store.path(SFT_FILE)), "reward_model": str(store.path(RM_FILE)),
                    "ledger": str(store.path(LEDGER_FILE))},
        "this_run": this_run,
    })
    store.write_report(report)
    return report


async def _check_endpoints(config: PipelineConfig, store: OutputStore) -> None:
    """Fail before any row when a server is down, and save the models the servers resolved (for the report)."""
    async with Distiller(config, lambda row: ""):
        teachers, verifier = endpoint_names(config)
        atomic_write_text(store.path(ENDPOINTS_FILE), json.dumps({"teachers": teachers, "verifier": verifier}) + "\n")


def _distill_on_ray(config: PipelineConfig, store: OutputStore, rows: Any, rows_in: int, done: int, progress: bool,
                    args: argparse.Namespace) -> int:
    """The same rows through the Ray Data job (:mod:`globe.distill.ray_job`), committed to the same store."""
    from .ray_job import EngineSettings, run_job

    aio.run(_check_endpoints(config, store))
    engine = EngineSettings(engine_kwargs=json.loads(args.vllm_engine_args), replicas=args.vllm_replicas)
    return run_job(config, store, rows, rows_in, done, progress, args.ray, actors=args.ray_actors, engine=engine)


async def _distill(config: PipelineConfig, store: OutputStore, rows: Any, rows_in: int, done: int,
                   progress: bool) -> int:
    from tqdm import tqdm

    counts: Counter = Counter()

    async with Distiller(config, image_ref_for(store.out_dir)) as distiller:
        teachers, verifier = endpoint_names(config)  # models now resolved from the servers
        atomic_write_text(store.path(ENDPOINTS_FILE), json.dumps({"teachers": teachers, "verifier": verifier}) + "\n")
        with store, tqdm(total=rows_in, initial=done, unit="img", desc="globe-distill", file=sys.stderr,
                         disable=not progress, dynamic_ncols=True, smoothing=0.1) as bar:

            def commit(result: RowResult) -> None:
                store.commit(result.ledger, result.sft_row, result.rm_rows)
                counts[result.outcome] += 1
                bar.update(1)
                bar.set_postfix(kept=counts["kept"], dropped=counts["dropped"], failed=counts["failed"], refresh=False)

            await run_rows(distiller, rows, commit, config.rows_in_flight or 2 * config.concurrency)
    return sum(counts.values())


if __name__ == "__main__":
    sys.exit(main())
