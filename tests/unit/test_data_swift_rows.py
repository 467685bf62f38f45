"""``to_swift_row``: the exact ms-swift row each GLOBE task gets from a converted or a released row."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from globe.data.swift_rows import to_swift_row
from globe.prompts import LOCATABILITY_SYSTEM_PROMPT, format_answer, geo_prompt


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "train_images").mkdir()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(tmp_path / "train_images" / "7e_c3_8163912402.jpg", format="JPEG")
    return tmp_path


def converted_row(**overrides):
    row = {"image_id": "7e_c3_8163912402.jpg", "images": ["train_images/7e_c3_8163912402.jpg"],
           "country": "Italy", "city": "Rome", "lat": 41.9028, "lon": 12.4964, "solution": "Italy\tRome",
           "entities": [{"text": "Colosseum"}], "reasoning": "A ruined amphitheatre of travertine.",
           "locatable": "yes"}
    row.update(overrides)
    return row


def test_grpo_row_is_prompt_only_and_keeps_the_reward_columns(folder: Path) -> None:
    row = to_swift_row(converted_row(), "grpo", base_dir=str(folder))
    assert row == {
        "messages": [{"role": "user", "content": "<image>" + geo_prompt(True)}],
        "images": [str(folder / "train_images" / "7e_c3_8163912402.jpg")],
        "image_id": "7e_c3_8163912402.jpg",
        "solution": "Italy\tRome",
        "country": "Italy",
        "city": "Rome",
        "lat": 41.9028,
        "lon": 12.4964,
        "entities": [{"text": "Colosseum"}],
    }


def test_sft_row_targets_think_then_answer(folder: Path) -> None:
    row = to_swift_row(converted_row(), "sft", base_dir=str(folder))
    assert row["messages"] == [
        {"role": "user", "content": "<image>" + geo_prompt(True)},
        {"role": "assistant", "content": format_answer("Italy", "Rome", "A ruined amphitheatre of travertine.")},
    ]
    assert row["messages"][1]["content"] == ("<think>A ruined amphitheatre of travertine.</think>"
                                             "<answer>country: Italy\ncity: Rome</answer>")


def test_rm_row_asks_the_locatability_question(folder: Path) -> None:
    row = to_swift_row(converted_row(locatable="no"), "rm", base_dir=str(folder))
    assert row["messages"] == [
        {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT},
        {"role": "user", "content": "<image>A ruined amphitheatre of travertine."},
        {"role": "assistant", "content": "no"},
    ]
    assert row["locatable"] == "no"


def test_eval_row_matches_the_training_prompt(folder: Path) -> None:
    grpo = to_swift_row(converted_row(), "grpo", base_dir=str(folder))
    assert to_swift_row(converted_row(), "eval", base_dir=str(folder)) == grpo


@pytest.mark.parametrize(
    ("task", "overrides"),
    [("sft", {"reasoning": None}), ("rm", {"reasoning": ""}), ("rm", {"locatable": None}),
     ("grpo", {"country": "", "solution": "\t"}), ("eval", {"images": ["train_images/missing.jpg"]})],
)
def test_rows_a_task_cannot_use_are_dropped(folder: Path, task: str, overrides: dict) -> None:
    assert to_swift_row(converted_row(**overrides), task, base_dir=str(folder)) is None


def test_a_released_row_is_read_directly(folder: Path) -> None:
    released = {"IMG_ID": "7e_c3_8163912402.jpg", "LAT": "41.9028", "LON": "12.4964",
                "response": "Arches of travertine.", "solution": "<country>Italy</country><city>Rome</city>",
                "entities": '[{"text": "Colosseum"}]'}
    row = to_swift_row(released, "sft", base_dir=str(folder), image_dir=str(folder / "train_images"))
    assert row["images"] == [str(folder / "train_images" / "7e_c3_8163912402.jpg")]
    assert (row["country"], row["city"], row["solution"]) == ("Italy", "Rome", "Italy\tRome")
    assert (row["lat"], row["lon"]) == (41.9028, 12.4964)
    assert row["entities"] == [{"text": "Colosseum"}]
    assert row["messages"][1]["content"].startswith("<think>Arches of travertine.</think><answer>country: Italy")


@pytest.mark.parametrize("image_id", ["../secret.jpg", ".._sub_secret.jpg", "link.jpg", str(Path("/") / "etc" / "x.jpg")])
def test_a_released_id_never_reaches_outside_the_image_folder(folder: Path, image_id: str) -> None:
    (folder / "sub").mkdir()
    for secret in (folder / "secret.jpg", folder / "sub" / "secret.jpg"):  # what the ids would name
        Image.new("RGB", (8, 8)).save(secret, format="JPEG")
    (folder / "train_images" / "link.jpg").symlink_to(folder / "secret.jpg")
    released = {"IMG_ID": image_id, "solution": "<country>Italy</country><city>Rome</city>"}
    assert to_swift_row(released, "grpo", base_dir=str(folder), image_dir=str(folder / "train_images")) is None


def test_image_bytes_pass_through_untouched() -> None:
    image = {"bytes": b"\xff\xd8fake", "path": "x.jpg"}
    row = to_swift_row({"images": [image], "solution": "Peru\tLima"}, "grpo")
    assert row["images"] == [image]
    assert (row["country"], row["city"], row["lat"]) == ("Peru", "Lima", None)


def test_unknown_task_is_an_error() -> None:
    with pytest.raises(ValueError, match="task='dpo'"):
        to_swift_row(converted_row(), "dpo")


@pytest.mark.parametrize("prefill", ["<think>\n\n</think>\n\n", "<think>\n"])
def test_sft_targets_start_with_the_served_familys_prefill(folder: Path, prefill: str) -> None:
    row = to_swift_row(converted_row(), "sft", base_dir=str(folder), think_prefill=prefill)
    target = row["messages"][1]["content"]
    assert target.startswith(prefill) and target.count("<think>") == (2 if "</think>" in prefill else 1)
    assert target.endswith("A ruined amphitheatre of travertine.</think><answer>country: Italy\ncity: Rome</answer>")
    # the other tasks never carry a prefill: GRPO and eval have no assistant turn, the RM answers yes/no
    assert to_swift_row(converted_row(), "rm", base_dir=str(folder), think_prefill=prefill)["messages"][2][
        "content"] == "yes"


def _photo(folder: Path, name: str) -> Path:
    Image.new("RGB", (8, 8), (90, 90, 200)).save(folder / name, format="JPEG")
    return folder / name


def test_a_raw_osv5m_row_reads_its_columns_and_iso_codes_through_the_layout(tmp_path: Path) -> None:
    image = _photo(tmp_path, "91000.jpg")
    raw = {"id": 91000, "latitude": 60.1699, "longitude": 24.9384, "thumb_original_url": "http://x", "country": "FI",
           "region": "Uusimaa", "sub-region": "", "city": "Helsinki"}
    row = to_swift_row(raw, "grpo", image_dir=str(tmp_path), layout="osv5m")
    assert (row["image_id"], row["images"], row["country"], row["city"]) == ("91000", [str(image)], "Finland", "Helsinki")
    assert (row["lat"], row["lon"], row["solution"]) == (60.1699, 24.9384, "Finland\tHelsinki")
    # The MP16 layout reads the same cell as a name, as globe-eval does for that layout.
    assert to_swift_row(raw, "grpo", image_dir=str(tmp_path))["country"] == "FI"


def test_a_places365_row_gets_its_place_by_reverse_geocoding_as_globe_eval_does(tmp_path: Path) -> None:
    _photo(tmp_path, "1000093.jpg")
    raw = {"IMG_ID": "1000093.jpg", "AUTHOR": "a@N00", "LAT": 48.8566, "LON": 2.3522, "S3_Label": 1}
    row = to_swift_row(raw, "grpo", image_dir=str(tmp_path), layout="yfcc4k")
    assert (row["country"], row["city"], row["solution"]) == ("France", "Paris", "France\tParis")
    # A layout whose file names its places trains only on rows that have them (globe-data's rule) ...
    osv = {"id": "1000093", "latitude": 48.8566, "longitude": 2.3522, "country": "", "city": ""}
    assert to_swift_row(osv, "grpo", image_dir=str(tmp_path), layout="osv5m") is None
    # ... while evaluation fills an empty cell from the coordinates, as globe-eval does.
    assert to_swift_row(osv, "eval", image_dir=str(tmp_path), layout="osv5m")["country"] == "France"


def test_a_yfcc100m_line_is_read_by_position_and_a_short_line_is_dropped(tmp_path: Path) -> None:
    from globe.data.layouts import YFCC100M_FIELDS

    image = _photo(tmp_path, "8000001.jpg")
    fields = ["0", "8000001", "hash", "12@N00", "nick", "2010-01-01", "1262304000", "Canon", 'a "quoted title',
              "desc", "t1,t2", "", "139.6917", "35.6895", "16"]  # a dump may stop after the fields read
    row = to_swift_row({"text": "\t".join(fields)}, "eval", image_dir=str(tmp_path), layout="yfcc100m-info")
    assert (row["image_id"], row["images"], row["lat"], row["lon"]) == ("8000001", [str(image)], 35.6895, 139.6917)
    assert (row["country"], row["city"]) == ("Japan", "Tokyo")
    assert len(YFCC100M_FIELDS) > len(fields)
    assert to_swift_row({"text": "\t".join(fields[:13])}, "eval", image_dir=str(tmp_path), layout="yfcc100m-info") is None


def test_an_im2gps_id_finds_its_prefixed_file_and_never_one_outside_the_folder(tmp_path: Path) -> None:
    image = _photo(tmp_path, "Paris_00001_231521295_a1_1_1@N00.jpg")
    raw = {"IMG_ID": "231521295_a1_1_1@N00.jpg", "LAT": 48.8566, "LON": 2.3522}
    assert to_swift_row(raw, "eval", image_dir=str(tmp_path), layout="im2gps")["images"] == [str(image)]
    assert to_swift_row(raw, "eval", image_dir=str(tmp_path), layout="yfcc4k") is None  # no such rule there
    assert to_swift_row({**raw, "IMG_ID": "../231521295_a1_1_1@N00.jpg"}, "eval", image_dir=str(tmp_path),
                        layout="im2gps") is None
