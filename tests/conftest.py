"""Fixtures shared by unit and integration tests."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from globe import REPO_ROOT

# Never reach a hub, even by accident, and keep caches inside the run's cache dir.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_model() -> str:
    """The tiny random Qwen2.5-VL, built once and cached under ``$GLOBE_CACHE_DIR``."""
    from globe.tiny_model import tiny_model_dir

    return str(tiny_model_dir())


@pytest.fixture()
def sample_images(tmp_path: Path) -> list[Path]:
    """Eight small distinct JPEGs in a temp dir."""
    from tests.support.images import write_images

    return write_images(tmp_path / "images", 8)
