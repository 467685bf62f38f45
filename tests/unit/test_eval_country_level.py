"""A prediction placed only at country level never counts at 1 km or 25 km, wherever its point lies.

The country reference point is globe.geo's to choose (and may move), so every ground truth here is
built at test time a fixed distance from wherever ``globe.geo`` puts the predicted place.
"""
from __future__ import annotations

import csv
import json

import pytest
from geopy.distance import geodesic

from globe.eval.cli import main
from globe.eval.runner import read_output_rows
from globe.geo import distance_km, resolve, reverse
from tests.support.fake_openai import FakeOpenAIServer, write_scripted_eval_set

OFFSET_KM = 5.0


def _five_km_east_of(country: str, city: str | None) -> tuple[float, float]:
    place = resolve(country, city)
    point = geodesic(kilometers=OFFSET_KM).destination((place.lat, place.lon), bearing=90)
    return point.latitude, point.longitude


def _truth_row(image: str, country: str, city: str | None, answer: str) -> tuple:
    lat, lon = _five_km_east_of(country, city)
    return (image, lat, lon, country, reverse(lat, lon).name, answer)


@pytest.fixture()
def run(tmp_path):
    """A run with two country-level answers and one city answer, each 5 km from the truth."""
    assert resolve("France", None).level == "country" and resolve("France", "Paris").level == "city"
    assert resolve("France", "Blorptown").level == "country"  # a city no gazetteer knows
    rows = [
        _truth_row("country_only.jpg", "France", None, "<answer>country: France</answer>"),
        _truth_row("unknown_city.jpg", "France", "Blorptown", "<answer>country: France\ncity: Blorptown</answer>"),
        _truth_row("city.jpg", "France", "Paris", "<answer>country: France\ncity: Paris</answer>"),
    ]
    gt_file, images, answers = write_scripted_eval_set(tmp_path, rows)
    output = tmp_path / "out.csv"
    with FakeOpenAIServer(answers=answers) as server:
        assert main(["--url", server.url, "--gt-file", str(gt_file), "--image-root", str(images),
                     "--output", str(output), "--quiet", "--no-plots"]) == 0
    return output


def test_each_answer_is_5_km_from_its_truth(run):
    rows = read_output_rows(run)[1]
    assert [row["status"] for row in rows] == ["ok"] * 3
    assert [float(row["error_km"]) for row in rows] == pytest.approx([OFFSET_KM] * 3, abs=1e-6)
    placed = [distance_km((float(row["gt_lat"]), float(row["gt_lon"])), (float(row["pred_lat"]), float(row["pred_lon"])))
              for row in rows]
    assert placed == pytest.approx([OFFSET_KM] * 3, abs=1e-6)


def test_csv_records_the_level_of_each_prediction(run):
    levels = {row["IMG_ID"]: (row["pred_city"], row["pred_level"]) for row in read_output_rows(run)[1]}
    assert levels == {"country_only.jpg": ("", "country"), "unknown_city.jpg": ("Blorptown", "country"),
                      "city.jpg": ("Paris", "city")}


def test_country_level_answers_count_at_200_km_but_not_at_25_km(run):
    summary = json.loads(run.with_suffix(".json").read_text())
    assert summary["n_country_level"] == 2
    assert (summary["acc_1km"], summary["acc_25km"]) == (0.0, 1 / 3)  # only the city answer
    assert (summary["acc_200km"], summary["acc_750km"], summary["acc_2500km"]) == (1.0, 1.0, 1.0)
    assert summary["median_km"] == pytest.approx(OFFSET_KM, abs=1e-6)  # distance as measured
    assert summary["by_country"]["France"]["acc_25km"] == 1 / 3


def test_printed_table_reports_country_level_answers(run, capsys):
    assert main(["score", str(run), "--no-plots"]) == 0
    assert "country-level only: 2" in capsys.readouterr().out


@pytest.mark.parametrize("options", [[], ["--reresolve"]])
def test_rescoring_keeps_the_rule(run, options):
    run_summary = json.loads(run.with_suffix(".json").read_text())
    assert main(["score", str(run), "--no-plots", *options]) == 0
    rescored = json.loads(run.with_suffix(".json").read_text())
    keys = ("n_country_level", "acc_1km", "acc_25km", "acc_200km", "median_km", "geoscore", "by_country")
    assert {key: rescored[key] for key in keys} == {key: run_summary[key] for key in keys}


def test_a_csv_without_pred_level_guesses_from_the_names(run):
    """Older CSVs: country-level when pred_country is set and pred_city empty, else city-level."""
    header, rows, _ = read_output_rows(run)
    legacy = run.with_name("legacy.csv")
    columns = [name for name in header if name != "pred_level"]
    with open(legacy, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assert main(["score", str(legacy), "--no-plots"]) == 0
    summary = json.loads(legacy.with_suffix(".json").read_text())
    # "France / Blorptown" has a city name, so without the column it reads as city-level
    assert summary["n_country_level"] == 1 and summary["acc_25km"] == 2 / 3
