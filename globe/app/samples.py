"""The bundled sample images the page offers, each with its known place (the sample's ground truth).

A picked sample is recognised by the SHA-256 of its bytes, not by its file name: Gradio hands
the handler a cached copy under another path, and a user who uploads the same file from disk
gets the same truth.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from globe.app.images import file_digest

#: Test sets of the bundled sample whose images the page offers: (dataset name, how many images).
SAMPLE_SETS = (("mp16-reason-test-12k", 8), ("im2gps3k", 2), ("osv5m-test-mini-3k", 2))


@dataclass(frozen=True)
class Truth:
    """Where a photo was really taken, and how we know (``source``)."""

    lat: float
    lon: float
    source: str  # "EXIF GPS" or "sample ground truth"
    label: str = ""  # "Amsterdam, Netherlands" when known


@dataclass(frozen=True)
class SampleImage:
    path: Path
    truth: Truth


def default_sample_root() -> Path | None:
    """``data/sample`` of this checkout, or ``None`` when GLOBE is installed without one."""
    from globe import REPO_ROOT

    root = REPO_ROOT / "data" / "sample"
    return root if root.is_dir() else None


def load_samples(root: Path | None) -> list[SampleImage]:
    """The sample images under ``root`` that exist and have coordinates, with their truth.

    Reads the ground truth with the evaluation's own reader (``globe.eval.data``), so a sample
    shows the same place here as in ``globe-eval``; ``[]`` when ``root`` is ``None``.
    """
    if root is None:
        return []
    from globe.catalog import ground_truth_source
    from globe.data.image_paths import ImageOutsideRoot
    from globe.eval.data import load_ground_truth

    samples: list[SampleImage] = []
    for name, count in SAMPLE_SETS:
        gt_file, image_root, layout = ground_truth_source(name, root)
        if not gt_file.is_file():
            continue
        truth = load_ground_truth(gt_file, image_root, layout=layout)
        taken = 0
        for row in truth.rows:
            if taken >= count:
                break
            if row.problem or row.lat is None or row.lon is None or not row.image_id:
                continue
            try:
                path = truth.image_path(row.image_id)  # the eval's rule: the layout's naming
            except ImageOutsideRoot:
                continue
            if not path.is_file():
                continue
            label = ", ".join(part for part in (row.city, row.country) if part)
            samples.append(SampleImage(path, Truth(row.lat, row.lon, "sample ground truth", label)))
            taken += 1
    return samples


def truths_by_digest(samples: list[SampleImage]) -> dict[str, Truth]:
    """SHA-256 of each sample file -> its truth (see the module docstring)."""
    return {file_digest(sample.path.read_bytes()): sample.truth for sample in samples}
