"""``globe-eval``: evaluate a served model on a geolocation test set, or rescore a predictions CSV.

::

    globe-eval --url http://127.0.0.1:8000/v1 --dataset im2gps3k --output out.csv --use_cot
    globe-eval --url URL --gt-file my.csv --image-root imgs/ --output out.csv
    globe-eval score out.csv            # no server: recompute out.json (and plots) from the CSV
    globe-eval compare a.json b.json    # runs beside the published results of their test set (globe.eval.compare)

A row without a usable prediction (failed request, missing image, no answer, a name no
geocoder can place) counts as wrong at every threshold. An answer placed only at country level
(``pred_level`` "country") is scored from that country's reference point (see ``globe.geo``) but
never counts at the city-scale thresholds, 1 km and 25 km (``globe.eval.metrics``).
``--released-settings`` reproduces the
released eval for comparison with published tables: its request (system prompt, temperature
0.1, 512 tokens, penalties 0.7, each file's bytes unchanged as ``data:image;base64``, 60 s per
attempt, 2 retries; explicit options still override) and its ``*_acc_string`` (the ground
truth's own ``country``/``city`` cells as written, the rows its loop kept, its reading of CoT and
direct answers: :func:`globe.eval.metrics.released_string_accuracies`). The identity and
distance metrics keep GLOBE's truth either way; the summary's ``metric_truth`` says which truth
each metric used.

``--samples N`` asks for N answers per image (``n`` in one request where the server takes it,
else N requests); the headline metrics are then those of the consensus place (answers within
25 km vote together, ``globe.eval.consensus``) and the summary adds top-k accuracies and
accuracy by agreement (the top place's vote share). ``--exclude FILE`` leaves out the images a
``globe-data leakage`` pairs CSV marks as leaking (or a list of ids); the summary counts them.

Rerunning the same command resumes (only unfinished or failed rows are sent); ``--overwrite``
starts again. The settings that decide the answers are recorded in ``<output>.run.json`` and a
resume with a different model, prompt, sampling, geocoder or ground truth is refused (exit 2);
concurrency, timeout, retries and ``--limit`` may change between resumes
(``globe.eval.fingerprint``). Every option also accepts its ``snake_case`` spelling (``--use_cot``, ``--gt_file``),
as the released script did. Configuration order: options, then ``GLOBE_*`` environment
variables, then the documented defaults.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from globe import aio
from globe.catalog import TEST_SETS, find_dataset, ground_truth_source
from globe.data.layouts import LAYOUTS
from globe.eval.data import SWAP_CHOICES, GroundTruthError, load_ground_truth
from globe.eval.metrics import DEFAULT_THRESHOLD_RULE, THRESHOLD_RULES

DISTANCE_HELP = ("how the error is measured for the summary: geodesic (WGS-84; default; GLOBE, G3, GeoRanker) or "
                 "haversine (a sphere; OSV-5M's); top-k and consensus stay geodesic; recorded as distance")
THRESHOLD_RULE_HELP = (
    "how a distance d counts within a threshold t: le = d <= t (default; GLOBE, GeoCLIP), lt = d < t (G3, "
    "GeoRanker); recorded in the summary as threshold_rule")

GEOCODERS = ("offline", "nominatim", "azure")
logger = logging.getLogger("globe.eval")


def _flag(name: str) -> list[str]:
    """``--gt-file`` and ``--gt_file``."""
    dashed = f"--{name.replace('_', '-')}"
    underscored = f"--{name.replace('-', '_')}"
    return [dashed] if dashed == underscored else [dashed, underscored]


def _add(parser: argparse.ArgumentParser, name: str, **kwargs: Any) -> None:
    parser.add_argument(*_flag(name), dest=name.replace("-", "_"), **kwargs)


def make_resolver(kind: str = "offline") -> Callable[[str | None, str | None], Any]:
    """``(country, city) -> Place | None`` for ``--geocoder``: offline GeoNames, or an online geocoder (opt-in)."""
    if kind == "offline":
        from globe.geo import resolve

        return resolve
    if kind not in GEOCODERS:
        raise ValueError(f"--geocoder must be one of {', '.join(GEOCODERS)}, got {kind!r}")
    from globe.geo import OnlineGeocoder

    geocoder = OnlineGeocoder(provider=kind)
    return geocoder.resolve


def build_run_parser() -> argparse.ArgumentParser:
    names = ", ".join(sorted(entry.name for entry in TEST_SETS))
    aliases = ", ".join(alias for entry in TEST_SETS for alias in entry.aliases)
    parser = argparse.ArgumentParser(
        prog="globe-eval",
        description="Evaluate a model served behind an OpenAI-compatible API (vLLM, swift deploy) on a geolocation "
                    "test set. Subcommand `globe-eval score CSV` rescores an existing predictions CSV with no server.",
    )
    _add(parser, "url", default=os.environ.get("GLOBE_EVAL_URL"),
         help="server base URL ending in /v1, e.g. http://127.0.0.1:8000/v1 (env GLOBE_EVAL_URL)")
    _add(parser, "model", default=None, help="model name to request (default: the server's first model in /v1/models)")
    _add(parser, "api-key", default=None, help="API key (default: env GLOBE_API_KEY, then OPENAI_API_KEY; none for local servers)")
    source = parser.add_argument_group("ground truth (a dataset name, or --gt-file with --image-root)")
    _add(source, "dataset", default=None, help=f"test set name: {names} (released aliases: {aliases})")
    _add(source, "data-root", default=None, help="where named datasets live (default: env GLOBE_DATA_ROOT, then <repo>/data)")
    _add(source, "gt-file", default=None, help="ground-truth CSV (IMG_ID/id, LAT/latitude, LON/longitude, [country, city])")
    _add(source, "layout", default=None, choices=["auto", *LAYOUTS],
         help="layout the ground truth is read through (globe.data.layouts; default: --dataset's, else detected "
              "from the header)")
    _add(source, "image-root", default=None, help="folder the CSV's image ids are relative to; paths outside it are refused")
    _add(source, "limit", type=int, default=None, help="evaluate only the first N rows")
    _add(source, "swap-lat-lon", choices=SWAP_CHOICES, default="auto",
         help="auto: detect a LAT/LON header swap from the values, as globe-data does (default); yes/no: force it")
    _add(parser, "output", required=True, help="predictions CSV; the summary goes beside it as .json, plots as .png")
    _add(parser, "overwrite", action="store_true", help="start afresh instead of resuming an existing --output")
    _add(parser, "use-cot", action="store_true", help="ask for <think> reasoning then <answer> (the GLOBE prompt)")
    _add(parser, "system-prompt", default=None, help="optional system message (default: none; the server template's own)")
    _add(parser, "concurrency", type=int, default=16, help="requests in flight (default 16)")
    _add(parser, "timeout", type=float, default=120.0, help="seconds per request attempt (default 120)")
    _add(parser, "retries", type=int, default=3, help="extra attempts on 429/5xx/timeouts/connection errors (default 3)")
    _add(parser, "temperature", type=float, default=0.0, help="sampling temperature (default 0: greedy, reproducible)")
    _add(parser, "max-tokens", type=int, default=1024, help="completion token limit (default 1024; CoT answers are long)")
    _add(parser, "extra", default=None, help='JSON merged into each request, e.g. \'{"frequency_penalty": 0.7}\'')
    _add(parser, "geocoder", choices=GEOCODERS, default="offline", help="how predicted names become coordinates (default offline)")
    _add(parser, "threshold-rule", choices=list(THRESHOLD_RULES), default=DEFAULT_THRESHOLD_RULE, help=THRESHOLD_RULE_HELP)
    _add(parser, "distance", choices=["geodesic", "haversine"], default="geodesic", help=DISTANCE_HELP)
    _add(parser, "samples", type=int, default=1,
         help="answers per image (default 1); N > 1 ranks the answers' places by votes and reports the top one, "
              "top-k accuracies and agreement (use a temperature > 0)")
    _add(parser, "exclude", default=None,
         help="leave out these images: a `globe-data leakage` pairs CSV (its leaking rows) or a list of image ids")
    _add(parser, "released-settings", action="store_true",
         help="the released eval, exactly: its CoT/direct prompt byte for byte, system prompt, temperature 0.1, "
              "max 512 tokens, frequency/presence penalty 0.7, each file's bytes unchanged, 60 s per attempt, "
              "2 retries (explicit options override), and *_acc_string computed as it did (the file's own "
              "country/city cells, its row rule and its answer reading)")
    _add(parser, "no-plots", action="store_true", help="skip the PNG plots")
    _add(parser, "quiet", action="store_true", help="no progress bar")
    return parser


#: What the released eval.py sent with every request and how it scored (its published numbers used these).
RELEASED_SETTINGS = {
    "system_prompt": "You are a helpful assistant.",
    "temperature": 0.1,
    "max_tokens": 512,
    "extra": json.dumps({"frequency_penalty": 0.7, "presence_penalty": 0.7}),
    "timeout": 60.0,  # its client.chat.completions.create(timeout=60)
    "retries": 2,  # the OpenAI client's default max_retries
    "released_prompts": True,  # globe.prompts.released_eval_prompt instead of geo_prompt
    "released_image": True,  # the file's bytes as data:image;base64 (globe.data.images.released_image_url)
    "string_truth": "released",  # *_acc_string as released (globe.eval.metrics.released_string_accuracies)
}
#: The OpenAI client's first retry delay (it doubles, with jitter, up to 8 s).
RELEASED_BACKOFF_S = 0.5


def build_score_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="globe-eval score",
        description="Recompute the summary (JSON beside the CSV), table and plots from a predictions CSV: ours, the "
                    "released eval's, or any with ground-truth LAT/LON and pred_country/pred_city (or prediction text).",
    )
    parser.add_argument("csv", help="predictions CSV")
    _add(parser, "geocoder", choices=GEOCODERS, default="offline", help="for predictions without coordinates")
    _add(parser, "reresolve", action="store_true", help="re-place every prediction from its names, ignoring pred_lat/pred_lon")
    _add(parser, "threshold-rule", choices=list(THRESHOLD_RULES), default=DEFAULT_THRESHOLD_RULE, help=THRESHOLD_RULE_HELP)
    _add(parser, "distance", choices=["geodesic", "haversine"], default="geodesic", help=DISTANCE_HELP)
    _add(parser, "dataset", default=None,
         help="the test set the CSV's rows are (recorded in the summary for `globe-eval compare`; default: the "
              "run's own record beside the CSV)")
    _add(parser, "summary", default=None, help="where to write the JSON (default: the CSV path with .json)")
    _add(parser, "exclude", default=None,
         help="leave out these images: a `globe-data leakage` pairs CSV (its leaking rows) or a list of image ids")
    _add(parser, "released-settings", action="store_true",
         help="compute *_acc_string as the released eval did (the CSV's own country/city cells, its row rule, "
              "its answer reading: pass --use-cot for a reasoning run)")
    _add(parser, "use-cot", action="store_true",
         help="with --released-settings: the answers came from the CoT prompt (read the first <answer> block)")
    _add(parser, "no-plots", action="store_true", help="skip the PNG plots")
    return parser


def _score_and_report(csv_path: Path, rows: list[dict[str, str]], resolver, reresolve: bool, plots: bool,
                      summary_file: Path | None, extra: dict[str, Any],
                      threshold_rule: str = DEFAULT_THRESHOLD_RULE, distance: str = "geodesic",
                      string_truth: str = "globe", use_cot: bool = True) -> dict[str, Any]:
    from globe.eval.metrics import summarize
    from globe.eval.report import format_table, summary_path, write_report, write_summary
    from globe.eval.score import scored_rows

    scored = scored_rows(rows, resolver=resolver, reresolve=reresolve, distance=distance)
    summary = summarize(scored, threshold_rule=threshold_rule, string_truth=string_truth, use_cot=use_cot)
    summary["distance"] = distance
    summary.update(extra)
    written = write_report(csv_path, scored, summary, plots=plots)
    if summary_file is not None and summary_file != summary_path(csv_path):
        written["summary"] = write_summary(summary, summary_file)
    print(format_table(summary, title=f"== {csv_path.name} =="))
    print("wrote " + ", ".join(str(path) for path in written.values()))
    return summary


def run_command(args: argparse.Namespace) -> int:
    from globe.chat_client import ServerUnavailable
    from globe.eval.fingerprint import RunSettingsMismatch
    from globe.eval.runner import EvalSettings, OutputMismatchError, results_for_ground_truth, run_eval_with_server
    from globe.prompts import geo_prompt, released_eval_prompt
    from globe.runfiles import RunFileError, RunLock, RunLocked

    if not args.url:
        print("error: --url is required (or set GLOBE_EVAL_URL), e.g. --url http://127.0.0.1:8000/v1", file=sys.stderr)
        return 2
    if args.dataset and args.gt_file:
        print("error: pass either --dataset or --gt-file, not both", file=sys.stderr)
        return 2
    try:
        dataset = None
        if args.gt_file:
            if not args.image_root:
                print("error: --gt-file needs --image-root (the folder its image ids are relative to)", file=sys.stderr)
                return 2
            gt_file, image_root, layout = Path(args.gt_file), Path(args.image_root), args.layout or "auto"
        elif args.dataset:
            dataset = find_dataset(args.dataset, evaluable=True).name  # an alias is recorded by its name
            gt_file, image_root, layout = ground_truth_source(dataset, args.data_root)
            layout = args.layout or layout
            if args.image_root:
                image_root = Path(args.image_root)
        else:
            print("error: pass --dataset NAME or --gt-file CSV --image-root DIR", file=sys.stderr)
            return 2
        extra = json.loads(args.extra) if args.extra else {}
        if not isinstance(extra, dict):
            raise ValueError("--extra must be a JSON object")
        for name, value in (("concurrency", args.concurrency), ("max-tokens", args.max_tokens),
                            ("samples", args.samples)):
            if value < 1:
                raise ValueError(f"--{name} must be >= 1, got {value}")
        if args.retries < 0 or args.timeout <= 0:
            raise ValueError("--retries must be >= 0 and --timeout > 0")
        if not image_root.is_dir():
            print(f"warning: image root {image_root} is not a folder; every row will be missing_image", file=sys.stderr)
        gt = load_ground_truth(gt_file, image_root, limit=args.limit, swap_lat_lon=args.swap_lat_lon, layout=layout)
        exclusion: dict[str, Any] = {}
        if args.exclude:
            gt, exclusion = _exclude(gt, args.exclude)
        resolver = make_resolver(args.geocoder)
    except (GroundTruthError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.samples > 1 and not args.temperature:
        print(f"warning: --samples {args.samples} at temperature 0 asks for {args.samples} identical greedy answers; "
              f"pass --temperature > 0 for a vote", file=sys.stderr)
    if gt.lat_lon_swapped:
        print(f"note: {gt_file}: header LAT/LON swapped, values read the other way round ({gt.swap_evidence})")

    from globe.geo import warm_up

    warm_up()
    api_key = args.api_key or os.environ.get("GLOBE_API_KEY") or os.environ.get("OPENAI_API_KEY")
    released_image = getattr(args, "released_image", False)
    settings = EvalSettings(
        prompt=(released_eval_prompt if getattr(args, "released_prompts", False) else geo_prompt)(args.use_cot),
        system_prompt=args.system_prompt, max_tokens=args.max_tokens,
        temperature=args.temperature, concurrency=args.concurrency, timeout=args.timeout, retries=args.retries,
        extra=extra, samples=args.samples, released_image=released_image,
        **({"backoff": RELEASED_BACKOFF_S} if released_image else {}),
    )
    output = Path(args.output)
    lock = RunLock(output.with_name(output.name + ".lock"), what=f"--output {output}")
    try:
        lock.acquire()  # one run per output CSV; held until the summary is written
        stats, model = aio.run(run_eval_with_server(
            gt, output, args.url, settings, resolver, model=args.model, api_key=api_key,
            overwrite=args.overwrite, progress=not args.quiet,
            run_info={"use_cot": bool(args.use_cot), "geocoder": args.geocoder, "dataset": dataset,
                      "layout": gt.layout.name,
                      **({"image": "released: file bytes unchanged"} if released_image else {})},
        ))
    except (ServerUnavailable, OutputMismatchError, RunSettingsMismatch, RunLocked, RunFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: finished rows are in {output}; rerun the same command to resume", file=sys.stderr)
        return 130
    print(f"{stats.n_done_now} rows evaluated now, {stats.n_already_done} already in {output}"
          + (f", {stats.n_redone} failed rows redone" if stats.n_redone else ""))
    rows = results_for_ground_truth(gt, output)
    _score_and_report(output, rows, resolver, reresolve=False, plots=not args.no_plots, summary_file=None,
                      threshold_rule=args.threshold_rule, distance=args.distance, extra={
        "model": model, "dataset": dataset or str(gt_file), "layout": gt.layout.name, "use_cot": bool(args.use_cot),
        "geocoder": args.geocoder, "n_reverse_geocoded_truth": gt.n_reverse_geocoded,
        "lat_lon_swapped": gt.lat_lon_swapped, "swap_evidence": gt.swap_evidence, **exclusion,
        "request": {"timeout_s": args.timeout, "retries": args.retries, "image": "file bytes unchanged" if released_image
                    else "downscaled to the pixel budget (globe.data.images)"},
    }, string_truth=getattr(args, "string_truth", "globe"), use_cot=bool(args.use_cot))
    lock.release()
    return 0


def _exclude(gt, exclude_file: str) -> tuple[Any, dict[str, Any]]:
    """``gt`` without the rows ``exclude_file`` names, and the counts the summary reports."""
    from globe.data.leakage import read_excluded_ids
    from globe.eval.runner import exclude_rows

    ids = read_excluded_ids(exclude_file)
    kept, n_excluded, unmatched = exclude_rows(gt, ids)
    print(f"excluding {n_excluded} of {len(gt.rows)} ground-truth rows listed in {exclude_file}"
          + (f" ({unmatched} of its ids are not in the ground truth)" if unmatched else ""))
    return kept, {"n_excluded": n_excluded, "n_ground_truth": len(gt.rows), "exclude_file": str(exclude_file),
                  "n_exclude_ids_not_found": unmatched}


def score_command(args: argparse.Namespace) -> int:
    from globe.eval.runner import load_results

    csv_path = Path(args.csv)
    if not csv_path.is_file():
        print(f"error: predictions CSV not found: {csv_path}", file=sys.stderr)
        return 2
    try:
        rows = load_results(csv_path)
        if not rows:
            raise ValueError(f"{csv_path} has no data rows")
        exclusion: dict[str, Any] = {}
        if args.exclude:
            rows, exclusion = _exclude_scored(rows, args.exclude)
        extra: dict[str, Any] = {"geocoder": args.geocoder, "rescored": True, **exclusion}
        dataset = args.dataset or _recorded_dataset(csv_path)
        if dataset:
            extra["dataset"] = dataset
        _score_and_report(csv_path, rows, make_resolver(args.geocoder), reresolve=args.reresolve,
                          plots=not args.no_plots, summary_file=Path(args.summary) if args.summary else None,
                          extra=extra, threshold_rule=args.threshold_rule, distance=args.distance,
                          string_truth="released" if args.released_settings else "globe", use_cot=args.use_cot)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _recorded_dataset(csv_path: Path) -> str | None:
    """The test set a run's CSV was evaluated on, as its run record says (``<csv>.run.json``), else None."""
    from globe.eval.fingerprint import read_fingerprint

    try:
        recorded = read_fingerprint(csv_path) or {}
    except ValueError:
        return None
    return recorded.get("dataset") or None


def _exclude_scored(rows: list[dict[str, str]], exclude_file: str) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """A predictions CSV's rows without those whose image id ``exclude_file`` names (``globe-eval score``)."""
    from globe.data.leakage import read_excluded_ids
    from globe.eval.runner import excluded_id_keys, id_keys
    from globe.eval.score import columns_by_alias

    id_column = columns_by_alias(list(rows[0]))
    if "id" not in id_column:
        raise ValueError(f"--exclude: the predictions CSV has no image id column (IMG_ID, id...) among {list(rows[0])[:8]}")
    ids = read_excluded_ids(exclude_file)
    keys = excluded_id_keys(ids)
    kept = [row for row in rows if not id_keys(row.get(id_column["id"]) or "") & keys]
    print(f"excluding {len(rows) - len(kept)} of {len(rows)} rows listed in {exclude_file}")
    return kept, {"n_excluded": len(rows) - len(kept), "n_ground_truth": len(rows), "exclude_file": str(exclude_file)}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "score":
        return score_command(build_score_parser().parse_args(argv[1:]))
    if argv and argv[0] == "compare":
        from globe.eval.compare import main as compare_main

        return compare_main(argv[1:])
    if argv and argv[0] == "run":
        argv = argv[1:]
    parser = build_run_parser()
    if any(arg in ("--released-settings", "--released_settings") for arg in argv):
        parser.set_defaults(**RELEASED_SETTINGS)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
