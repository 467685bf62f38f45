"""The architecture's promises: light modules stay light, and ms-swift is reached through two files only."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

GLOBE = Path(__file__).resolve().parents[2] / "globe"
HEAVY = ("swift", "torch", "transformers", "aiohttp", "openai", "requests", "geopy.geocoders")


@pytest.mark.parametrize("module", ["globe", "globe.geo", "globe.answers", "globe.prompts", "globe.scoring", "globe.rewards"])
def test_light_modules_import_no_framework_or_network_client(module: str) -> None:
    code = (
        f"import sys, json, {module}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r})))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert loaded == []


@pytest.mark.parametrize(("package", "only_file"), [("swift.rewards", "plugin.py"), ("swift.dataset", "dataset.py")])
def test_only_one_glue_module_imports_each_ms_swift_api(package: str, only_file: str) -> None:
    pattern = re.compile(rf"^\s*(from\s+{re.escape(package)}[\s.]|import\s+{re.escape(package)}\b)", re.MULTILINE)
    importers = sorted(str(p.relative_to(GLOBE)) for p in GLOBE.rglob("*.py") if pattern.search(p.read_text()))
    assert importers == [only_file]


def test_no_module_outside_the_glue_imports_ms_swift() -> None:
    pattern = re.compile(r"^\s*(from\s+swift[\s.]|import\s+swift\b)", re.MULTILINE)
    importers = sorted(str(p.relative_to(GLOBE)) for p in GLOBE.rglob("*.py") if pattern.search(p.read_text()))
    assert importers == ["dataset.py", "plugin.py"]
