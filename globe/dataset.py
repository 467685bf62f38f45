"""ms-swift registration of GLOBE's datasets; the only GLOBE module that imports ``swift.dataset``.

Load it with ``--external_plugins globe/dataset.py`` (or ``import globe.dataset``), then name a
dataset: ``swift rlhf --rlhf_type grpo --dataset mp16-reason-train ...``,
``swift sft --dataset mp16-reason-sft ...``.

The names, their aliases (the released code's ``geo_loc_rm_20w``, ``img2gps3k``,
``osv-test-mini-3k``, and the released scripts' ``--dataset data/geo_loc_rm_20w`` and
``--dataset data/mp16-reason-train``), environment variables and files are listed once, in
:mod:`globe.catalog`; this module registers each name and each alias with ms-swift.

``GLOBE_DATA_ROOT`` defaults to ``<repo>/data`` (:func:`globe.catalog.data_root`). The files are
what ``globe-data convert`` writes (relative image paths resolve against the file's folder). A
distributed file can be named directly too (``GLOBE_YFCC4K=.../yfcc4k_places365.csv``,
``GLOBE_OSV5M_TEST=.../osv5m/test.csv``, ``GLOBE_YFCC4K=.../yfcc4k/info.txt``): its rows are read
through the layout the catalog names for that file (:func:`globe.catalog.file_layout`; column
spellings, image naming, country codes, reverse-geocoded places), as ``globe-eval`` reads it.
With neither a variable nor a converted JSONL, a name reads the set's distributed file under the
data root the same way (:func:`globe.catalog.registered_file`), as ``globe-eval --dataset`` does.
Rows that carry only an id find their image under ``<VAR>_IMAGES`` (e.g.
``GLOBE_MP16_TRAIN_IMAGES``), else in the distributed folder placed beside the file as in the
distribution (``train_images/``, ``im2gps3ktest/``, ``osv5m/test.csv`` -> ``osv5m/images/test``,
``yfcc4k/info.txt`` -> ``yfcc4k/images``), and rows whose image is missing are dropped. The two
MP16-Reason train names also carry the hub id ``globe-project/MP16-Reason``
(``--dataset hf::mp16-reason-train``), best effort: the release's hub layout is not verified here;
the converted local file is the supported path.

Two names share one file (``mp16-reason-train``/``-sft``), so ms-swift's lookup by *path* or by
hub id finds the one registered last, the SFT form; GRPO strips its assistant turn, so it serves
both. Name the dataset to choose.

SFT targets start with the think prefill of the family the model will be served as
(``MODEL_FAMILY``, ``ENABLE_THINKING``: :func:`globe.families.sft_prefill`). Paths and these are read
when this module is imported: set the variables before ``swift`` starts (tests
call :func:`register_globe_datasets` again after changing them).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

try:
    import globe  # noqa: F401
except ImportError:  # loaded by path (--external_plugins) from a checkout that is not pip-installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from swift.dataset import DatasetMeta, RowPreprocessor, register_dataset
from swift.dataset.loader import DatasetLoader

from globe.catalog import DATASETS, DatasetEntry, file_layout, id_image_folder, registered_file
from globe.data.swift_rows import to_swift_row
from globe.families import sft_prefill


class GlobePreprocessor(RowPreprocessor):
    """Shapes each row for one task with :func:`globe.data.swift_rows.to_swift_row`.

    Subclasses ``RowPreprocessor`` (not ``ResponsePreprocessor``) on purpose: the latter maps a
    ``solution`` column onto the response, while GRPO rewards need it as a column.
    """

    def __init__(self, task: str, *, base_dir: str | None = None, image_dir: str | None = None,
                 layout: str | None = None, think_prefill: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.task = task
        self.base_dir = base_dir
        self.image_dir = image_dir
        self.layout = layout
        self.think_prefill = think_prefill

    def preprocess(self, row: dict[str, Any]) -> dict[str, Any] | None:
        return to_swift_row(row, self.task, base_dir=self.base_dir, image_dir=self.image_dir, layout=self.layout,
                            think_prefill=self.think_prefill)


class GlobeDatasetLoader(DatasetLoader):
    """ms-swift's loader, with a message that says how to get the file when it is missing."""

    def _load_dataset_path(self, dataset_path: str, dataset_meta: DatasetMeta):
        if not os.path.isfile(dataset_path):
            name = dataset_meta.dataset_name or dataset_path
            entry = next((e for e in DATASETS if name == e.name or name in e.aliases), None)
            hint = "check the path"
            if entry is not None:
                hint = (f"set {' or '.join(entry.env)} to the file, or GLOBE_DATA_ROOT to the folder "
                        f"holding {entry.file}")
            raise FileNotFoundError(
                f"dataset {name!r}: no file at {dataset_path}. Convert the downloaded data with "
                f"`globe-data convert ... --out {dataset_path}` (see data/README.md), or {hint}."
            )
        return super()._load_dataset_path(dataset_path, dataset_meta)


def _meta(entry: DatasetEntry, name: str, root: str | os.PathLike | None) -> DatasetMeta:
    path, var = registered_file(entry, root)
    image_dir = id_image_folder(entry, path, var)
    preprocess = GlobePreprocessor(entry.task, base_dir=str(path.parent), image_dir=str(image_dir),
                                   layout=file_layout(entry, path),
                                   think_prefill=sft_prefill() if entry.task == "sft" else "")
    return DatasetMeta(
        dataset_name=name,
        dataset_path=str(path),
        hf_dataset_id=entry.hub_id,
        split=[entry.split],
        preprocess_func=preprocess,
        loader=GlobeDatasetLoader,
        tags=["globe", "geo", "vision", entry.task],
        help=entry.help if name == entry.name else f"{entry.help} (the released name of {entry.name})",
    )


def register_globe_datasets(root: str | os.PathLike | None = None) -> dict[str, DatasetMeta]:
    """(Re-)register every GLOBE dataset name and alias against the current environment; returns the metas."""
    metas: dict[str, DatasetMeta] = {}
    for entry in DATASETS:
        for name in (*entry.aliases, entry.name):  # the canonical name last: ms-swift's lookup by path finds it
            meta = _meta(entry, name, root)
            register_dataset(meta, exist_ok=True)
            metas[name] = meta
    return metas


register_globe_datasets()
