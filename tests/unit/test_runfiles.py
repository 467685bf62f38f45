"""Specification of globe.runfiles: the rules every run file of GLOBE is written and read by."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from globe.runfiles import (
    AppendOnlyFile,
    RunFileError,
    RunLock,
    RunLocked,
    atomic_write_lines,
    atomic_write_text,
    changed_settings,
    encode_text,
    iter_jsonl,
    read_csv_records,
    read_settings,
    truncate_torn_tail,
    write_settings,
)


def _csv(path, rows, tail: str = "") -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
        handle.write(tail)


# -- text policy


def test_a_lone_surrogate_is_written_as_the_replacement_character():
    assert encode_text("a\ud83db").decode("utf-8") == "a\ufffdb"


def test_a_split_surrogate_pair_is_joined_into_its_character():
    assert encode_text("\ud83d\ude00").decode("utf-8") == "\U0001f600"


def test_appending_text_with_a_lone_surrogate_does_not_raise(tmp_path):
    with AppendOnlyFile(tmp_path / "f.txt") as handle:
        handle.write("x\udc80y\n")
    assert (tmp_path / "f.txt").read_text(encoding="utf-8") == "x\ufffdy\n"


# -- CSV reading


def test_a_field_over_the_csv_default_limit_is_read_whole(tmp_path):
    long = "z" * 300_000
    _csv(tmp_path / "o.csv", [["id", "text"], ["1", "short"], ["2", long], ["3", "after"]])
    header, records, clean = read_csv_records(tmp_path / "o.csv")
    assert header == ["id", "text"] and clean
    assert records == [["1", "short"], ["2", long], ["3", "after"]]


def test_a_last_record_without_its_newline_is_torn(tmp_path):
    _csv(tmp_path / "o.csv", [["id", "text"], ["1", "a"]], tail="2,b")
    _, records, clean = read_csv_records(tmp_path / "o.csv")
    assert records == [["1", "a"]] and not clean


def test_a_last_record_cut_inside_a_quoted_field_is_torn(tmp_path):
    _csv(tmp_path / "o.csv", [["id", "text"], ["1", "a"]], tail='2,"line one\nline')
    _, records, clean = read_csv_records(tmp_path / "o.csv")
    assert records == [["1", "a"]] and not clean


def test_a_last_record_with_too_few_fields_is_torn(tmp_path):
    _csv(tmp_path / "o.csv", [["id", "text", "status"], ["1", "a", "ok"], ["2", "b"]])
    _, records, clean = read_csv_records(tmp_path / "o.csv")
    assert records == [["1", "a", "ok"]] and not clean


def test_a_damaged_record_followed_by_others_is_an_error_naming_its_line(tmp_path):
    _csv(tmp_path / "o.csv", [["id", "text"], ["1", "a"], ["2"], ["3", "c"]])
    with pytest.raises(RunFileError, match=r"o\.csv:3: cannot be read \(1 fields, the header has 2\), and records "
                                           r"follow it"):
        read_csv_records(tmp_path / "o.csv")


def test_undecodable_bytes_read_as_replacement_characters(tmp_path):
    (tmp_path / "o.csv").write_bytes(b"id,text\n1,caf\xe9\n")
    _, records, clean = read_csv_records(tmp_path / "o.csv")
    assert records == [["1", "caf\ufffd"]] and clean


# -- JSONL


def test_truncate_torn_tail_cuts_only_an_incomplete_last_line(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n')
    assert not truncate_torn_tail(path)
    path.write_text('{"a": 1}\n{"a": 2}\n{"a"')
    assert truncate_torn_tail(path) and path.read_text() == '{"a": 1}\n{"a": 2}\n'
    path.write_text('{"a": 1}\n{"a": \n')
    assert truncate_torn_tail(path) and path.read_text() == '{"a": 1}\n'


def test_a_line_nested_too_deep_is_an_error_naming_it_not_a_recursion_error(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text('{"a": 1}\n' + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(RunFileError, match=r"l\.jsonl:2 is not JSON \(RecursionError"):
        list(iter_jsonl(path))


def test_a_line_that_is_not_an_object_is_an_error_naming_it(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text('{"a": 1}\n\n[1, 2]\n')
    with pytest.raises(RunFileError, match=r"l\.jsonl:3 is not a JSON object"):
        list(iter_jsonl(path))


# -- atomic replace


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "old\n")

    def lines():
        yield "new\n"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_lines(path, lines())
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_an_atomic_write_keeps_the_files_permissions(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "a")
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    atomic_write_text(path, "b")
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == "b"


# -- settings


def test_settings_round_trip_and_compare_as_json(tmp_path):
    write_settings(tmp_path / "run.json", {"extra": {"a": (1, 2)}, "t": 0.5})
    recorded = read_settings(tmp_path / "run.json")
    assert changed_settings(recorded, {"extra": {"a": [1, 2]}, "t": 0.5}) == []
    assert changed_settings(recorded, {"extra": {"a": [1, 2]}, "t": 0.7}) == ["t"]
    assert changed_settings(recorded, {"t": 0.5, "new": 1}) == []
    assert changed_settings(recorded, {"t": 0.5, "new": 1}, missing_counts=True) == ["extra", "new"]


def test_an_unreadable_settings_file_is_an_error_naming_it(tmp_path):
    (tmp_path / "run.json").write_text("{half")
    with pytest.raises(RunFileError, match="run.json"):
        read_settings(tmp_path / "run.json")
    assert read_settings(tmp_path / "absent.json") is None


# -- lock


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from globe.runfiles import RunLock; "
         f"lock = RunLock({str(tmp_path / 'x.lock')!r}).acquire(); print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=rf"^{tmp_path} is in use by another run \(pid {holder.pid}; "):
            RunLock(tmp_path / "x.lock").acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path / "x.lock"):  # the kernel dropped the dead holder's lock
        pass


def test_a_lock_file_naming_a_dead_pid_is_taken_over_and_removed_on_release(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "x.lock").write_text(dead.stdout)
    lock = RunLock(tmp_path / "x.lock").acquire()
    assert (tmp_path / "x.lock").read_text().strip() != dead.stdout.strip()
    lock.release()
    assert not (tmp_path / "x.lock").exists()


def test_two_locks_in_one_process_exclude_each_other(tmp_path):
    with RunLock(tmp_path / "x.lock", what="the output"):
        with pytest.raises(RunLocked, match="the output is in use"):
            RunLock(tmp_path / "x.lock", what="the output").acquire()
    RunLock(tmp_path / "x.lock").acquire().release()


def test_the_module_is_base_layer_importing_nothing_of_globe_or_heavy():
    code = ("import sys, json, globe.runfiles; print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('swift', 'torch', 'aiohttp', 'PIL') or (m.startswith('globe.') "
            "and m != 'globe.runfiles'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(loaded) == []
