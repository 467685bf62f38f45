"""Specification of the evaluator's LAT/LON header-swap handling (an old IM2GPS3K commit swapped them).

Detection is globe-data's own (``globe.data.convert.detect_swap``): the evaluator and the data CLI
must read the same file the same way.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from globe.eval.cli import build_run_parser, main
from globe.eval.data import load_ground_truth
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

# (image, true lat, true lon, country, city, the model's answer); three longitudes lie beyond +-90,
# enough for detect_swap (at least 3 rows, 1 % of those read, none with |LON| > 90 once swapped).
TRUTH = [
    ("paris.jpg", 48.85341, 2.3488, "France", "Paris", "<answer>country: France\ncity: Paris</answer>"),
    ("tokyo.jpg", 35.6895, 139.69171, "Japan", "Tokyo", "<answer>country: Japan\ncity: Tokyo</answer>"),
    ("sydney.jpg", -33.86785, 151.20732, "Australia", "Sydney", "<answer>country: Australia\ncity: Sydney</answer>"),
    ("la.jpg", 34.05223, -118.24368, "United States", "Los Angeles",
     "<answer>country: United States\ncity: Los Angeles</answer>"),
]
EVIDENCE = "of the first 4 rows, 3 have |LAT| > 90 and 0 have |LON| > 90"


def _swapped_csv(path: Path) -> Path:
    """The IM2GPS3K layout with the header's LAT and LON swapped: ``LON`` holds latitudes."""
    lines = ["IMG_ID,AUTHOR,LON,LAT"] + [f"{name},someone,{lat},{lon}" for name, lat, lon, *_ in TRUTH]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_swapped_header_is_detected_and_read_the_right_way_round(tmp_path):
    gt = load_ground_truth(_swapped_csv(tmp_path / "img2gps3k_gt.csv"), tmp_path)
    assert gt.lat_lon_swapped is True
    assert gt.swap_evidence == EVIDENCE
    assert [(row.lat, row.lon, row.problem) for row in gt.rows] == [(lat, lon, None) for _, lat, lon, *_ in TRUTH]
    assert gt.column_map["lat"] == "LON" and gt.column_map["lon"] == "LAT"
    assert gt.rows[0].raw["LON"] == "48.85341"  # the original columns stay as written


def test_reverse_geocoding_uses_the_corrected_coordinates(tmp_path):
    gt = load_ground_truth(_swapped_csv(tmp_path / "gt.csv"), tmp_path)
    assert [(row.country, row.city) for row in gt.rows] == [(country, city) for _, _, _, country, city, _ in TRUTH]


def test_swap_no_reads_the_header_literally(tmp_path):
    gt = load_ground_truth(_swapped_csv(tmp_path / "gt.csv"), tmp_path, swap_lat_lon="no")
    assert (gt.lat_lon_swapped, gt.swap_evidence) == (False, "--swap-lat-lon no")
    assert [row.problem for row in gt.rows] == [
        None, "LAT=139.69171 is outside [-90, 90]", "LAT=151.20732 is outside [-90, 90]",
        "LAT=-118.24368 is outside [-90, 90]",
    ]
    assert (gt.rows[0].lat, gt.rows[0].lon) == (2.3488, 48.85341)


def test_swap_yes_forces_it_on_a_file_that_looks_right(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("IMG_ID,LAT,LON\na.jpg,10.5,20.25\n", encoding="utf-8")
    gt = load_ground_truth(path, tmp_path, swap_lat_lon="yes")
    assert (gt.lat_lon_swapped, gt.swap_evidence) == (True, "--swap-lat-lon yes")
    assert (gt.rows[0].lat, gt.rows[0].lon) == (20.25, 10.5)


def test_a_correct_worldwide_file_is_not_swapped(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("IMG_ID,LAT,LON\n" + "".join(f"{name},{lat},{lon}\n" for name, lat, lon, *_ in TRUTH),
                    encoding="utf-8")
    gt = load_ground_truth(path, tmp_path)
    assert gt.lat_lon_swapped is False
    assert gt.swap_evidence == "of the first 4 rows, 0 have |LAT| > 90 and 3 have |LON| > 90"
    assert [(row.lat, row.lon) for row in gt.rows] == [(lat, lon) for _, lat, lon, *_ in TRUTH]


def test_a_swapped_row_names_the_column_its_bad_value_came_from(tmp_path):
    path = _swapped_csv(tmp_path / "gt.csv")
    path.write_text(path.read_text() + "bad.jpg,someone,12.5,200\n", encoding="utf-8")
    gt = load_ground_truth(path, tmp_path)
    assert gt.lat_lon_swapped is True
    assert gt.rows[-1].problem == "LAT=200.0 is outside [-180, 180]"  # LAT holds the longitudes


def test_an_unknown_swap_choice_is_refused(tmp_path):
    with pytest.raises(ValueError, match="swap_lat_lon='maybe': choose one of auto, yes, no"):
        load_ground_truth(_swapped_csv(tmp_path / "gt.csv"), tmp_path, swap_lat_lon="maybe")


# ----------------------------------------------------------------------------- the CLI


def test_the_option_defaults_to_auto_and_accepts_both_spellings():
    parser = build_run_parser()
    assert parser.parse_args(["--output", "o"]).swap_lat_lon == "auto"
    assert parser.parse_args(["--output", "o", "--swap_lat_lon", "no"]).swap_lat_lon == "no"
    with pytest.raises(SystemExit):
        parser.parse_args(["--output", "o", "--swap-lat-lon", "maybe"])


@pytest.fixture()
def swapped_eval_set(tmp_path):
    """A scripted eval set whose CSV has LAT/LON swapped (longitudes under LAT), and its answers."""
    gt_file, images, answers = write_scripted_eval_set(
        tmp_path, [(name, lon, lat, country, city, answer) for name, lat, lon, country, city, answer in TRUTH])
    return gt_file, images, answers


def _run(url: str, gt_file: Path, images: Path, output: Path, *extra: str) -> int:
    return main(["--url", url, "--gt-file", str(gt_file), "--image-root", str(images), "--output", str(output),
                 "--quiet", "--no-plots", *extra])


def _output_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return sorted(csv.DictReader(handle), key=lambda row: int(row["gt_index"]))


def test_cli_reports_the_swap_and_scores_with_the_right_coordinates(swapped_eval_set, tmp_path, capsys):
    gt_file, images, answers = swapped_eval_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        assert _run(server.url, gt_file, images, output) == 0
    assert f"note: {gt_file}: header LAT/LON swapped, values read the other way round ({EVIDENCE})" \
        in capsys.readouterr().out
    summary = json.loads(output.with_suffix(".json").read_text())
    assert (summary["lat_lon_swapped"], summary["swap_evidence"]) == (True, EVIDENCE)
    assert summary["n"] == 4 and summary["acc_1km"] == 1.0
    assert [(float(row["gt_lat"]), float(row["gt_lon"])) for row in _output_rows(output)] == [
        (lat, lon) for _, lat, lon, *_ in TRUTH]


def test_rescoring_a_swapped_run_keeps_the_corrected_truth(swapped_eval_set, tmp_path):
    gt_file, images, answers = swapped_eval_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        _run(server.url, gt_file, images, output)
    assert main(["score", str(output), "--no-plots"]) == 0  # gt_lat/gt_lon win over the raw, swapped LAT/LON
    assert json.loads(output.with_suffix(".json").read_text())["acc_1km"] == 1.0


def test_cli_swap_no_leaves_the_header_as_written(swapped_eval_set, tmp_path, capsys):
    gt_file, images, answers = swapped_eval_set
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        assert _run(server.url, gt_file, images, output, "--swap-lat-lon", "no") == 0
    assert "swapped" not in capsys.readouterr().out
    summary = json.loads(output.with_suffix(".json").read_text())
    assert (summary["lat_lon_swapped"], summary["swap_evidence"]) == (False, "--swap-lat-lon no")
    assert [row["status"] for row in _output_rows(output)] == ["ok", "bad_row", "bad_row", "bad_row"]
