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

from globe import REPO_ROOT

MP16_REASON_HUB_ID = "globe-project/MP16-Reason"
TASKS = ("grpo", "sft", "rm", "eval")  # how globe.data.swift_rows shapes a name's rows

#: The keys of every row ``globe-data convert`` writes and the registered datasets read, in order.
JSONL_KEYS = ("image_id", "images", "country", "city", "lat", "lon", "solution", "entities", "reasoning", "locatable")


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
                 released_csv="img2gps3k_gt.csv", split="test"),
    DatasetEntry("osv5m-test-mini-3k", "eval", ("GLOBE_OSV5M_MINI",), "osv5m-test-mini-3k.jsonl", "osv-test-mini-3k",
                 "OSV-5M test mini (3k): prompt + ground truth", aliases=("osv-test-mini-3k",),
                 released_csv="test_mini.csv", split="test"),
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


def id_image_folder(entry: DatasetEntry, file: Path, var: str | None) -> Path:
    """Where rows that carry only an image id find their images: ``<VAR>_IMAGES``, else the
    released folder beside the file."""
    images_var = f"{var or entry.env[0]}_IMAGES"
    return Path(os.environ[images_var]).expanduser() if os.environ.get(images_var) else file.parent / entry.images


def released_test_set(name: str, root: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """``(released CSV, image folder)`` of a test set under the data root, as the released ``eval.py`` lays them out."""
    entry = find_dataset(name, evaluable=True)
    base = data_root(root)
    assert entry.released_csv is not None
    return base / entry.released_csv, base / entry.images


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
