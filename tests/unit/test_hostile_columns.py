"""Odd dataset columns: entities nested 5,000 deep and a latitude of 10**400.

Each reader ends with a per-row status or a neutral value, never RecursionError or OverflowError.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from globe.data.convert import ConvertOptions, convert
from globe.data.fields import FieldError, parse_coordinate, parse_entities
from globe.data.swift_rows import coordinates
from globe.eval.score import scored_rows
from globe.rewards import distance_reward, entity_texts, visual_match_reward
from globe.runfiles import read_jsonl

DEEP_ENTITIES = "[" * 5000 + "]" * 5000
HUGE_LAT = 10**400
ANSWER = "<think>The Eiffel Tower.</think><answer>country: France\ncity: Paris</answer>"


def test_entities_nested_too_deep_parse_as_unreadable_not_recursion_error():
    assert parse_entities(DEEP_ENTITIES) == ([], False)


def test_an_integer_latitude_too_large_for_a_float_is_a_field_error():
    with pytest.raises(FieldError, match="lat=10000000000000000000... is too large") as caught:
        parse_coordinate(HUGE_LAT, "lat")
    assert caught.value.reason == "non_numeric_coords"


def test_a_dataset_row_with_a_huge_integer_latitude_has_no_coordinates():
    assert coordinates({"lat": HUGE_LAT, "lon": 2.35}) == (None, None)


def test_rewards_score_a_huge_latitude_and_deep_entities_as_unusable_truth():
    assert distance_reward(ANSWER, HUGE_LAT, 2.35) == 0.0
    assert entity_texts(DEEP_ENTITIES) == [DEEP_ENTITIES]  # not JSON it can read: one opaque entity
    assert visual_match_reward(ANSWER, DEEP_ENTITIES) == 0.0


def test_rescoring_a_csv_cell_holding_a_huge_number_treats_it_as_missing():
    (row,) = scored_rows([{"LAT": "1" + "0" * 400, "LON": "2.35", "country": "France", "city": "Paris",
                           "prediction": ANSWER}])
    assert row["gt_lat"] is None and row["error_km"] is None and row["status"] == "ok"


def test_convert_keeps_a_row_with_deep_entities_and_drops_one_with_a_huge_latitude(tmp_path: Path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("deep.jpg", "huge.jpg"):
        Image.new("RGB", (8, 8), (10, 20, 30)).save(images / name, format="JPEG")
    with open(tmp_path / "gt.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["IMG_ID", "LAT", "LON", "city", "country", "entities"])
        writer.writerow(["deep.jpg", 48.85, 2.35, "Paris", "France", DEEP_ENTITIES])
        writer.writerow(["huge.jpg", "1" + "0" * 400, 2.35, "Paris", "France", json.dumps([{"text": "x"}])])
    report = convert(tmp_path / "gt.csv", tmp_path / "out.jsonl",
                     ConvertOptions(image_root=images, progress=False, workers=1))
    assert [row["image_id"] for row in read_jsonl(tmp_path / "out.jsonl")] == ["deep.jpg"]
    assert report.rows_read == 2 and report.kept == 1
    assert dict(report.dropped) == {"non_numeric_coords": 1}
    assert report.warnings["entities_unparsed"] == 1


def test_a_distill_ground_truth_row_with_a_huge_latitude_keeps_its_names_and_loses_its_point(tmp_path: Path):
    from globe.distill.inputs import iter_ground_truth

    gt = tmp_path / "gt.jsonl"
    gt.write_text(
        '{"image_id": "a", "images": ["a.jpg"], "country": "France", "city": "Paris", "lat": 1' + "0" * 400
        + ', "lon": 2.35}\n{"image_id": "b", "images": ["b.jpg"], "country": "Japan", "city": "Tokyo", '
        '"lat": 35.68, "lon": 139.69}\n',
        encoding="utf-8",
    )
    rows = list(iter_ground_truth(gt))
    assert [(r.image_id, r.country, r.lat, r.lon) for r in rows] == [
        ("a", "France", None, None),
        ("b", "Japan", 35.68, 139.69),
    ]
