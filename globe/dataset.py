"""ms-swift registration of GLOBE's datasets; the only GLOBE module that imports ``swift.dataset``.

Load it with ``--external_plugins globe/dataset.py`` (or ``import globe.dataset``), then name a
dataset: ``swift rlhf --rlhf_type grpo --dataset mp16-reason-train ...``,
``swift sft --dataset mp16-reason-sft ...``.

==========================  =====================  ================================  =====
name                        environment variable   default file (``GLOBE_DATA_ROOT``)  task
==========================  =====================  ================================  =====
``mp16-reason-train``       ``GLOBE_MP16_TRAIN``   ``mp16-reason-train.jsonl``         grpo
``mp16-reason-sft``         ``GLOBE_MP16_SFT``     ``mp16-reason-train.jsonl``         sft
``mp16-reason-rm``          ``GLOBE_MP16_RM``      ``mp16-reason-rm.jsonl``            rm
``mp16-reason-test-12k``    ``GLOBE_MP16_TEST``    ``mp16-reason-test-12k.jsonl``      eval
``im2gps3k``                ``GLOBE_IM2GPS3K``     ``im2gps3k.jsonl``                  eval
``osv5m-test-mini-3k``      ``GLOBE_OSV5M_MINI``   ``osv5m-test-mini-3k.jsonl``        eval
==========================  =====================  ================================  =====

``GLOBE_DATA_ROOT`` defaults to ``<repo>/data``; ``GLOBE_MP16_SFT`` falls back to
``GLOBE_MP16_TRAIN``. The files are what ``globe-data convert`` writes (relative image paths
resolve against the file's folder). A released CSV/JSONL can be named directly too; rows that
carry only an id find their image under ``<VAR>_IMAGES`` (e.g. ``GLOBE_MP16_TRAIN_IMAGES``),
else in the released folder beside the file (``train_images/``, ``eval_images/``,
``im2gps3ktest/``, ``osv-test-mini-3k/``), and rows whose image is missing are dropped. The two
MP16-Reason train names also carry the hub id ``globe-project/MP16-Reason``
(``--dataset hf::mp16-reason-train``), best effort: the release's hub layout is not verified here;
the converted local file is the supported path.

Two names share one file (``mp16-reason-train``/``-sft``), so ms-swift's lookup by *path* or by
hub id finds the one registered last, the SFT form; GRPO strips its assistant turn, so it serves
both. Name the dataset to choose.

Paths are read when this module is imported: set the variables before ``swift`` starts (tests
call :func:`register_globe_datasets` again after changing them).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import globe  # noqa: F401
except ImportError:  # loaded by path (--external_plugins) from a checkout that is not pip-installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from swift.dataset import DatasetMeta, RowPreprocessor, register_dataset
from swift.dataset.loader import DatasetLoader

from globe.data.paths import default_data_root
from globe.data.swift_rows import to_swift_row

MP16_REASON_HUB_ID = "globe-project/MP16-Reason"


@dataclass(frozen=True)
class DatasetSpec:
    """One registered name: where its local file is looked up and which task shapes its rows."""

    name: str
    task: str
    env: tuple[str, ...]
    default: str
    hf_id: str | None
    split: str
    images: str  # where id-only (raw released) rows find their images, beside the file
    help: str


DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec("mp16-reason-train", "grpo", ("GLOBE_MP16_TRAIN",), "mp16-reason-train.jsonl",
                MP16_REASON_HUB_ID, "train", "train_images",
                "MP16-Reason train, GRPO rows: image + CoT prompt, ground truth as columns"),
    DatasetSpec("mp16-reason-sft", "sft", ("GLOBE_MP16_SFT", "GLOBE_MP16_TRAIN"), "mp16-reason-train.jsonl",
                MP16_REASON_HUB_ID, "train", "train_images",
                "MP16-Reason train, SFT rows: <think>reasoning</think><answer>...</answer>"),
    DatasetSpec("mp16-reason-rm", "rm", ("GLOBE_MP16_RM",), "mp16-reason-rm.jsonl",
                None, "train", "train_images", "locatability reward-model rows: image + reasoning -> yes/no"),
    DatasetSpec("mp16-reason-test-12k", "eval", ("GLOBE_MP16_TEST",), "mp16-reason-test-12k.jsonl",
                None, "test", "eval_images", "MP16-Reason-Test (12k): prompt + ground truth"),
    DatasetSpec("im2gps3k", "eval", ("GLOBE_IM2GPS3K",), "im2gps3k.jsonl",
                None, "test", "im2gps3ktest", "IM2GPS3K: prompt + ground truth (city/country reverse geocoded)"),
    DatasetSpec("osv5m-test-mini-3k", "eval", ("GLOBE_OSV5M_MINI",), "osv5m-test-mini-3k.jsonl",
                None, "test", "osv-test-mini-3k", "OSV-5M test mini (3k): prompt + ground truth"),
)


def data_root() -> Path:
    """``GLOBE_DATA_ROOT``, else ``<repo>/data`` (see :func:`globe.data.paths.default_data_root`)."""
    return default_data_root()


def local_path(spec: DatasetSpec, root: str | os.PathLike | None = None) -> tuple[Path, str | None]:
    """The file a name reads, and the environment variable that chose it (None: the default)."""
    for var in spec.env:
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser().resolve(), var
    return (Path(root) if root is not None else data_root()).expanduser().resolve() / spec.default, None


class GlobePreprocessor(RowPreprocessor):
    """Shapes each row for one task with :func:`globe.data.swift_rows.to_swift_row`.

    Subclasses ``RowPreprocessor`` (not ``ResponsePreprocessor``) on purpose: the latter maps a
    ``solution`` column onto the response, while GRPO rewards need it as a column.
    """

    def __init__(self, task: str, *, base_dir: str | None = None, image_dir: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.task = task
        self.base_dir = base_dir
        self.image_dir = image_dir

    def preprocess(self, row: dict[str, Any]) -> dict[str, Any] | None:
        return to_swift_row(row, self.task, base_dir=self.base_dir, image_dir=self.image_dir)


class GlobeDatasetLoader(DatasetLoader):
    """ms-swift's loader, with a message that says how to get the file when it is missing."""

    def _load_dataset_path(self, dataset_path: str, dataset_meta: DatasetMeta):
        if not os.path.isfile(dataset_path):
            name = dataset_meta.dataset_name or dataset_path
            spec = next((s for s in DATASETS if s.name == name), None)
            hint = "check the path"
            if spec is not None:
                hint = (f"set {' or '.join(spec.env)} to the file, or GLOBE_DATA_ROOT to the folder "
                        f"holding {spec.default}")
            raise FileNotFoundError(
                f"dataset {name!r}: no file at {dataset_path}. Convert the downloaded data with "
                f"`globe-data convert ... --out {dataset_path}` (see data/README.md), or {hint}."
            )
        return super()._load_dataset_path(dataset_path, dataset_meta)


def register_globe_datasets(root: str | os.PathLike | None = None) -> dict[str, DatasetMeta]:
    """(Re-)register every GLOBE dataset name against the current environment; returns the metas."""
    metas: dict[str, DatasetMeta] = {}
    for spec in DATASETS:
        path, var = local_path(spec, root)
        images_var = f"{var or spec.env[0]}_IMAGES"
        image_dir = os.environ.get(images_var) or str(path.parent / spec.images)
        meta = DatasetMeta(
            dataset_name=spec.name,
            dataset_path=str(path),
            hf_dataset_id=spec.hf_id,
            split=[spec.split],
            preprocess_func=GlobePreprocessor(spec.task, base_dir=str(path.parent), image_dir=image_dir),
            loader=GlobeDatasetLoader,
            tags=["globe", "geo", "vision", spec.task],
            help=spec.help,
        )
        register_dataset(meta, exist_ok=True)
        metas[spec.name] = meta
    return metas


register_globe_datasets()
