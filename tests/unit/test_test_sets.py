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
from globe.eval.data import GroundTruthError, load_ground_truth
from globe.runfiles import read_jsonl
from tests.support.fake_openai import FakeOpenAIServer, image_marker

from distributed_sets import (  # tests/unit is on sys.path
    FIXTURES, PLACES, PLACES365_HEADER, coordinates, im2gps, write_csv, write_image, yfcc4k_info_txt, yfcc4k_places365)

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


# -- a file given without --layout: its layout detected from its header, its name, or its lines --

#: OSV-5M's test.csv header as distributed (its columns beyond those GLOBE reads included).
OSV5M_TEST_HEADER = ["id", "latitude", "longitude", "thumb_original_url", "country", "sequence", "captured_at",
                     "lon_bin", "lat_bin", "cell", "land_cover", "road_index", "drive_side", "climate", "soil",
                     "dist_sea", "region", "sub-region", "city", "unique_city", "unique_sub-region", "unique_region",
                     "unique_country", "quadtree_10_5000", "quadtree_10_25000", "quadtree_10_1000",
                     "quadtree_10_50000", "quadtree_10_12500", "quadtree_10_500", "quadtree_10_2500",
                     "creator_username", "creator_id"]


def test_osv5m_test_csv_header_is_detected_and_its_codes_expanded(tmp_path):
    helsinki = ["91000", 60.1699, 24.9384, "http://t", "FI", *[""] * 11, "Uusimaa", "", "Helsinki", *[""] * 13]
    path = write_csv(tmp_path / "test.csv", OSV5M_TEST_HEADER, [helsinki])
    assert layouts.detect_file_layout(path) == "osv5m"
    gt = load_ground_truth(path, tmp_path, layout="auto")
    assert gt.layout.name == "osv5m" and (gt.rows[0].country, gt.rows[0].city) == ("Finland", "Helsinki")


@pytest.mark.parametrize(("file_name", "expected"), [
    ("yfcc4k_places365.csv", "yfcc4k"), ("yfcc25600_places365.csv", "yfcc26k"), ("im2gps_places365.csv", "im2gps"),
    ("img2gps3k_gt.csv", "im2gps3k"), ("my_copy.csv", "im2gps3k"),  # an unknown name: the shared places365 reading
])
def test_a_places365_header_takes_the_layout_the_catalog_names_for_its_file(tmp_path, file_name, expected):
    path = write_csv(tmp_path / file_name, PLACES365_HEADER, [["1.jpg", "a", 1.0, 2.0, 1, 2, 3, 0.1, 0.2, 0.7]])
    assert layouts.detect_file_layout(path) == expected


def test_a_known_file_name_never_overrides_a_header_that_reads_differently(tmp_path):
    # An MP16-style file saved as test.csv: OSV-5M's file name, but names (not codes) and MP16 ids.
    path = write_csv(tmp_path / "test.csv", ["IMG_ID", "LAT", "LON", "city", "country"],
                     [["7e_c3_1.jpg", 41.9, 12.5, "Rome", "IT"]])
    assert layouts.detect_file_layout(path) == "mp16-reason"


def test_im2gps_given_by_gt_file_without_layout_still_finds_its_prefixed_images(tmp_path):
    root = tmp_path / "data"
    ids = im2gps(root)
    gt = load_ground_truth(root / "im2gps_places365.csv", root / "gps_query_imgs", layout="auto",
                           reverse_geocode=lambda lats, lons: [("X", "Y")] * len(lats))
    assert gt.layout.name == "im2gps"
    assert [gt.image_path(row.image_id).is_file() for row in gt.rows] == [True] * len(ids)


def test_yfcc100m_info_lines_are_recognised_without_a_header(tmp_path):
    root = tmp_path / "data"
    ids = yfcc4k_info_txt(root)
    assert layouts.detect_file_layout(root / "yfcc4k" / "info.txt") == "yfcc100m-info"
    gt = load_ground_truth(root / "yfcc4k" / "info.txt", root / "yfcc4k" / "images", layout="auto")
    assert [row.image_id for row in gt.rows] == ids
    assert [(row.country, row.city) for row in gt.rows] == [(country, city) for _, country, city, _, _ in PLACES]


@pytest.mark.parametrize("first_line", [
    "0\t8000000\thash\t12@N00\tnick\t2010\t1262304000\tCanon\ttitle\tdesc\ttags\t\t\t\t16",  # no coordinates
    "0\tabc\thash\t12@N00\tnick\t2010\t1262304000\tCanon\ttitle\tdesc\ttags\t\t2.35\t48.85\t16",  # no numeric id
    "IMG_ID\tLAT\tLON",  # a tab-separated header
])
def test_an_ambiguous_tab_separated_file_asks_for_the_yfcc100m_layout_by_name(tmp_path, capsys, first_line):
    path = tmp_path / "info.txt"
    path.write_text(first_line + "\n", encoding="utf-8")
    with pytest.raises(GroundTruthError, match=r"pass --layout yfcc100m-info"):
        load_ground_truth(path, tmp_path, layout="auto")
    assert data_main(["validate", "--csv", str(path), "--image-root", str(tmp_path), "--no-progress"]) != 0
    assert "--layout yfcc100m-info" in capsys.readouterr().err
