"""What ``pip install`` puts in site-packages: the ``globe`` package, never the test support."""
from __future__ import annotations

import runpy
from typing import Any

import pytest
import setuptools

from globe import REPO_ROOT


@pytest.fixture()
def installed_packages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The package list setup.py hands to ``setuptools.setup``, read without building anything."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: seen.update(kwargs))
    runpy.run_path(str(REPO_ROOT / "setup.py"))
    return sorted(seen["packages"])


def test_the_wheel_packages_globe_and_its_subpackages_only(installed_packages: list[str]) -> None:
    packages = installed_packages
    assert "globe" in packages and "globe.geo" in packages and "globe.eval" in packages
    assert all(name == "globe" or name.startswith("globe.") for name in packages), packages


def test_no_test_support_is_packaged(installed_packages: list[str]) -> None:
    packages = installed_packages
    assert not [name for name in packages if name.split(".")[0] == "tests" or "testing" in name.split(".")]
    assert (REPO_ROOT / "tests" / "support" / "fake_openai.py").is_file()  # it exists, just not in the wheel
