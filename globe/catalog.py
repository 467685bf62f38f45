"""GLOBE's datasets, once: every name, where its files live, and the row every tool reads from them.

Training (``globe/dataset.py``, the ms-swift registration), evaluation (``globe-eval --dataset``),
data preparation (``globe-data``) and distillation (``globe-distill``) all read this module, so a
name, an alias, an environment variable or the data-root rule is changed in one place. Pure
Python: no ms-swift, torch or network client.

name (released aliases)                      variable             converted file                task  released CSV / images
``mp16-reason-train``                        GLOBE_MP16_TRAIN     mp16-reason-train.jsonl       grpo  - / train_images
``mp16-reason-sft`` (``data/mp16-reason-train``)  GLOBE_MP16_SFT  mp16-reason-train.jsonl     sft   - / train_images
``mp16-reason-rm`` (``geo_loc_rm_20w``,      GLOBE_MP16_RM        mp16-reason-rm.jsonl          rm    - / train_images
``data/geo_loc_rm_20w``)
``mp16-reason-test-12k``                     GLOBE_MP16_TEST      mp16-reason-test-12k.jsonl    eval  mp16-reason-test-12k.csv / eval_images
``im2gps3k`` (``img2gps3k``)                 GLOBE_IM2GPS3K       im2gps3k.jsonl                eval  img2gps3k_gt.csv / im2gps3ktest
``osv5m-test-mini-3k`` (``osv-test-mini-3k``) GLOBE_OSV5M_MINI    osv5m-test-mini-3k.jsonl      eval  test_mini.csv / osv-test-mini-3k
``osv5m-test``                               GLOBE_OSV5M_TEST     osv5m-test.jsonl              eval  osv5m/test.csv / osv5m/images/test
``yfcc4k``                                   GLOBE_YFCC4K         yfcc4k.jsonl                  eval  yfcc4k_places365.csv / yfcc4k
                                                                                                      (or yfcc4k/info.txt / yfcc4k/images)
``yfcc26k`` (``yfcc25600``)                  GLOBE_YFCC26K        yfcc26k.jsonl                 eval  yfcc25600_places365.csv / yfcc25600
``im2gps``                                   GLOBE_IM2GPS         im2gps.jsonl                  eval  im2gps_places365.csv / gps_query_imgs

Each test set also names the :mod:`globe.data.layouts` layout its file is read through (by
``globe-data`` and ``globe-eval`` alike), the standard file's row count and, where it could be
computed from a trusted copy, the fingerprint of its sorted id list (``globe-data validate
--dataset NAME`` prints and compares both). Adding a test set is one entry here plus one layout.

The aliases are the released code's names, so released command lines find the same data: its
``eval.py`` names ``img2gps3k`` and ``osv-test-mini-3k``; its ``train_rm.sh`` passes
``--dataset data/geo_loc_rm_20w``, and its SFT and GRPO scripts both pass ``--dataset
data/mp16-reason-train``, which is registered as the SFT rows (GRPO drops their assistant turn,
as the released 3.x registration of that one name relied on). ``GLOBE_MP16_SFT`` falls back to
``GLOBE_MP16_TRAIN``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from globe import REPO_ROOT

MP16_REASON_HUB_ID = "globe-project/MP16-Reason"
TASKS = ("grpo", "sft", "rm", "eval")  # how globe.data.swift_rows shapes a name's rows

#: The keys of every row ``globe-data convert`` writes and the registered datasets read, in order.
JSONL_KEYS = ("image_id", "images", "country", "city", "lat", "lon", "solution", "entities", "reasoning", "locatable")


@dataclass(frozen=True)
class GroundTruthSource:
    """One distributed form of a test set's ground truth: the file and image folder under the data
    root, and the layout (:mod:`globe.data.layouts`) both are read through."""

    file: str
    images: str
    layout: str


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset name: its files under the data root, how to override them, and the task it feeds."""

    name: str
    task: str  # grpo | sft | rm | eval: how globe/dataset.py shapes its rows
    env: tuple[str, ...]  # variables naming the converted file, first set wins
    file: str  # the converted JSONL under the data root (what `globe-data convert` writes)
    images: str  # the released image folder under the data root (also where id-only rows look)
    help: str
    aliases: tuple[str, ...] = ()
    released_csv: str | None = None  # the released ground-truth CSV under the data root (globe-eval reads it)
    hub_id: str | None = None
    split: str = "train"
    layout: str = "mp16-reason"  # the layout released_csv (and the converted set's source) is read through
    #: Other distributed forms of the same ground truth, tried in order when released_csv is absent.
    alternatives: tuple[GroundTruthSource, ...] = ()
    expected_rows: int | None = None  # data rows of the standard file
    #: :func:`ids_fingerprint` of the standard file's id column; None where no trusted copy was at hand.
    expected_ids_sha256: str | None = None

    def sources(self) -> tuple[GroundTruthSource, ...]:
        """Every distributed form of this set's ground truth, the released one first."""
        first = (GroundTruthSource(self.released_csv, self.images, self.layout),) if self.released_csv else ()
        return first + self.alternatives


DATASETS: tuple[DatasetEntry, ...] = (
    DatasetEntry("mp16-reason-train", "grpo", ("GLOBE_MP16_TRAIN",), "mp16-reason-train.jsonl", "train_images",
                 "MP16-Reason train, GRPO rows: image + CoT prompt, ground truth as columns",
                 hub_id=MP16_REASON_HUB_ID),
    DatasetEntry("mp16-reason-sft", "sft", ("GLOBE_MP16_SFT", "GLOBE_MP16_TRAIN"), "mp16-reason-train.jsonl",
                 "train_images", "MP16-Reason train, SFT rows: <think>reasoning</think><answer>...</answer>",
                 aliases=("data/mp16-reason-train",), hub_id=MP16_REASON_HUB_ID),
    DatasetEntry("mp16-reason-rm", "rm", ("GLOBE_MP16_RM",), "mp16-reason-rm.jsonl", "train_images",
                 "locatability reward-model rows: image + reasoning -> yes/no",
                 aliases=("geo_loc_rm_20w", "data/geo_loc_rm_20w")),
    DatasetEntry("mp16-reason-test-12k", "eval", ("GLOBE_MP16_TEST",), "mp16-reason-test-12k.jsonl", "eval_images",
                 "MP16-Reason-Test (12k): prompt + ground truth", released_csv="mp16-reason-test-12k.csv",
                 split="test"),
    DatasetEntry("im2gps3k", "eval", ("GLOBE_IM2GPS3K",), "im2gps3k.jsonl", "im2gps3ktest",
                 "IM2GPS3K: prompt + ground truth (city/country reverse geocoded)", aliases=("img2gps3k",),
                 released_csv="img2gps3k_gt.csv", split="test", layout="im2gps3k", expected_rows=2_997),
    DatasetEntry("osv5m-test-mini-3k", "eval", ("GLOBE_OSV5M_MINI",), "osv5m-test-mini-3k.jsonl", "osv-test-mini-3k",
                 "OSV-5M test mini (3k): prompt + ground truth", aliases=("osv-test-mini-3k",),
                 released_csv="test_mini.csv", split="test", layout="osv5m", expected_rows=3_000),
    DatasetEntry("osv5m-test", "eval", ("GLOBE_OSV5M_TEST",), "osv5m-test.jsonl", "osv5m/images/test",
                 "OSV-5M test split (whole): prompt + ground truth", released_csv="osv5m/test.csv", split="test",
                 layout="osv5m", expected_rows=210_122),
    DatasetEntry("yfcc4k", "eval", ("GLOBE_YFCC4K",), "yfcc4k.jsonl", "yfcc4k",
                 "YFCC4K: prompt + ground truth (city/country reverse geocoded)", released_csv="yfcc4k_places365.csv",
                 split="test", layout="yfcc4k", expected_rows=4_536,
                 alternatives=(GroundTruthSource("yfcc4k/info.txt", "yfcc4k/images", "yfcc100m-info"),)),
    DatasetEntry("yfcc26k", "eval", ("GLOBE_YFCC26K",), "yfcc26k.jsonl", "yfcc25600",
                 "YFCC26k (25,600): prompt + ground truth (city/country reverse geocoded)", aliases=("yfcc25600",),
                 released_csv="yfcc25600_places365.csv", split="test", layout="yfcc26k", expected_rows=25_600),
    DatasetEntry("im2gps", "eval", ("GLOBE_IM2GPS",), "im2gps.jsonl", "gps_query_imgs",
                 "IM2GPS (237): prompt + ground truth (city/country reverse geocoded)",
                 released_csv="im2gps_places365.csv", split="test", layout="im2gps", expected_rows=237),
)

#: The test sets ``globe-eval --dataset`` reads from their released CSV.
TEST_SETS: tuple[DatasetEntry, ...] = tuple(entry for entry in DATASETS if entry.released_csv)


def find_dataset(name: str, *, evaluable: bool = False) -> DatasetEntry:
    """The entry a name or alias means; ``ValueError`` lists the known names.

    ``evaluable=True`` accepts only the :data:`TEST_SETS`.
    """
    candidates = TEST_SETS if evaluable else DATASETS
    for entry in candidates:
        if name == entry.name or name in entry.aliases:
            return entry
    known = ", ".join(sorted(entry.name for entry in candidates))
    hint = " (or pass --gt-file and --image-root)" if evaluable else ""
    raise ValueError(f"unknown dataset {name!r}; known: {known}{hint}")


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """Where data is looked for: ``explicit``, else ``$GLOBE_DATA_ROOT``, else ``<checkout>/data``, else ``./data``.

    ``<checkout>/data`` applies only when GLOBE runs from a source checkout (``pip install -e .``,
    the documented install); after a plain ``pip install .`` the package lives in site-packages,
    where a ``data`` folder would be meaningless, so the working directory's ``data/`` is used.
    """
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("GLOBE_DATA_ROOT")
    if env:
        return Path(env).expanduser()
    if (REPO_ROOT / "setup.py").is_file():
        return REPO_ROOT / "data"
    return Path.cwd() / "data"


def converted_file(entry: DatasetEntry, root: str | os.PathLike | None = None) -> tuple[Path, str | None]:
    """The JSONL a name reads (absolute), and the environment variable that chose it (None: the data root)."""
    for var in entry.env:
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser().resolve(), var
    return data_root(root).resolve() / entry.file, None


def registered_file(entry: DatasetEntry, root: str | os.PathLike | None = None) -> tuple[Path, str | None]:
    """The file a registered name reads, and the variable that chose it: the variable's file, else
    the converted JSONL under the data root, else (no JSONL there) the first distributed form of
    the set found under the data root (``osv5m/test.csv``, ``yfcc4k/info.txt``...), read as is
    through its layout; else the JSONL, which the loader then reports missing with how to make it."""
    path, var = converted_file(entry, root)
    if var is not None or path.is_file():
        return path, var
    base = data_root(root).resolve()
    found = next((base / source.file for source in entry.sources() if (base / source.file).is_file()), None)
    return (found, None) if found is not None else (path, None)


def source_of_file(entry: DatasetEntry, file: str | os.PathLike) -> GroundTruthSource | None:
    """The distributed form ``file`` is, known by its file name (``test.csv``, ``info.txt``,
    ``yfcc4k_places365.csv``), or None (a converted JSONL, or a file renamed beyond recognition)."""
    name = Path(file).name
    return next((source for source in entry.sources() if Path(source.file).name == name), None)


def file_layout(entry: DatasetEntry, file: str | os.PathLike) -> str:
    """The layout a file registered for ``entry`` is read through: its distributed form's
    (:func:`source_of_file`), else the entry's own. A converted JSONL reads through either, since
    its keys are the shared column names and its rows carry their images."""
    source = source_of_file(entry, file)
    return source.layout if source is not None else entry.layout


def id_image_folder(entry: DatasetEntry, file: Path, var: str | None) -> Path:
    """Where rows that carry only an image id find their images: ``<VAR>_IMAGES``, else the
    released folder beside the file. For a distributed file (:func:`source_of_file`) the folder
    is placed as it is in the distribution (``osv5m/test.csv`` -> ``osv5m/images/test``); for a
    converted JSONL, as the entry's images lie beside it under the data root."""
    images_var = f"{var or entry.env[0]}_IMAGES"
    if os.environ.get(images_var):
        return Path(os.environ[images_var]).expanduser()
    source = source_of_file(entry, file)
    if source is None:
        return file.parent / entry.images
    return file.parent / os.path.relpath(source.images, os.path.dirname(source.file) or ".")


def ground_truth_source(name: str, root: str | os.PathLike | None = None) -> tuple[Path, Path, str]:
    """``(ground-truth file, image folder, layout)`` of a test set under the data root: the first of
    its distributed forms (:meth:`DatasetEntry.sources`) whose file exists, else the released one
    (the caller reports it missing)."""
    entry = find_dataset(name, evaluable=True)
    base = data_root(root)
    sources = entry.sources()
    chosen = next((source for source in sources if (base / source.file).is_file()), sources[0])
    return base / chosen.file, base / chosen.images, chosen.layout


def released_test_set(name: str, root: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """``(ground-truth file, image folder)`` of a test set under the data root (:func:`ground_truth_source`)."""
    gt_file, images, _ = ground_truth_source(name, root)
    return gt_file, images


def ids_fingerprint(ids: Iterable[str]) -> str:
    """The fingerprint of a ground truth's id list: SHA-256 of the sorted, stripped ids joined by
    newlines (first 16 hex digits). Order-free, so a re-sorted copy of the standard file matches;
    one id more, less or different does not."""
    import hashlib

    text = "\n".join(sorted(image_id.strip() for image_id in ids))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class GroundTruthRow:
    """One ground-truth image: where it was taken, and where its file is.

    The one row type eval, distillation and data preparation share. ``country``/``city`` may be
    None (unknown); ``problem`` says why a row cannot be used (kept and counted, never dropped).
    ``index`` is the row's 0-based position among the file's data rows (eval's resume key) and
    ``raw`` its original columns.
    """

    country: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    image_id: str | None = None
    image_path: str | None = None  # the resolved file, once known
    index: int = 0
    raw: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
