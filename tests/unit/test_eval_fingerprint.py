"""Specification of the run fingerprint: a resume never mixes answers from different settings.

``<output>.run.json`` records the settings that decide the answers; a resume with other ones is
refused (exit 2, naming the option and --overwrite) before the CSV is touched, while settings
that only change speed or amount (concurrency, timeout, retries, --limit) resume freely.
"""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest

from globe.eval.cli import main
from globe.eval.fingerprint import (
    COMPARED_SETTINGS,
    RunSettingsMismatch,
    check_resume,
    differences,
    fingerprint_path,
    run_fingerprint,
)
from globe.eval.runner import RESULT_COLUMNS, read_output_rows
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

ROWS = [
    ("a.jpg", 48.85341, 2.3488, "France", "Paris", "<answer>country: France\ncity: Paris</answer>"),
    ("b.jpg", 35.6895, 139.69171, "Japan", "Tokyo", "<answer>country: Japan\ncity: Osaka</answer>"),
    ("c.jpg", 40.71427, -74.00597, "United States", "New York City", "<answer>country: USA\ncity: NYC</answer>"),
    ("d.jpg", -33.86785, 151.20732, "Australia", "Sydney", "<answer>country: Australia\ncity: Sydney</answer>"),
]


@pytest.fixture()
def scripted(tmp_path):
    gt_file, images, answers = write_scripted_eval_set(tmp_path, ROWS)
    return gt_file, images, answers, tmp_path / "out.csv"


def _eval(server: FakeOpenAIServer, scripted, *extra: str) -> int:
    gt_file, images, _, output = scripted
    return main(["--url", server.url, "--gt-file", str(gt_file), "--image-root", str(images), "--output", str(output),
                 "--quiet", "--no-plots", *extra])


def _half_run(scripted, *extra: str) -> None:
    """The first two rows, as a run interrupted half-way leaves them."""
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, "--limit", "2", *extra) == 0


def test_a_fresh_run_records_its_settings_beside_the_csv(scripted):
    _half_run(scripted, "--use_cot", "--temperature", "0.3", "--extra", '{"top_p": 0.9}')
    recorded = json.loads(fingerprint_path(scripted[3]).read_text())
    assert fingerprint_path(scripted[3]).name == "out.csv.run.json"
    assert (recorded["model"], recorded["use_cot"], recorded["temperature"], recorded["extra"]) == \
        ("fake-model", True, 0.3, {"top_p": 0.9})
    assert (recorded["max_tokens"], recorded["system_prompt"], recorded["geocoder"], recorded["lat_lon_swapped"]) == \
        (1024, None, "offline", False)
    assert len(recorded["gt_sha256"]) == 64 and recorded["gt_file"] == str(scripted[0].resolve())
    assert "concurrency" not in recorded and "timeout" not in recorded and "limit" not in recorded


def test_resume_with_the_same_settings_sends_only_the_missing_rows(scripted):
    _half_run(scripted, "--use_cot")
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, "--use_cot") == 0
        assert len(server.requests) == 2
    assert sorted(int(row["gt_index"]) for row in read_output_rows(scripted[3])[1]) == [0, 1, 2, 3]


def test_changing_concurrency_timeout_and_retries_still_resumes(scripted):
    _half_run(scripted, "--concurrency", "1")
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, "--concurrency", "8", "--timeout", "30", "--retries", "0") == 0
        assert len(server.requests) == 2


@pytest.mark.parametrize("first, second, named", [
    ([], ["--model", "another-model"], "--model"),
    ([], ["--use_cot"], "--use-cot"),
    (["--use_cot"], [], "--use-cot"),
    ([], ["--temperature", "0.7"], "--temperature"),
    ([], ["--max-tokens", "64"], "--max-tokens"),
    ([], ["--system-prompt", "Be brief."], "--system-prompt"),
    ([], ["--extra", '{"frequency_penalty": 0.7}'], "--extra"),
    ([], ["--released-settings"], "--released-settings sets"),
])
def test_resume_with_different_answer_settings_is_refused(scripted, capsys, first, second, named):
    _half_run(scripted, *first)
    before = scripted[3].read_bytes()
    capsys.readouterr()
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, *second) == 2
        assert not any(request.get("messages") for request in server.requests)  # nothing was asked
    error = capsys.readouterr().err
    assert named in error and "--overwrite" in error and "out.csv.run.json" in error
    assert scripted[3].read_bytes() == before  # the refused run touched nothing


def test_the_refusal_shows_old_and_new_values(scripted, capsys):
    _half_run(scripted, "--temperature", "0.2")
    capsys.readouterr()
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, "--temperature", "0.9") == 2
    assert "--temperature: 0.2 -> 0.9" in capsys.readouterr().err


def test_another_served_model_is_refused_even_without_model_option(scripted, capsys):
    _half_run(scripted)
    with FakeOpenAIServer(answers=scripted[2], model="checkpoint-2000") as server:
        assert _eval(server, scripted) == 2
    assert "--model (the served model): 'fake-model' -> 'checkpoint-2000'" in capsys.readouterr().err


def test_overwrite_starts_afresh_with_the_new_settings(scripted):
    _half_run(scripted)
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, "--temperature", "0.7", "--overwrite") == 0
        assert len(server.requests) == 4
    assert json.loads(fingerprint_path(scripted[3]).read_text())["temperature"] == 0.7
    with FakeOpenAIServer(answers=scripted[2]) as server:  # and the new settings now resume
        assert _eval(server, scripted, "--temperature", "0.7") == 0
        assert server.requests == []


def test_a_changed_ground_truth_file_is_refused(scripted, capsys):
    _half_run(scripted)
    gt_file = scripted[0]
    gt_file.write_text(gt_file.read_text().replace("48.85341", "48.86"))
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted) == 2
    assert "ground-truth file's content" in capsys.readouterr().err


def test_a_moved_but_identical_ground_truth_file_resumes(scripted):
    _half_run(scripted)
    moved = scripted[0].with_name("renamed.csv")
    scripted[0].rename(moved)
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, (moved, *scripted[1:])) == 0
        assert len(server.requests) == 2


def test_a_different_lat_lon_reading_is_refused(scripted, capsys):
    _half_run(scripted, "--swap-lat-lon", "no")
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, "--swap-lat-lon", "yes") == 2
    assert "--swap-lat-lon" in capsys.readouterr().err


def test_swap_option_spelled_differently_but_reading_the_same_resumes(scripted):
    _half_run(scripted, "--swap-lat-lon", "auto")  # nothing to detect: read as written
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, "--swap-lat-lon", "no") == 0
        assert len(server.requests) == 2


def test_an_older_csv_without_settings_file_resumes_with_a_warning(scripted, caplog):
    _half_run(scripted)
    fingerprint_path(scripted[3]).unlink()
    with FakeOpenAIServer(answers=scripted[2]) as server, caplog.at_level(logging.WARNING, logger="globe.eval"):
        assert _eval(server, scripted, "--temperature", "0.5") == 0
        assert len(server.requests) == 2
    assert "has no run settings file" in caplog.text and "--overwrite" in caplog.text
    assert json.loads(fingerprint_path(scripted[3]).read_text())["temperature"] == 0.5  # recorded from now on


def test_an_unreadable_settings_file_is_refused_with_the_way_out(scripted, capsys):
    _half_run(scripted)
    fingerprint_path(scripted[3]).write_text("{ torn")
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted) == 2
    error = capsys.readouterr().err
    assert "cannot read" in error and "--overwrite" in error


def test_a_settings_file_without_its_csv_is_a_fresh_run(scripted):
    _half_run(scripted)
    scripted[3].unlink()  # the user deleted the CSV only
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted, "--temperature", "0.4") == 0
        assert len(server.requests) == 4
    assert json.loads(fingerprint_path(scripted[3]).read_text())["temperature"] == 0.4


def test_score_subcommand_ignores_the_settings_file(scripted):
    _half_run(scripted)
    fingerprint_path(scripted[3]).write_text("{ torn")
    assert main(["score", str(scripted[3]), "--no-plots"]) == 0


def _fingerprint(tmp_path: Path, **changes) -> dict:
    gt_file = tmp_path / "gt.csv"
    if not gt_file.exists():
        gt_file.write_text("IMG_ID,LAT,LON\na.jpg,1,2\n")
    values = dict(model="m", prompt="Where?", system_prompt=None, temperature=0.0, max_tokens=1024, extra={},
                  gt_file=gt_file, lat_lon_swapped=False, use_cot=False, geocoder="offline")
    values.update(changes)
    return run_fingerprint(**values)


def test_differences_name_only_compared_settings(tmp_path):
    recorded = _fingerprint(tmp_path)
    assert differences(recorded, _fingerprint(tmp_path, image_root=tmp_path)) == {}  # informational only
    assert differences(recorded, _fingerprint(tmp_path, temperature=0)) == {}  # 0 is 0.0
    assert list(differences(recorded, _fingerprint(tmp_path, geocoder="nominatim"))) == ["geocoder"]
    # --use-cot explains the prompt text change: one line, not two
    assert list(differences(recorded, _fingerprint(tmp_path, use_cot=True, prompt="Think, then where?"))) == ["use_cot"]
    assert list(differences(recorded, _fingerprint(tmp_path, prompt="Where exactly?"))) == ["prompt"]


def test_keys_missing_from_an_older_record_are_not_compared(tmp_path):
    recorded = {key: value for key, value in _fingerprint(tmp_path).items() if key != "geocoder"}
    assert differences(recorded, _fingerprint(tmp_path, geocoder="azure")) == {}


def test_every_compared_setting_names_how_to_set_it():
    assert all(label for label in COMPARED_SETTINGS.values())
    assert set(COMPARED_SETTINGS) == {"model", "use_cot", "prompt", "system_prompt", "temperature", "max_tokens", "samples",
                                      "extra", "geocoder", "lat_lon_swapped", "gt_sha256"}


def test_check_resume_raises_a_value_error_subclass(tmp_path):
    output = tmp_path / "out.csv"
    output.write_text(",".join(RESULT_COLUMNS) + "\n")
    fingerprint_path(output).write_text(json.dumps(_fingerprint(tmp_path)))
    assert check_resume(output, _fingerprint(tmp_path)) is None
    with pytest.raises(RunSettingsMismatch, match="--max-tokens: 1024 -> 10") as raised:
        check_resume(output, _fingerprint(tmp_path, max_tokens=10))
    assert isinstance(raised.value, ValueError)


def test_resuming_a_csv_from_before_pred_level_adds_the_column(scripted):
    _half_run(scripted)
    output = scripted[3]
    header, rows, _ = read_output_rows(output)
    old_header = [name for name in header if name != "pred_level"]
    with open(output, "w", newline="", encoding="utf-8") as handle:  # as an older globe-eval wrote it
        writer = csv.DictWriter(handle, fieldnames=old_header, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    fingerprint_path(output).unlink()
    with FakeOpenAIServer(answers=scripted[2]) as server:
        assert _eval(server, scripted) == 0
        assert len(server.requests) == 2
    header, rows, clean = read_output_rows(output)
    assert clean and "pred_level" in header
    assert [(row["gt_index"], row["pred_level"]) for row in sorted(rows, key=lambda r: int(r["gt_index"]))] == \
        [("0", ""), ("1", ""), ("2", "city"), ("3", "city")]
    summary = json.loads(output.with_suffix(".json").read_text())
    assert summary["n"] == 4 and summary["n_country_level"] == 0 and summary["acc_25km"] == 0.75
