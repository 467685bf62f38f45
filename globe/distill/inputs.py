"""The ground truth a distillation run reads, and which of its rows a run processes.

The ground-truth table is read by the data CLI's own converter (:mod:`globe.data.convert`), so
every layout ``globe-data`` reads works here (MP16-Pro metadata, MP16-Reason CSVs, IM2GPS3K,
OSV-5M, a plain ``IMG_ID,LAT,LON[,city,country]`` CSV) with the same validation: missing or
corrupt images, bad coordinates and duplicate ids are dropped and counted, countries are
normalised, a missing city/country is filled by reverse geocoding. Its output (absolute image
paths) is staged in ``<out-dir>/distill/gt.jsonl``; the conversion is itself resumable, and it
refuses image ids that leave ``--image-root`` (:mod:`globe.data.image_paths`). A ``.jsonl``
ground-truth file is taken as already converted by ``globe-data convert``; with ``--image-root``
its image paths must lie inside that folder (a row outside it is dropped as
``image_outside_root``, never sent), without it they are trusted as ``globe-data`` wrote them.

Selection is deterministic, so a resumed run works on the same rows: ``--sample N --seed S``
draws N rows uniformly (reservoir sampling, one pass, memory O(N)) and keeps them in file order;
``--limit N`` then takes the first N.
"""
from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from globe.catalog import GroundTruthRow
from globe.data.convert import ConvertOptions, convert
from globe.data.image_paths import ImageOutsideRoot, check_inside_root
from globe.scoring import valid_point

from .outputs import GT_FILE, WORK_DIR, atomic_write_text, iter_jsonl

GT_COMPLETE_MARKER = f"{WORK_DIR}/gt.complete.json"


class InputError(ValueError):
    """The ground truth cannot be read; the message names the file and the fix."""


def stage_ground_truth(
    gt_file: str | os.PathLike,
    out_dir: Path,
    *,
    layout: str = "auto",
    image_root: str | os.PathLike | None = None,
    image_check: str = "decode",
    limit: int | None = None,
    progress: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Convert the ground truth into ``out_dir/distill/gt.jsonl`` (or use a JSONL as is).

    Returns the JSONL to read and the conversion summary for the report. With ``limit`` only
    the first ``limit`` CSV rows are converted (a dry run must not wait for 4.6M image checks);
    a later run without it resumes the conversion.
    """
    source = Path(gt_file).expanduser()
    if not source.is_file():
        raise InputError(f"--gt-file {source}: no such file (pass the ground-truth CSV, or a globe-data JSONL)")
    if source.suffix.lower() == ".jsonl":
        return source.resolve(), {"source": str(source.resolve()), "converted": False,
                                  "note": "read as a globe-data JSONL; image paths resolve against its folder"}
    staged = out_dir / GT_FILE
    marker = out_dir / GT_COMPLETE_MARKER
    if marker.exists():
        return staged, json.loads(marker.read_text(encoding="utf-8"))
    options = ConvertOptions(
        layout=layout, image_root=image_root, image_check=image_check, fill_missing=True,
        absolute_paths=True, limit=limit, progress=progress,
    )
    try:
        report = convert(source, staged, options)
    except (ValueError, FileNotFoundError) as exc:  # LayoutError is a ValueError
        raise InputError(str(exc)) from None
    summary = {
        "source": str(source.resolve()),
        "converted": True,
        "layout": report.layout,
        "rows_read": report.rows_read,
        "rows_usable": report.kept + report.resumed,
        "dropped": dict(report.dropped),
        "warnings": dict(report.warnings),
        "complete": limit is None,
    }
    if limit is None:
        atomic_write_text(marker, json.dumps(summary, indent=2) + "\n")
    return staged, summary


def _row(record: dict[str, Any], base: Path, where: str, index: int,
         image_root: str | os.PathLike | None) -> GroundTruthRow:
    images = record.get("images") or []
    image = images[0] if images else None
    if isinstance(image, dict):
        image = image.get("path")
    if not isinstance(image, str) or not image:
        raise InputError(f"{where}: row {record.get('image_id')!r} has no image path; re-run globe-data convert")
    path: str | None = image if os.path.isabs(image) else str(base / image)
    problem = None
    if image_root is not None:
        try:
            check_inside_root(image_root, path)
        except ImageOutsideRoot as exc:
            path, problem = None, f"{where}: {exc}"
    # Coordinates out of range or not numbers (text, 10**400) leave the row without a point, as a
    # converted row without coordinates: the names are still compared, no distance is.
    lat, lon = valid_point(record.get("lat"), record.get("lon")) or (None, None)
    return GroundTruthRow(
        image_id=str(record["image_id"]),
        image_path=path,
        country=record.get("country") or "",
        city=record.get("city") or "",
        lat=lat,
        lon=lon,
        index=index,
        problem=problem,
    )


def iter_ground_truth(path: Path, image_root: str | os.PathLike | None = None) -> Iterator[GroundTruthRow]:
    """Every row of a globe-data JSONL, in file order; with ``image_root``, a row whose image is
    outside it carries a ``problem`` and no ``image_path``."""
    base = path.parent
    for number, record in enumerate(iter_jsonl(path), 1):
        if "image_id" not in record:
            raise InputError(f"{path}:{number}: no image_id; is this a globe-data JSONL?")
        yield _row(record, base, f"{path}:{number}", number - 1, image_root)


def sample_indices(path: Path, n: int, seed: int) -> set[int]:
    """Indices of ``n`` rows drawn uniformly from the file (reservoir sampling, seeded)."""
    rng = random.Random(seed)
    reservoir: list[int] = []
    for index, _ in enumerate(iter_jsonl(path)):
        if len(reservoir) < n:
            reservoir.append(index)
        else:
            slot = rng.randint(0, index)
            if slot < n:
                reservoir[slot] = index
    return set(reservoir)


def select_rows(path: Path, *, sample: int | None = None, seed: int = 0, limit: int | None = None,
                image_root: str | os.PathLike | None = None) -> Iterator[GroundTruthRow]:
    """The rows a run works on: an optional seeded sample, then the first ``limit``, in file order."""
    chosen = sample_indices(path, sample, seed) if sample is not None else None
    taken = 0
    for index, row in enumerate(iter_ground_truth(path, image_root)):
        if limit is not None and taken >= limit:
            return
        if chosen is not None and index not in chosen:
            continue
        taken += 1
        yield row
