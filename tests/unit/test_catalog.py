"""The dataset catalog: every name once, the released names as aliases, one rule for where files are."""
from __future__ import annotations

from pathlib import Path

import pytest

from globe import catalog


def test_the_released_names_are_aliases_of_ours():
    assert catalog.find_dataset("geo_loc_rm_20w").name == "mp16-reason-rm"  # released dataset.py
    assert catalog.find_dataset("data/geo_loc_rm_20w").name == "mp16-reason-rm"  # released train_rm.sh
    assert catalog.find_dataset("data/mp16-reason-train").name == "mp16-reason-sft"  # released SFT and GRPO scripts
    assert catalog.find_dataset("img2gps3k").name == "im2gps3k"  # released eval.py
    assert catalog.find_dataset("osv-test-mini-3k").name == "osv5m-test-mini-3k"
    assert catalog.find_dataset("mp16-reason-train").task == "grpo"


def test_every_name_and_alias_is_unique():
    names = [name for entry in catalog.DATASETS for name in (entry.name, *entry.aliases)]
    assert len(names) == len(set(names)) == 16


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known: im2gps, im2gps3k, mp16-reason-rm"):
        catalog.find_dataset("nope")
    with pytest.raises(ValueError, match=r"known: im2gps, im2gps3k, mp16-reason-test-12k, osv5m-test, "
                                         r"osv5m-test-mini-3k, yfcc26k, yfcc4k \(or pass --gt-file"):
        catalog.find_dataset("mp16-reason-train", evaluable=True)


def test_a_released_test_set_lies_where_the_released_eval_put_it(tmp_path):
    assert catalog.released_test_set("img2gps3k", tmp_path) == (tmp_path / "img2gps3k_gt.csv", tmp_path / "im2gps3ktest")
    assert catalog.released_test_set("mp16-reason-test-12k", tmp_path) == (tmp_path / "mp16-reason-test-12k.csv",
                                                                          tmp_path / "eval_images")
    assert catalog.released_test_set("osv-test-mini-3k", tmp_path)[0] == tmp_path / "test_mini.csv"


def test_the_sft_name_falls_back_to_the_train_variable(tmp_path, monkeypatch):
    for var in ("GLOBE_MP16_SFT", "GLOBE_MP16_TRAIN"):
        monkeypatch.delenv(var, raising=False)
    sft = catalog.find_dataset("mp16-reason-sft")
    assert catalog.converted_file(sft, tmp_path) == (tmp_path.resolve() / "mp16-reason-train.jsonl", None)
    monkeypatch.setenv("GLOBE_MP16_TRAIN", str(tmp_path / "t.jsonl"))
    assert catalog.converted_file(sft, tmp_path) == (tmp_path.resolve() / "t.jsonl", "GLOBE_MP16_TRAIN")
    monkeypatch.setenv("GLOBE_MP16_SFT", str(tmp_path / "s.jsonl"))
    assert catalog.converted_file(sft, tmp_path) == (tmp_path.resolve() / "s.jsonl", "GLOBE_MP16_SFT")


def test_id_only_rows_find_images_beside_the_file_or_under_the_images_variable(tmp_path, monkeypatch):
    train = catalog.find_dataset("mp16-reason-train")
    file = tmp_path / "mp16-reason-train.csv"
    monkeypatch.delenv("GLOBE_MP16_TRAIN_IMAGES", raising=False)
    assert catalog.id_image_folder(train, file, None) == tmp_path / "train_images"
    monkeypatch.setenv("GLOBE_MP16_TRAIN_IMAGES", "/imgs")
    assert catalog.id_image_folder(train, file, None) == Path("/imgs")


def test_the_catalog_is_a_light_import():
    import subprocess
    import sys

    code = "import sys, globe.catalog; print(sorted(m for m in sys.modules if m.split('.')[0] in ('swift', 'torch', 'numpy', 'aiohttp')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


@pytest.mark.parametrize(("name", "file", "layout", "images"), [
    ("yfcc4k", "yfcc4k_places365.csv", "yfcc4k", "yfcc4k"),
    ("yfcc4k", "yfcc4k/info.txt", "yfcc100m-info", "yfcc4k/images"),
    ("osv5m-test", "osv5m/test.csv", "osv5m", "osv5m/images/test"),
    ("osv5m-test", "osv5m-test.jsonl", "osv5m", "osv5m/images/test"),  # converted: the entry's images beside it
    ("mp16-reason-train", "mp16-reason-train.csv", "mp16-reason", "train_images"),
])
def test_a_file_given_for_a_name_is_read_through_its_distributed_forms_layout_and_folder(tmp_path, monkeypatch,
                                                                                         name, file, layout, images):
    monkeypatch.delenv(f"{catalog.find_dataset(name).env[0]}_IMAGES", raising=False)
    entry = catalog.find_dataset(name)
    path = tmp_path / "somewhere" / file
    assert catalog.file_layout(entry, path) == layout
    # A file sits in its distribution's tree: the images are where that tree puts them relative to it.
    assert catalog.id_image_folder(entry, path, None) == tmp_path / "somewhere" / images
