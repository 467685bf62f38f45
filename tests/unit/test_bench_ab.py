"""Specification of the same-run A/B machinery of ``make bench BASE=REF`` (bench/_ab.py).

No timings are asserted here: the verdict logic is fed figures, and the base checkout is made
and removed for real.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import _ab  # noqa: E402


def metric(name: str, base: list[float], current: list[float]) -> _ab.Metric:
    return _ab.Metric(name, base=list(base), current=list(current))


def test_a_metric_slower_than_the_base_past_the_tolerance_is_a_regression(capsys):
    slower = metric("run [CPU]", [1.0] * 5, [1.2] * 5)  # 0.83x
    assert _ab.report("t", [slower], tolerance=0.10, notes=[]) is False
    assert "REGRESSION" in capsys.readouterr().out


def test_a_slowdown_within_the_tolerance_passes(capsys):
    close = metric("run [CPU]", [1.0] * 5, [1.05] * 5)  # 0.95x
    assert _ab.report("t", [close], tolerance=0.10, notes=[]) is True
    assert "REGRESSION" not in capsys.readouterr().out


def test_elapsed_time_beside_a_cpu_twin_is_shown_but_not_judged(capsys):
    cpu = metric("run [CPU]", [1.0] * 5, [1.0] * 5)
    wall = metric("run [wall]", [1.0] * 5, [3.0] * 5)
    assert _ab.report("t", [cpu, wall], tolerance=0.10, notes=[]) is True
    assert "not judged" in capsys.readouterr().out


def test_elapsed_time_alone_is_judged():
    assert _ab.report("t", [metric("batch [wall]", [1.0] * 3, [2.0] * 3)], tolerance=0.10, notes=[]) is False


def test_the_ratio_is_per_round_and_its_spread_drops_one_extreme_round_at_each_end():
    m = metric("x", [1.0, 1.0, 1.0, 1.0, 1.0], [0.5, 1.0, 1.0, 1.0, 4.0])
    assert m.ratios() == [2.0, 1.0, 1.0, 1.0, 0.25]
    assert _ab.spread(m.ratios()) == (1.0, 1.0)
    assert _ab.spread([1.0, 2.0]) == (1.0, 2.0)  # too few rounds to drop any


def test_megabyte_metrics_print_in_megabytes(capsys):
    _ab.report("t", [metric("peak RSS MB", [800.0] * 2, [850.0] * 2)], tolerance=0.10, notes=[])
    assert "800 MB" in capsys.readouterr().out


def test_the_base_worktree_is_the_base_commit_and_is_removed_afterwards():
    with _ab.base_worktree("HEAD") as (folder, commit):
        assert (folder / "bench" / "_ab.py").exists()
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        assert head.strip() == commit
    assert not folder.exists()
    listed = subprocess.run(["git", "-C", str(BENCH), "worktree", "list"], capture_output=True, text=True).stdout
    assert str(folder) not in listed


def test_an_unknown_ref_is_refused_naming_it():
    with pytest.raises(SystemExit, match="no-such-ref"):
        with _ab.base_worktree("no-such-ref-xyz"):
            pass


def test_an_unknown_bench_name_is_refused_with_the_choices():
    with pytest.raises(SystemExit, match="eval_client"):
        _ab.main(["--base", "HEAD", "--only", "nonsense"])
