"""A built wheel holds the package and its data, and no test support (fake servers, generated images)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from globe import REPO_ROOT

pytestmark = pytest.mark.integration


def test_a_built_wheel_holds_no_test_support(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy, so the build writes nothing into the checkout
    source.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("globe", "tests"):  # tests/ is copied too: present beside setup.py, still left out
        shutil.copytree(REPO_ROOT / folder, source / folder, ignore=ignore)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    str(source), "-w", str(tmp_path / "wheel")], check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert "globe/scoring.py" in names and "globe/tiny_model.py" in names and "globe/geo/places.tsv" in names
    top_levels = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_levels == {"globe"}
    assert not [name for name in names if "fake_openai" in name or "/testing/" in name or "conftest" in name]
