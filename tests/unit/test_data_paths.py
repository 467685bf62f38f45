"""Where data is looked for when no path is given."""
from __future__ import annotations

from pathlib import Path

import pytest

from globe.data import paths


def test_explicit_path_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GLOBE_DATA_ROOT", "/elsewhere")
    assert paths.default_data_root(tmp_path) == tmp_path


def test_environment_variable_comes_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOBE_DATA_ROOT", "/data/globe")
    assert paths.default_data_root() == Path("/data/globe")


def test_a_source_checkout_uses_its_own_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLOBE_DATA_ROOT", raising=False)
    assert paths.default_data_root() == paths.CHECKOUT_ROOT / "data"


def test_an_installed_package_uses_the_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GLOBE_DATA_ROOT", raising=False)
    monkeypatch.setattr(paths, "CHECKOUT_ROOT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    assert paths.default_data_root() == tmp_path / "data"
