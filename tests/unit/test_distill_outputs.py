"""The output store's commit protocol, repair after a kill, reward-model balancing, and the ledger report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from globe.distill.filters import FilterSettings
from globe.distill.outputs import (
    LEDGER_FILE,
    RM_CANDIDATES_FILE,
    SFT_FILE,
    OutputError,
    OutputStore,
    truncate_torn_tail,
)
from globe.distill.report import ReportBuilder


def row(image_id: str, label: str = "yes") -> dict:
    return {"image_id": image_id, "images": [f"../images/{image_id}"], "country": "France", "city": "Paris",
            "lat": 48.85, "lon": 2.35, "solution": "France\tParis", "entities": [], "reasoning": "r", "locatable": label}


def rm_row(image_id: str, label: str, teacher: int = 0) -> dict:
    return {**row(image_id, label), "sample_id": f"{image_id}#t{teacher}", "teacher": teacher}


def entry(image_id: str, outcome: str, **extra) -> dict:
    return {"image_id": image_id, "outcome": outcome, "stage": None, "reason": None, **extra}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture()
def store(tmp_path) -> OutputStore:
    s = OutputStore(tmp_path / "out")
    s.prepare({"filters": {}})
    return s


def test_commit_writes_data_lines_then_the_ledger_line(store):
    with store:
        store.commit(entry("a", "kept"), row("a"), [rm_row("a", "yes")])
        store.commit(entry("b", "dropped"), None, [rm_row("b", "no")])
    assert [r["image_id"] for r in lines(store.path(SFT_FILE))] == ["a"]
    assert [r["sample_id"] for r in lines(store.path(RM_CANDIDATES_FILE))] == ["a#t0", "b#t0"]
    assert store.ledger_state().outcome == {"a": "kept", "b": "dropped"}


def test_repair_removes_rows_a_kill_left_without_their_ledger_line(store):
    with store:
        store.commit(entry("a", "kept"), row("a"), [rm_row("a", "yes")])
    # Killed after the data lines of "b" but before its ledger line, then mid-way through a line of "c".
    with open(store.path(SFT_FILE), "a") as f:
        f.write(json.dumps(row("b")) + "\n" + '{"image_id": "c", "ima')
    with open(store.path(RM_CANDIDATES_FILE), "a") as f:
        f.write(json.dumps(rm_row("b", "yes")) + "\n")
    removed = store.repair()
    assert removed == {SFT_FILE: 2, RM_CANDIDATES_FILE: 1}
    assert [r["image_id"] for r in lines(store.path(SFT_FILE))] == ["a"]
    assert [r["image_id"] for r in lines(store.path(RM_CANDIDATES_FILE))] == ["a"]
    assert store.repair() == {}  # idempotent


def test_a_torn_ledger_line_uncommits_its_row(store):
    with store:
        store.commit(entry("a", "kept"), row("a"), [])
        store.commit(entry("b", "kept"), row("b"), [])
    ledger = store.path(LEDGER_FILE)
    ledger.write_bytes(ledger.read_bytes()[:-5])  # the last ledger line lost its tail
    store.repair()
    assert store.ledger_state().outcome == {"a": "kept"}
    assert [r["image_id"] for r in lines(store.path(SFT_FILE))] == ["a"]


def test_truncate_torn_tail_keeps_complete_files(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n')
    assert truncate_torn_tail(path) is False and path.read_text() == '{"a": 1}\n{"b": 2}\n'
    path.write_text('{"a": 1}\n{"b": 2}')  # no final newline: the write was cut
    assert truncate_torn_tail(path) is True and path.read_text() == '{"a": 1}\n'
    path.write_text('{"a"')
    assert truncate_torn_tail(path) is True and path.read_text() == ""


def test_failed_rows_are_retried_only_when_asked(store):
    with store:
        store.commit(entry("a", "failed"), None, [])
        store.commit(entry("b", "dropped"), None, [])
    state = store.ledger_state()
    assert (state.done("a", retry_failed=True), state.done("a", retry_failed=False)) == (False, True)
    assert state.done("b", retry_failed=True) and not state.done("c", retry_failed=True)


def test_rm_balance_downsamples_the_majority_independently_of_arrival_order(tmp_path):
    yes = [rm_row(f"y{i}", "yes") for i in range(3)]
    no = [rm_row(f"n{i}", "no") for i in range(10)]
    picked = []
    for name, order in (("fwd", yes + no), ("rev", list(reversed(no)) + yes)):
        s = OutputStore(tmp_path / name)
        s.prepare({})
        with s:
            for r in order:
                s.commit(entry(r["image_id"], "dropped"), None, [r])
        counts = s.write_rm("downsample", seed=5)
        assert counts == {"balance": "downsample", "candidates": {"yes": 3, "no": 10}, "written": {"yes": 3, "no": 3}}
        rows = lines(s.path("rm.jsonl"))
        assert all("sample_id" not in r for r in rows)
        picked.append(sorted(r["image_id"] for r in rows))
    assert picked[0] == picked[1]
    s = OutputStore(tmp_path / "fwd")
    assert s.write_rm("none")["written"] == {"yes": 3, "no": 10}


def test_prepare_refuses_other_settings_and_foreign_outputs(tmp_path):
    s = OutputStore(tmp_path / "out")
    assert s.prepare({"min_confidence": 0.7}) is False
    assert s.prepare({"min_confidence": 0.7}) is True
    with s:
        s.commit(entry("a", "kept"), row("a"), [])
    with pytest.raises(OutputError, match="min_confidence: was 0.7, now 0.9"):
        s.prepare({"min_confidence": 0.9})
    foreign = OutputStore(tmp_path / "foreign")
    foreign.out_dir.mkdir()
    (foreign.out_dir / "rm.jsonl").write_text("{}\n")
    with pytest.raises(OutputError, match="--overwrite"):
        foreign.prepare({})
    (foreign.out_dir / "notes.txt").write_text("mine")
    foreign.prepare({}, overwrite=True)
    assert not (foreign.out_dir / "rm.jsonl").exists() and (foreign.out_dir / "notes.txt").exists()


def test_report_counts_a_retried_row_once_but_its_cost_twice():
    def teacher(status, tokens, answer=None):
        return {"status": status, "attempts": 1, "usage": {"total_tokens": tokens}, "answer": answer, "checks": {}}

    builder = ReportBuilder(["t"], FilterSettings())
    builder.add(entry("a", "failed", reason="teacher_request_failed", teachers=[teacher("http_500", 0)]))
    builder.add(entry("b", "failed", reason="teacher_request_failed", teachers=[teacher("timeout", 0)]))
    builder.add(entry("a", "kept", teachers=[teacher("ok", 10, {"source": "json", "locatable": True, "confidence": 0.8})]))
    report = builder.build(rows_in=3)
    assert (report["rows_processed"], report["rows_kept"], report["rows_failed"], report["rows_pending"]) == (2, 1, 1, 1)
    assert report["failed_by_reason"] == {"teacher_request_failed": 1}
    t = report["teachers"][0]
    assert (t["requests"], t["request_failures_by_status"], t["tokens"]) == (3, {"http_500": 1, "timeout": 1}, {"total_tokens": 10})
    assert t["answered"] == 1 and t["mean_confidence"] == 0.8


def test_a_folder_whose_run_processed_no_row_accepts_new_settings(tmp_path):
    s = OutputStore(tmp_path / "out")
    s.prepare({"gt_file": "typo.csv"})
    (s.path("distill") / "gt.jsonl").write_text('{"image_id": "from-the-typo"}\n')
    assert s.prepare({"gt_file": "right.csv"}) is False  # no error: nothing was made with the typo
    assert not (s.path("distill") / "gt.jsonl").exists()
    with s:
        s.commit(entry("a", "dropped"), None, [])
    with pytest.raises(OutputError, match="gt_file: was 'right.csv', now 'other.csv'"):
        s.prepare({"gt_file": "other.csv"})


def test_a_second_store_on_the_folder_is_refused_until_the_first_releases_it(tmp_path):
    first = OutputStore(tmp_path / "out")
    first.prepare({"bands": (1, 2)})
    with first:
        first.commit(entry("a", "kept"), row("a"), [])
    second = OutputStore(tmp_path / "out")
    with pytest.raises(OutputError, match=rf"--out-dir {tmp_path / 'out'} is in use by another run \(pid \d+"):
        second.prepare({"bands": (1, 2)})
    first.release()
    assert second.prepare({"bands": (1, 2)}) is True  # compared as recorded in JSON: (1, 2) is [1, 2]


def test_an_unreadable_settings_record_is_refused_with_the_way_out(tmp_path):
    s = OutputStore(tmp_path / "out")
    s.prepare({})
    s.path("distill/run.json").write_text('{"version": 1, "sett')
    with pytest.raises(OutputError, match=r"cannot read .*run\.json.*pass --overwrite to start afresh"):
        s.prepare({})
