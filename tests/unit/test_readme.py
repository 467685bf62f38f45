"""The README says what the code does: tables kept in the README are checked against their one owner."""
from __future__ import annotations

import importlib
import re

from globe import REPO_ROOT
from globe.rewards import reward_table
from globe.scoring import ANSWERED_STATUSES

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README's text under the heading ``title`` (any level), up to the next heading."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def table_first_column(text: str) -> list[str]:
    """The first cell of each body row of the first table in ``text``, backticks removed."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [row.split("|")[1].strip().strip("`") for row in rows[2:]]


def test_the_answered_row_statuses_listed_are_the_codes() -> None:
    assert table_first_column(section("Row statuses")) == list(ANSWERED_STATUSES)


def test_the_reward_table_is_the_registry() -> None:
    assert reward_table() in section("Rewards")


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def test_how_to_change_x_names_files_that_exist() -> None:
    paths = [span for span in code_spans(section("How to change X")) if "/" in span and "." in span.rsplit("/", 1)[1]]
    assert len(paths) >= 6
    assert [path for path in paths if not list(REPO_ROOT.glob(path))] == []


def test_how_to_change_x_names_code_that_exists() -> None:
    names = [span for span in code_spans(section("How to change X")) if re.fullmatch(r"globe(\.\w+)+", span)]
    assert len(names) >= 6
    missing = []
    for name in names:
        module, _, attribute = name.rpartition(".")
        if module == "globe.plugin":  # imports ms-swift: read its source instead
            found = f"def {attribute}(" in (REPO_ROOT / "globe" / "plugin.py").read_text()
        else:
            found = hasattr(importlib.import_module(module), attribute)
        if not found:
            missing.append(name)
    assert missing == []
