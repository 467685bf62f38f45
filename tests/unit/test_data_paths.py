"""Where data is looked for when no path is given: one rule (globe.catalog.data_root) for every tool."""
from __future__ import annotations

from pathlib import Path

import pytest

from globe import catalog


def test_explicit_path_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GLOBE_DATA_ROOT", "/elsewhere")
    assert catalog.data_root(tmp_path) == tmp_path


def test_environment_variable_comes_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOBE_DATA_ROOT", "/data/globe")
    assert catalog.data_root() == Path("/data/globe")


def test_a_home_relative_root_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("GLOBE_DATA_ROOT", "~/globe-data")
    assert catalog.data_root() == Path("/home/someone/globe-data")
    assert catalog.data_root("~/elsewhere") == Path("/home/someone/elsewhere")


def test_a_source_checkout_uses_its_own_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLOBE_DATA_ROOT", raising=False)
    assert catalog.data_root() == catalog.REPO_ROOT / "data"
    assert (catalog.REPO_ROOT / "globe" / "catalog.py").is_file()


def test_an_installed_package_uses_the_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GLOBE_DATA_ROOT", raising=False)
    monkeypatch.setattr(catalog, "REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    assert catalog.data_root() == tmp_path / "data"


def test_evaluation_and_training_find_a_test_set_under_the_same_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("GLOBE_DATA_ROOT", "~/d")
    monkeypatch.delenv("GLOBE_IM2GPS3K", raising=False)
    entry = catalog.find_dataset("im2gps3k")
    assert catalog.released_test_set("im2gps3k") == (Path("/home/someone/d/img2gps3k_gt.csv"),
                                                     Path("/home/someone/d/im2gps3ktest"))
    assert catalog.converted_file(entry) == (Path("/home/someone/d/im2gps3k.jsonl"), None)
