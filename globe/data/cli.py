"""``globe-data``: turn downloaded geolocation data into the rows GLOBE's datasets read.

    globe-data convert  --csv mp16-reason-train.csv --image-root images --out data/mp16-reason/train.jsonl
    globe-data validate --csv im2gps3k_places365.csv --image-root im2gps3ktest
    globe-data validate --dataset yfcc4k   # the test set's files under the data root, checked against the standard
    globe-data sample   # rebuild data/sample/
    globe-data layouts  # what each --layout reads
    globe-data leakage --train train.csv --test test.csv --out pairs.csv  # near-duplicate audit
    globe-data download --urls mp16_urls.csv --out mp16  # fetch a URL list with img2dataset

Also ``python -m globe.data ...``. A conversion prints a summary (kept, dropped by reason,
warnings, examples) and saves it beside the output as ``<out>.report.json``; re-running the
same command after a kill resumes where it stopped.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .convert import Converter, ConvertOptions
from .geocode import GEOCODE_MAX_KM, GEOCODE_MIN_POPULATION
from .images import IMAGE_CHECKS
from .layouts import COLUMN_ALIASES, LAYOUTS, LayoutError


def _add_source_args(parser: argparse.ArgumentParser) -> None:
    from globe.catalog import TEST_SETS

    parser.add_argument("--csv", type=Path, default=None, help="the downloaded CSV (or other ground-truth file)")
    parser.add_argument("--dataset", default=None, choices=sorted(e.name for e in TEST_SETS),
                        metavar="NAME", help="a test set of globe/catalog.py: its file, layout and image folder under "
                        "--data-root (each overridable by --csv, --layout, --image-root); validate then compares the "
                        "row count and id fingerprint with the standard file's. One of: "
                        + ", ".join(sorted(e.name for e in TEST_SETS)))
    parser.add_argument("--data-root", type=Path, default=None,
                        help="where --dataset's files live (default: env GLOBE_DATA_ROOT, then <repo>/data)")
    parser.add_argument("--layout", default=None, choices=["auto", *LAYOUTS],
                        help="layout of the file (default: --dataset's, else detected from the header)")
    parser.add_argument("--image-root", type=Path, default=None,
                        help="folder holding the images the id column names (default: the CSV's folder)")
    parser.add_argument("--image-check", choices=IMAGE_CHECKS, default="decode",
                        help="decode: open and decode every image (default); exists: only check the file; "
                             "none: trust the CSV")
    parser.add_argument("--no-check-images", dest="image_check", action="store_const", const="none",
                        help="same as --image-check none")
    parser.add_argument("--swap-lat-lon", choices=["auto", "yes", "no"], default="auto",
                        help="auto: detect a LAT/LON header swap from the values (default)")
    parser.add_argument("--fill-missing", action="store_true",
                        help="reverse-geocode an empty country/city from lat/lon instead of dropping/keeping it empty")
    parser.add_argument("--geocode-min-population", type=int, default=GEOCODE_MIN_POPULATION,
                        help="reverse geocoding labels the nearest place with at least this population "
                             "(the default is globe-eval's rule too)")
    parser.add_argument("--geocode-max-km", type=float, default=GEOCODE_MAX_KM,
                        help="drop a row whose nearest such place is farther than this (open sea, ice)")
    parser.add_argument("--keep-country-names", action="store_true",
                        help="write country names as the CSV spells them (default: canonical English names)")
    parser.add_argument("--dedupe-by", choices=["id", "id+reasoning"], default="id",
                        help="what makes two rows duplicates (id+reasoning for reward-model data, where one image "
                             "carries several reasonings)")
    parser.add_argument("--chunk-size", type=int, default=10_000, help="rows per processing chunk (memory bound)")
    parser.add_argument("--workers", type=int, default=4, help="threads decoding images (default 4)")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many data rows")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")


def _resolve_source(args: argparse.Namespace) -> None:
    """Fill ``--csv``/``--layout``/``--image-root`` from ``--dataset`` where not given (catalog + data root)."""
    if args.dataset:
        from globe.catalog import ground_truth_source

        gt_file, images, layout = ground_truth_source(args.dataset, args.data_root)
        args.csv = args.csv or gt_file
        args.layout = args.layout or layout
        args.image_root = args.image_root or images
    if args.csv is None:
        raise ValueError("pass --csv FILE (or --dataset NAME for a test set under the data root)")
    args.layout = args.layout or "auto"


def _options(args: argparse.Namespace) -> ConvertOptions:
    return ConvertOptions(
        layout=args.layout,
        image_root=args.image_root,
        image_check=args.image_check,
        swap_lat_lon=args.swap_lat_lon,
        fill_missing=args.fill_missing,
        min_population=args.geocode_min_population,
        max_geocode_km=args.geocode_max_km,
        normalise_countries=not args.keep_country_names,
        absolute_paths=getattr(args, "absolute_paths", False),
        chunk_size=args.chunk_size,
        workers=args.workers,
        limit=args.limit,
        dedupe_by=args.dedupe_by,
        progress=not args.no_progress,
        fingerprint_ids=args.command == "validate",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="globe-data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    convert = sub.add_parser("convert", help="validate a CSV and write the JSONL the registered datasets read")
    _add_source_args(convert)
    convert.add_argument("--out", required=True, type=Path, help="output JSONL (appended to / resumed if it exists)")
    convert.add_argument("--rm-out", action="store_true", help="delete --out first instead of resuming it")
    convert.add_argument("--absolute-paths", action="store_true",
                         help="write absolute image paths (default: relative to the output file's folder)")

    validate = sub.add_parser("validate", help="run every check of convert and print the report; write nothing")
    _add_source_args(validate)

    sample = sub.add_parser("sample", help="rebuild the bundled sample (images, CSVs and JSONL)")
    sample.add_argument("--out", type=Path, default=None, help="folder to write (default: data/sample in the repo)")

    sub.add_parser("layouts", help="list the layouts and the column names each one accepts")

    from .leakage import LEAK_THRESHOLD, PHASH_THRESHOLD, SEARCH_RADIUS

    leakage = sub.add_parser("leakage", help="find test images that are near-duplicates of training images "
                                             "(perceptual hashes; see globe.data.leakage)")
    leakage.add_argument("--train", required=True, type=Path, help="training images: a CSV with an id column, "
                         "the JSONL globe-data convert writes, a text file with one path per line, or a folder")
    leakage.add_argument("--test", required=True, type=Path, help="test images, in the same forms")
    leakage.add_argument("--out", required=True, type=Path, help="pairs CSV to write (one row per test image)")
    leakage.add_argument("--train-images", type=Path, default=None, help="folder --train's ids are relative to "
                         "(default: its folder; for a convert JSONL, what its image paths are relative to)")
    leakage.add_argument("--test-images", type=Path, default=None, help="folder --test's ids are relative to")
    leakage.add_argument("--threshold", type=int, default=LEAK_THRESHOLD,
                         help=f"dHash bits (of 64) within which a pair leaks (default {LEAK_THRESHOLD})")
    leakage.add_argument("--phash-threshold", type=int, default=PHASH_THRESHOLD,
                         help=f"pHash bits a leaking pair must also be within (default {PHASH_THRESHOLD})")
    leakage.add_argument("--radius", type=int, default=None,
                         help=f"report the nearest training image within this many dHash bits (default "
                              f"max(--threshold, {SEARCH_RADIUS}); above 11 the search is brute force)")
    leakage.add_argument("--workers", type=int, default=2, help="hashing processes (default 2)")
    leakage.add_argument("--rebuild-index", action="store_true",
                         help="rehash the training images even if <train>.phash.npz is up to date")
    leakage.add_argument("--no-progress", action="store_true", help="no progress bar")
    from globe.scale import add_ray_flag

    add_ray_flag(leakage, "the hashing")

    download = sub.add_parser("download", help="fetch a URL list (IMG_ID,url[,LAT,LON]) with img2dataset into "
                                               "images/ + ground_truth.csv; a rerun fetches only what is missing "
                                               "(see globe.data.download)")
    download.add_argument("--urls", required=True, type=Path, help="CSV with an image id column and a url column, "
                          "optionally LAT/LON (MP16's mp16_urls.csv, a YFCC list)")
    download.add_argument("--out", required=True, type=Path, help="folder for images/, ground_truth.csv, failures.csv")
    download.add_argument("--processes", type=int, default=1, help="img2dataset processes (default 1)")
    download.add_argument("--threads", type=int, default=32, help="download threads per process (default 32)")
    download.add_argument("--timeout", type=int, default=10, help="seconds per socket operation (default 10)")
    download.add_argument("--retries", type=int, default=1, help="extra tries per URL after an error (default 1)")
    download.add_argument("--user-agent-token", default=None,
                          help="name added to the User-Agent; X-Robots-Tag directives aimed at it are obeyed too")
    download.add_argument("--limit", type=int, default=None, help="only the first N rows of the list")
    add_ray_flag(download, "img2dataset with its Ray distributor (the output folder must be shared storage)")
    return parser


def _run_conversion(args: argparse.Namespace, out: Path | None) -> int:
    _resolve_source(args)
    converter = Converter(args.csv, out, _options(args), geo=None)
    try:
        report = converter.run(rm_out=getattr(args, "rm_out", False))
    except KeyboardInterrupt:
        print(converter.report.summary(), file=sys.stderr)
        print(f"\ninterrupted: {converter.report.kept:,} rows written so far; re-run the same command to resume",
              file=sys.stderr)
        return 130
    standard_ok = True
    if args.dataset and out is None:
        from globe.catalog import find_dataset

        entry = find_dataset(args.dataset, evaluable=True)
        standard_ok = report.compare_with_standard(entry.name, entry.expected_rows, entry.expected_ids_sha256)
    print(report.to_json() if args.json else report.summary())
    return 0 if standard_ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "convert":
            return _run_conversion(args, args.out)
        if args.command == "validate":
            return _run_conversion(args, None)
        if args.command == "sample":
            from .sample import SAMPLE_DIR, build_sample

            out = args.out or SAMPLE_DIR
            reports = build_sample(out, progress=False)
            for name, report in reports.items():
                print(f"{out / name}: {report.kept} rows, dropped {dict(report.dropped) or 0}, "
                      f"warnings {dict(report.warnings) or 0}")
            return 0
        if args.command == "leakage":
            from .leakage import audit

            hasher = None
            if args.ray is not None:
                from .leakage_ray import ray_hasher

                hasher = ray_hasher(args.ray)
            report = audit(args.train, args.test, args.out, train_images=args.train_images,
                           test_images=args.test_images, threshold=args.threshold,
                           phash_threshold=args.phash_threshold, radius=args.radius, workers=args.workers,
                           rebuild_index=args.rebuild_index, progress=not args.no_progress, hasher=hasher)
            print(report.summary())
            return 0
        if args.command == "download":
            from .download import DownloadOptions, download

            options = DownloadOptions(processes=args.processes, threads=args.threads, timeout=args.timeout,
                                      retries=args.retries, user_agent_token=args.user_agent_token, ray=args.ray,
                                      limit=args.limit)
            print(download(args.urls, args.out, options).summary())
            return 0
        if args.command == "layouts":
            for spec in LAYOUTS.values():
                print(f"{spec.name:<14} {spec.description}")
                details = [f"city/country: {'reverse geocoded' if spec.places == 'geocode' else 'columns'}"]
                if spec.country_is_code:
                    details.append("country cells are ISO codes")
                if not spec.table.has_header:
                    details.append(f"no header line; {spec.table.delimiter!r}-separated")
                details += [f"{column} also as {', '.join(names)}" for column, names in spec.aliases.items()]
                print(f"{'':<14} ({'; '.join(details)})")
            print("\ncolumn names accepted (case-insensitive):")
            for column, aliases in COLUMN_ALIASES.items():
                print(f"  {column:<10} {', '.join(aliases)}")
            return 0
    except (FileNotFoundError, LayoutError, ValueError, ImportError, ConnectionError) as exc:
        print(f"globe-data {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())

