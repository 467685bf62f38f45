"""`globe-data leakage` reads the JSONL files `globe-data convert` writes (the registered datasets' own files)."""
from __future__ import annotations

import csv

import pytest

from globe.data.cli import main as data_main
from globe.data.leakage import audit, read_image_list
from tests.support.photos import near_copy, photo_like, write_photos


def _convert(csv_path, images, out) -> None:
    assert data_main(["convert", "--csv", str(csv_path), "--image-root", str(images), "--out", str(out),
                      "--no-progress", "--image-check", "exists"]) == 0


def _gt_csv(path, names) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["IMG_ID", "LAT", "LON", "country", "city"])
        writer.writerows([[name, 48.85, 2.35, "France", "Paris"] for name in names])


def test_planted_copies_are_found_between_two_convert_jsonl_files(tmp_path, capsys):
    train = write_photos(tmp_path / "train_images", range(12), size=(320, 240))
    _gt_csv(tmp_path / "train.csv", [path.name for path in train])
    test_dir = tmp_path / "eval_images"
    test_dir.mkdir()
    (test_dir / "copy_a.jpg").write_bytes(near_copy(photo_like(3, (320, 240)), "resized"))
    (test_dir / "copy_b.jpg").write_bytes(near_copy(photo_like(7, (320, 240)), "recompressed"))
    fresh = write_photos(test_dir, range(500, 504), prefix="new", size=(320, 240))
    _gt_csv(tmp_path / "test.csv", ["copy_a.jpg", "copy_b.jpg", *(path.name for path in fresh)])
    data = tmp_path / "data"
    _convert(tmp_path / "train.csv", tmp_path / "train_images", data / "train.jsonl")
    _convert(tmp_path / "test.csv", test_dir, data / "test.jsonl")

    listed = read_image_list(data / "train.jsonl")
    assert [image_id for image_id, _ in listed] == [path.name for path in train]
    assert all(path.is_file() for _, path in listed)  # relative image paths read from the JSONL's folder

    report = audit(data / "train.jsonl", data / "test.jsonl", tmp_path / "pairs.csv", workers=1, progress=False)
    with open(tmp_path / "pairs.csv", newline="") as handle:
        leaking = {row["test_id"]: row["train_id"] for row in csv.DictReader(handle) if row["leak"] == "1"}
    assert leaking == {"copy_a.jpg": "p000003.jpg", "copy_b.jpg": "p000007.jpg"}
    assert (report.n_test, report.n_leaking, report.n_train) == (6, 2, 12)
    assert data_main(["leakage", "--train", str(data / "train.jsonl"), "--test", str(data / "test.jsonl"),
                      "--out", str(tmp_path / "cli.csv"), "--no-progress", "--workers", "1"]) == 0
    assert "2 of 6 test images leak" in capsys.readouterr().out


def test_a_jsonl_line_that_is_not_a_row_is_named(tmp_path):
    bad = tmp_path / "rows.jsonl"
    bad.write_text('{"image_id": "a.jpg", "images": ["a.jpg"]}\nnot json\n')
    with pytest.raises(ValueError, match=r"rows\.jsonl.*line 2|rows\.jsonl:2"):
        read_image_list(bad)
