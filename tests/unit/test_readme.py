"""The README says what the code does: tables kept in the README are checked against their one owner."""
from __future__ import annotations

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
