"""The architecture's promises: imports point down the layers, light modules stay light, ms-swift is reached
through two files only, and test support stays out of the installed package."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from globe import REPO_ROOT

GLOBE = REPO_ROOT / "globe"
#: The layers of /work/shared/DESIGN.md, lowest first: a module may import its own layer and those below.
LAYERS: list[tuple[str, re.Pattern[str]]] = [
    ("base", re.compile(r"globe(\.(geo(\..*)?|aio|answers|prompts|catalog|chat_client|runfiles|families|processes|scoring))?")),
    ("logic", re.compile(r"globe\.(rewards|locatability|scale|swift_run|tiny_model|(eval|data|distill)(\..*)?)")),
    ("glue", re.compile(r"globe\.(plugin|dataset)")),
    ("entry", re.compile(r"globe\.((eval|data|distill)\.(cli|infer|__main__)|app(\..*)?|demo|launch|plugin_path)")),
]
#: Names that mark test support (fakes, fixtures): they belong in tests/support, never in the package.
TEST_SUPPORT_NAMES = re.compile(r"(testing|tests?|fixtures?|conftest|fakes?|fake_\w+|test_\w+|\w+_test)(\.py)?")
TEST_ONLY_IMPORTS = ("tests", "pytest", "hypothesis", "_pytest")
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


def layer_of(module: str) -> int | None:
    """The index in LAYERS of the highest layer whose pattern names ``module`` (None: not a globe module)."""
    found = [i for i, (_, pattern) in enumerate(LAYERS) if pattern.fullmatch(module)]
    return found[-1] if found else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(GLOBE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from a import b`` counts as ``a`` and ``a.b``)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_every_module_of_the_package_has_a_layer() -> None:
    assert [module_name(p) for p in GLOBE.rglob("*.py") if layer_of(module_name(p)) is None] == []


def test_imports_point_down_the_layers() -> None:
    upward = []
    for path in sorted(GLOBE.rglob("*.py")):
        own = layer_of(module_name(path))
        for target in imported_modules(path):
            other = layer_of(target)
            if other is not None and own is not None and other > own:
                upward.append(f"{module_name(path)} ({LAYERS[own][0]}) imports {target} ({LAYERS[other][0]})")
    assert upward == []


def test_the_layer_check_sees_an_upward_import() -> None:
    assert layer_of("globe.scoring") < layer_of("globe.rewards") < layer_of("globe.plugin") < layer_of("globe.app.cli")
    assert layer_of("globe.eval.cli") > layer_of("globe.eval.runner")


def test_no_test_support_lives_in_the_package() -> None:
    named = sorted(str(p.relative_to(GLOBE)) for p in GLOBE.rglob("*.py")
                   if any(TEST_SUPPORT_NAMES.fullmatch(part) for part in p.relative_to(GLOBE).parts))
    assert named == [], "test support (fakes, fixtures, tiny test data) belongs in tests/support, outside the wheel"


def test_no_module_of_the_package_imports_test_support_or_a_test_framework() -> None:
    importers = sorted(
        f"{module_name(p)} imports {name}" for p in GLOBE.rglob("*.py") for name in imported_modules(p)
        if name.split(".")[0] in TEST_ONLY_IMPORTS
    )
    assert importers == []
