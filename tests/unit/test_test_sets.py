"""The field's test sets (yfcc4k, im2gps, yfcc26k, osv5m-test): each one catalog entry plus one layout,
read alike by `globe-eval --dataset NAME` and `globe-data`, on fixtures in each set's distributed layout."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from globe import catalog
from globe.catalog import DatasetEntry, ids_fingerprint, ground_truth_source
from globe.data import layouts
from globe.data.cli import main as data_main
from globe.data.layouts import Layout, im2gps_file_id
from globe.eval.cli import main as eval_main
from globe.runfiles import read_jsonl
from globe.testing.fake_openai import FakeOpenAIServer, image_marker

from distributed_sets import (  # tests/unit is on sys.path
    FIXTURES, PLACES, coordinates, im2gps, write_csv, write_image, yfcc4k_info_txt, yfcc4k_places365)

EXPECTED = {"n": 4, "n_failed": 0, "acc_1km": 0.5, "acc_25km": 0.5, "acc_200km": 0.5, "acc_750km": 0.75,
            "acc_2500km": 0.75, "country_acc": 0.75, "city_acc": 0.5}


def _answers() -> dict[str, str]:
    return {image_marker(key): answer for key, _, _, _, answer in PLACES}


def _evaluate(root: Path, dataset: str, output: Path, *extra: str) -> tuple[dict, list[dict[str, str]]]:
    with FakeOpenAIServer(answers=_answers(), default_answer="no idea") as server:
        assert eval_main(["--url", server.url, "--dataset", dataset, "--data-root", str(root), "--output",
                          str(output), "--quiet", "--no-plots", *extra]) == 0
    with open(output, newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["gt_index"]))  # written as they finish
    return json.loads(output.with_suffix(".json").read_text()), rows


@pytest.mark.parametrize("fixture", list(FIXTURES))
def test_each_set_evaluates_from_its_distributed_layout_with_exact_metrics(fixture, tmp_path):
    root = tmp_path / "data"
    FIXTURES[fixture](root)
    dataset = fixture.removesuffix("-info")
    summary, rows = _evaluate(root, dataset, tmp_path / "out.csv")
    assert {key: summary[key] for key in EXPECTED} == EXPECTED
    assert summary["status_counts"] == {"no_answer": 1, "ok": 3}  # every image found: none missing
    assert summary["dataset"] == dataset and summary["threshold_rule"] == "le"
    assert summary["layout"] == ground_truth_source(dataset, root)[2]
    # Truth as names: ISO codes expanded, names reverse geocoded where the file has none or a cell is empty.
    assert [(row["gt_country"], row["gt_city"]) for row in rows] == [
        ("France", "Paris"), ("Japan", "Tokyo"), ("United States", "New York City"), ("Australia", "Sydney")]
    # Rescoring keeps the run's test set (from its run record), so `globe-eval compare` still knows it.
    assert eval_main(["score", str(tmp_path / "out.csv"), "--no-plots"]) == 0
    rescored = json.loads((tmp_path / "out.json").read_text())
    assert rescored["dataset"] == dataset and {key: rescored[key] for key in EXPECTED} == EXPECTED


def test_yfcc4k_reads_the_places365_csv_first_and_the_info_txt_when_that_is_all_there_is(tmp_path):
    root = tmp_path / "data"
    yfcc4k_info_txt(root)
    assert ground_truth_source("yfcc4k", root) == (root / "yfcc4k/info.txt", root / "yfcc4k/images", "yfcc100m-info")
    yfcc4k_places365(root)
    assert ground_truth_source("yfcc4k", root) == (root / "yfcc4k_places365.csv", root / "yfcc4k", "yfcc4k")


@pytest.mark.parametrize("fixture", ["yfcc4k-info", "im2gps", "osv5m-test"])
def test_globe_data_converts_each_set_through_the_same_layout(fixture, tmp_path, capsys):
    root = tmp_path / "data"
    FIXTURES[fixture](root)
    out = tmp_path / "set.jsonl"
    assert data_main(["convert", "--dataset", fixture.removesuffix("-info"), "--data-root", str(root), "--out",
                      str(out), "--no-progress", "--fill-missing"]) == 0
    written = read_jsonl(out)
    assert [(row["country"], row["city"]) for row in written] == [
        ("France", "Paris"), ("Japan", "Tokyo"), ("United States", "New York City"), ("Australia", "Sydney")]
    assert all((out.parent / row["images"][0]).is_file() for row in written)


def test_validate_prints_row_count_and_id_fingerprint_and_compares_them_with_the_standard(tmp_path, capsys,
                                                                                          monkeypatch):
    root = tmp_path / "data"
    ids = im2gps(root)
    # The catalog's standard IM2GPS has 237 rows: a 4-row file is reported as different, exit 1.
    assert data_main(["validate", "--dataset", "im2gps", "--data-root", str(root), "--no-progress"]) == 1
    printed = capsys.readouterr().out
    assert ids_fingerprint(ids) in printed
    assert "rows DIFFERS (standard file: 237 rows, this file: 4)" in printed
    assert "id fingerprint not recorded" in printed
    # A standard that this file is (rows and ids) validates.
    entry = catalog.find_dataset("im2gps")
    monkeypatch.setattr(catalog, "TEST_SETS", tuple(
        DatasetEntry(**{**vars(e), "expected_rows": 4, "expected_ids_sha256": ids_fingerprint(reversed(ids))})
        if e is entry else e for e in catalog.TEST_SETS))
    assert data_main(["validate", "--dataset", "im2gps", "--data-root", str(root), "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ids_fingerprint"] == ids_fingerprint(ids)
    assert report["standard"] == {"dataset": "im2gps", "expected_rows": 4, "rows_match": True,
                                  "expected_ids_fingerprint": ids_fingerprint(ids), "ids_match": True}


def test_the_id_fingerprint_ignores_order_and_sees_one_changed_id():
    assert ids_fingerprint(["b", "a", "c"]) == ids_fingerprint(["a", "c", "b"])
    assert ids_fingerprint(["a", "b", "c"]) != ids_fingerprint(["a", "b", "d"])
    assert ids_fingerprint(["a", "b"]) != ids_fingerprint(["a", "b", "b"])


@pytest.mark.parametrize("name, expected", [
    ("Rome_00024_231521295_a1b2c3d4e5_66_12345678@N00.jpg", "231521295_a1b2c3d4e5_66_12345678@N00.jpg"),
    ("New_York_00012_1234_ab_1_1@N00.jpg", "1234_ab_1_1@N00.jpg"),
    ("231521295_a1b2c3d4e5_66_12345678@N00.jpg", None),  # already a bare id
    ("notes.txt", None),
])
def test_im2gps_file_names_carry_their_flickr_id_after_the_place_and_number(name, expected):
    assert im2gps_file_id(name) == expected


def test_a_new_test_set_needs_one_catalog_entry_and_one_layout(tmp_path, monkeypatch, capsys):
    """A made-up set: semicolon-separated, its own column names, country names in a 'nation' column,
    ids that name images as ``shots/IMG-<id>.png``; nothing but the two registrations is added."""
    layout = Layout("myset", required=("id", "lat", "lon"), image_names=lambda image_id: [f"IMG-{image_id}.png"],
                    aliases={"id": ("shot",), "lat": ("y_deg",), "lon": ("x_deg",), "country": ("nation",)},
                    table=layouts.TableFormat(delimiter=";"), description="a made-up set")
    entry = DatasetEntry("myset", "eval", ("GLOBE_MYSET",), "myset.jsonl", "shots", "a made-up test set",
                         released_csv="myset.csv", split="test", layout="myset", expected_rows=4)
    monkeypatch.setitem(layouts.LAYOUTS, "myset", layout)
    monkeypatch.setattr(catalog, "DATASETS", (*catalog.DATASETS, entry))
    monkeypatch.setattr(catalog, "TEST_SETS", (*catalog.TEST_SETS, entry))

    root = tmp_path / "data"
    lines = ["shot;y_deg;x_deg;nation;town"]
    for index, (key, country, city, _, _) in enumerate(PLACES):
        lat, lon = coordinates(country, city)
        lines.append(f"{index:03d};{lat};{lon};{country};{'' if key == 'tokyo' else city}")
        write_image(root / "shots", f"IMG-{index:03d}.png", key)
    root.mkdir(parents=True, exist_ok=True)
    (root / "myset.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary, rows = _evaluate(root, "myset", tmp_path / "out.csv")
    assert {key: summary[key] for key in EXPECTED} == EXPECTED and summary["status_counts"] == {"no_answer": 1, "ok": 3}
    assert [row["gt_country"] for row in rows] == ["France", "Japan", "United States", "Australia"]
    assert data_main(["validate", "--dataset", "myset", "--data-root", str(root), "--no-progress",
                      "--image-check", "exists"]) == 0
    printed = capsys.readouterr().out
    assert "rows matches" in printed and ids_fingerprint(["000", "001", "002", "003"]) in printed


def test_eval_reads_country_cells_as_the_layout_says_not_as_iso_codes_everywhere(tmp_path):
    """Only a layout whose country cells are ISO codes (OSV-5M) expands them; a names layout keeps its cells."""
    from globe.eval.data import load_ground_truth

    gt = write_csv(tmp_path / "gt.csv", ["IMG_ID", "LAT", "LON", "country", "city"],
                    [["a.jpg", 46.2, 6.14, "CH", "Geneva"]])
    assert load_ground_truth(gt, tmp_path, layout="mp16-reason").rows[0].country == "CH"
    osv = write_csv(tmp_path / "test.csv", ["id", "latitude", "longitude", "country", "city"],
                     [["1", 46.2, 6.14, "CH", "Geneva"]])
    assert load_ground_truth(osv, tmp_path, layout="osv5m").rows[0].country == "Switzerland"
