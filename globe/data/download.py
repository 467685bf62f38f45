"""``globe-data download``: fetch a URL list (MP16's ``mp16_urls.csv``, YFCC's) with img2dataset.

The field downloads these lists with img2dataset, which shards the list, fetches with many
threads per process (or across a Ray cluster), retries and verifies each image; this command
runs it and turns its output into what GLOBE's tools read.

**Input.** A CSV with an image id column (``IMG_ID`` or any ``globe-data`` alias) and a URL
column (``url``, ``URL``, ``image_url``, ``photo_url``, ``download_url``), optionally
``LAT``/``LON`` (any alias). Ids stay strings (``00123`` is not ``123``).

**What is fetched, and how.** Each URL once per run (``--retries`` more tries on an error),
``--timeout`` seconds per socket operation, with img2dataset's browser User-Agent (plus
``--user-agent-token`` when given, so a site can address this crawler). The bytes must decode
as an image (OpenCV); JPEGs are kept byte for byte (``skip_reencode``), other formats are
re-encoded as JPEG at quality 95; nothing is resized (``resize_mode="no"``). **Robots
policy:** img2dataset's default is kept: an answer whose ``X-Robots-Tag`` header carries
``noai``, ``noimageai``, ``noindex`` or ``noimageindex`` (for every agent, or for
``--user-agent-token``) is not stored and is reported as disallowed. ``robots.txt`` is not read
(img2dataset does not), so respecting a site's terms beyond that header is the user's part.

**Output** (``--out DIR``)::

    images/<IMG_ID>          one file per fetched image, named by its id (a bare id gets .jpg,
                             the rule globe-data and globe-eval resolve ids by)
    ground_truth.csv         IMG_ID[,LAT,LON] of every image present: globe-data convert
                             --csv DIR/ground_truth.csv --image-root DIR/images reads it, and so
                             do globe-eval and globe-data leakage
    failures.csv             IMG_ID,url,error for every row still missing after this run
    download.report.json     the counts this run printed

**Resume.** A row whose image file is already under ``images/`` is never fetched again, so a
rerun (after a kill, or to retry failures) fetches only what is missing. img2dataset writes into
``DIR/.img2dataset/`` first; what a killed run finished there is moved into ``images/`` at the
start of the next run.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .image_paths import ImageOutsideRoot, confined_names, resolve_image_path

URL_COLUMNS = ("url", "URL", "image_url", "photo_url", "download_url", "flickr_url", "img_url")
IMAGES_DIR = "images"
STAGING_DIR = ".img2dataset"
GROUND_TRUTH_FILE = "ground_truth.csv"
FAILURES_FILE = "failures.csv"
REPORT_FILE = "download.report.json"
#: img2dataset's default: an ``X-Robots-Tag`` with one of these directives means "do not store".
DISALLOWED_HEADER_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")


@dataclass(frozen=True)
class UrlRow:
    image_id: str
    url: str
    lat: str = ""
    lon: str = ""


@dataclass
class DownloadOptions:
    """How img2dataset fetches (see the module docstring); ``ray``: a cluster address for its Ray distributor."""

    processes: int = 1
    threads: int = 32
    timeout: int = 10
    retries: int = 1
    user_agent_token: str | None = None
    ray: str | None = None
    limit: int | None = None

    def check(self) -> None:
        for name in ("processes", "threads", "timeout"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} {getattr(self, name)}: must be >= 1")
        if self.retries < 0:
            raise ValueError(f"--retries {self.retries}: must be >= 0")


@dataclass
class DownloadReport:
    listed: int = 0
    already_present: int = 0
    fetched: int = 0
    failed: int = 0
    failed_by_error: dict[str, int] = field(default_factory=dict)
    out: str = ""

    def summary(self) -> str:
        lines = [f"globe-data download: {self.listed} listed, {self.already_present} already present, "
                 f"{self.fetched} fetched now, {self.failed} failed; images in {Path(self.out) / IMAGES_DIR}"]
        lines += [f"  failed {error}: {n}" for error, n in self.failed_by_error.items()]
        if self.failed:
            lines.append(f"  the failed rows are in {Path(self.out) / FAILURES_FILE}; re-run the same command to retry them")
        lines.append(f"  ground truth: {Path(self.out) / GROUND_TRUTH_FILE} (globe-data convert --csv it "
                     f"--image-root {Path(self.out) / IMAGES_DIR})")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the URL list


def read_url_list(path: str | os.PathLike, limit: int | None = None) -> list[UrlRow]:
    """The rows of a URL list CSV, in file order; the first of duplicate ids wins."""
    from .csvfile import open_csv
    from .layouts import map_columns

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--urls {path}: no such file (a CSV with IMG_ID and url columns)")
    rows: list[UrlRow] = []
    seen: set[str] = set()
    with open_csv(path) as (records, _):
        header = next(records, None)
        if header is None or header.fields is None:
            raise ValueError(f"--urls {path}: empty, or its first line is not a CSV header")
        columns = map_columns(header.fields)
        url_index = _url_column(header.fields)
        if not columns.has("id") or url_index is None:
            raise ValueError(f"--urls {path}: header {header.fields[:8]} needs an image id column (IMG_ID, id...) "
                             f"and a URL column ({', '.join(URL_COLUMNS[:4])}...)")
        for record in records:
            if limit is not None and len(rows) >= limit:
                break
            if record.fields is None:
                raise ValueError(f"--urls {path}, line {record.line}: {record.error}")
            image_id = columns.get(record.fields, "id").strip()
            url = record.fields[url_index].strip() if url_index < len(record.fields) else ""
            if not image_id or image_id in seen:
                continue
            seen.add(image_id)
            rows.append(UrlRow(image_id, url, columns.get(record.fields, "lat").strip(),
                               columns.get(record.fields, "lon").strip()))
    return rows


def _url_column(header: list[str]) -> int | None:
    names = [h.strip().lstrip("\ufeff") for h in header]
    for alias in URL_COLUMNS:
        for i, name in enumerate(names):
            if name.lower() == alias.lower():
                return i
    return None


def image_file(out: Path, image_id: str) -> Path:
    """Where ``image_id``'s image is (or will be) kept: the id's own name under ``images/``."""
    return out / IMAGES_DIR / confined_names(image_id)[0]


def is_present(out: Path, image_id: str) -> bool:
    try:
        return resolve_image_path(out / IMAGES_DIR, image_id).is_file()
    except ImageOutsideRoot:
        return False


# --------------------------------------------------------------------------- img2dataset


def _staged_results(staging: Path) -> list[dict[str, Any]]:
    """Every row img2dataset recorded in ``staging`` (its shard parquet files), with the shard's folder."""
    import pyarrow.parquet as pq

    results = []
    for parquet in sorted(staging.glob("*.parquet")):
        for row in pq.read_table(parquet).to_pylist():
            results.append({**row, "_shard": parquet.stem})
    return results


def collect_staged(out: Path) -> dict[str, str]:
    """Move what img2dataset fetched into ``images/``; returns ``IMG_ID -> error`` for the rows it could not."""
    staging = out / STAGING_DIR / "output"
    errors: dict[str, str] = {}
    if not staging.exists():
        return errors
    for row in _staged_results(staging):
        image_id = str(row.get("IMG_ID") or "")
        if not image_id:
            continue
        source = staging / row["_shard"] / f"{row['key']}.jpg"
        if row.get("status") == "success" and source.is_file():
            target = image_file(out, image_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            errors.pop(image_id, None)
        elif not is_present(out, image_id):
            errors[image_id] = str(row.get("error_message") or row.get("status") or "unknown error")
    return errors


def _write_todo(out: Path, rows: list[UrlRow]) -> Path:
    """The rows to fetch as parquet with string columns (a CSV would let img2dataset read ``00123`` as a number)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = out / STAGING_DIR / "input"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({"url": [r.url for r in rows], "IMG_ID": [r.image_id for r in rows]},
                     schema=pa.schema([("url", pa.string()), ("IMG_ID", pa.string())]))
    path = folder / "todo.parquet"
    pq.write_table(table, path)
    return path


def run_img2dataset(out: Path, rows: list[UrlRow], options: DownloadOptions) -> None:
    """Fetch ``rows`` into ``out/.img2dataset/output`` with img2dataset (module docstring for the settings)."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # albumentations would ask the network at import
    from globe.scale import connect, require

    img2dataset = require("img2dataset", "globe-data download")
    distributor = "multiprocessing"
    if options.ray is not None:
        connect(options.ray, "globe-data download --ray")
        distributor = "ray"
    todo = _write_todo(out, rows)
    previous_sigint = signal.getsignal(signal.SIGINT)  # img2dataset installs a handler that exits with status 0
    try:
        _download(img2dataset, out, todo, options, distributor)
    finally:
        signal.signal(signal.SIGINT, previous_sigint)


def _download(img2dataset: Any, out: Path, todo: Path, options: DownloadOptions, distributor: str) -> None:
    # incremental_mode "incremental": the staging folder is always new here ("overwrite" would delete the
    # _tmp folder img2dataset 1.47 has just made).
    img2dataset.download(
        url_list=str(todo), input_format="parquet", url_col="url", save_additional_columns=["IMG_ID"],
        output_folder=str(out / STAGING_DIR / "output"), output_format="files", encode_format="jpg",
        resize_mode="no", skip_reencode=True, processes_count=options.processes, thread_count=options.threads,
        timeout=options.timeout, retries=options.retries, distributor=distributor, extract_exif=False,
        compute_hash=None, enable_wandb=False, number_sample_per_shard=10_000, incremental_mode="incremental",
        user_agent_token=options.user_agent_token, disallowed_header_directives=list(DISALLOWED_HEADER_DIRECTIVES),
    )


# --------------------------------------------------------------------------- the command


def write_ground_truth(out: Path, rows: list[UrlRow]) -> int:
    """``ground_truth.csv``: every listed row whose image is present, in list order; the count."""
    with_point = any(r.lat or r.lon for r in rows)
    temporary = out / (GROUND_TRUTH_FILE + ".tmp")
    count = 0
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["IMG_ID", "LAT", "LON"] if with_point else ["IMG_ID"])
        for row in rows:
            if is_present(out, row.image_id):
                writer.writerow([row.image_id, row.lat, row.lon] if with_point else [row.image_id])
                count += 1
    os.replace(temporary, out / GROUND_TRUTH_FILE)
    return count


def write_failures(out: Path, rows: list[UrlRow], errors: dict[str, str]) -> None:
    temporary = out / (FAILURES_FILE + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["IMG_ID", "url", "error"])
        for row in rows:
            if row.image_id in errors:
                writer.writerow([row.image_id, row.url, errors[row.image_id]])
    os.replace(temporary, out / FAILURES_FILE)


def _error_kind(error: str) -> str:
    """A short class of an img2dataset error message, for the summary's counts."""
    lowered = error.lower()
    for needle, kind in (("x-robots-tag", "disallowed by X-Robots-Tag"), ("timed out", "timeout"),
                         ("decoding", "not an image"), ("http error", "http error"),
                         ("refused", "connection refused"), ("name or service", "unknown host"),
                         ("outside", "id outside images/"), ("no url", "no url")):
        if needle in lowered:
            return kind
    return error.split(":")[0][:60]


def download(urls: str | os.PathLike, out: str | os.PathLike, options: DownloadOptions | None = None) -> DownloadReport:
    """Fetch what ``urls`` lists and ``out`` lacks; write the ground truth, failures and report (module docstring)."""
    options = options or DownloadOptions()
    options.check()
    out = Path(out)
    rows = read_url_list(urls, options.limit)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    collect_staged(out)  # what a killed run finished
    shutil.rmtree(out / STAGING_DIR, ignore_errors=True)
    errors: dict[str, str] = {}
    todo: list[UrlRow] = []
    for row in rows:
        try:
            image_file(out, row.image_id)
        except ImageOutsideRoot as exc:
            errors[row.image_id] = f"id outside images/: {exc}"
            continue
        if not row.url:
            errors[row.image_id] = "no url"
        elif not is_present(out, row.image_id):
            todo.append(row)
    present_before = len(rows) - len(todo) - len(errors)
    if todo:
        run_img2dataset(out, todo, options)
        errors.update(collect_staged(out))
        shutil.rmtree(out / STAGING_DIR, ignore_errors=True)
    for row in todo:  # a row img2dataset never reported (a crashed shard) is a failure too
        if row.image_id not in errors and not is_present(out, row.image_id):
            errors[row.image_id] = "not fetched (its img2dataset shard did not finish)"
    write_ground_truth(out, rows)
    write_failures(out, rows, errors)
    report = DownloadReport(listed=len(rows), already_present=present_before, fetched=len(todo) - len(
        [r for r in todo if r.image_id in errors]), failed=len(errors),
        failed_by_error=dict(Counter(_error_kind(e) for e in errors.values()).most_common()), out=str(out))
    (out / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return report
