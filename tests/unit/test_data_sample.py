"""The bundled sample: generated pictures, real places, released layouts, converted by ``globe-data``."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

import globe.geo as geo
from globe.data.convert import read_jsonl
from globe.data.sample import SAMPLE_DIR, build_sample

SAMPLE_FILES = sorted(p.relative_to(SAMPLE_DIR) for p in SAMPLE_DIR.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample")
    return out, build_sample(out)


def test_rebuilding_reproduces_the_committed_sample_byte_for_byte(rebuilt) -> None:
    out, _ = rebuilt
    rebuilt_files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert rebuilt_files == SAMPLE_FILES, "data/sample differs from its generator: run `python -m globe.data sample`"
    for name in SAMPLE_FILES:
        assert (out / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), (
            f"data/sample/{name} is stale: run `python -m globe.data sample`")


def test_every_sample_row_converts_cleanly(rebuilt) -> None:
    _, reports = rebuilt
    assert {name: (r.kept, r.total_dropped) for name, r in reports.items()} == {
        "mp16-reason-train.jsonl": (28, 0),
        "mp16-reason-rm.jsonl": (14, 0),
        "mp16-reason-test-12k.jsonl": (8, 0),
        "im2gps3k.jsonl": (5, 0),
        "osv5m-test-mini-3k.jsonl": (5, 0),
    }


def test_the_pictures_are_a_few_dozen_small_generated_jpegs() -> None:
    images = sorted(SAMPLE_DIR.rglob("*.jpg"))
    assert 36 <= len(images) <= 60
    assert sum(p.stat().st_size for p in images) < 300_000
    for path in images:
        with Image.open(path) as img:
            assert (img.format, img.size) == ("JPEG", (96, 96))
            img.load()


def test_the_released_csv_layouts_are_used() -> None:
    def header(name: str) -> list[str]:
        with open(SAMPLE_DIR / name, newline="") as f:
            return next(csv.reader(f))

    assert header("mp16-reason-train.csv") == ["IMG_ID", "LAT", "LON", "city", "country", "response", "solution",
                                               "entities", "locatable"]
    assert header("mp16-reason-test-12k.csv") == ["IMG_ID", "LAT", "LON", "city", "country"]
    assert header("img2gps3k_gt.csv")[:4] == ["IMG_ID", "AUTHOR", "LAT", "LON"]
    assert header("test_mini.csv")[:3] == ["id", "latitude", "longitude"]


def test_places_are_real_and_span_the_continents() -> None:
    rows = [r for name in ("mp16-reason-train.jsonl", "mp16-reason-test-12k.jsonl", "im2gps3k.jsonl",
                           "osv5m-test-mini-3k.jsonl") for r in read_jsonl(SAMPLE_DIR / name)]
    continents = set()
    for row in rows:
        place = geo.resolve(row["country"], row["city"])
        assert place is not None, (row["country"], row["city"])
        # The sample's coordinates are the city's own: within 30 km of GeoNames' point for it.
        assert geo.distance_km((row["lat"], row["lon"]), (place.lat, place.lon)) < 30, row["city"]
        continents.add(geo.continent_of(place.country_code))
    assert continents == {"AF", "AS", "EU", "NA", "OC", "SA"}


def test_train_rows_carry_reasoning_and_some_entities_and_rm_has_both_labels() -> None:
    train = read_jsonl(SAMPLE_DIR / "mp16-reason-train.jsonl")
    assert all(row["reasoning"] for row in train)
    with_entities = [row for row in train if row["entities"]]
    assert 0 < len(with_entities) < len(train)
    assert {row["country"] for row in train} >= {"United States", "Czechia"}  # spelled "USA", "Czech Republic"
    labels = [row["locatable"] for row in read_jsonl(SAMPLE_DIR / "mp16-reason-rm.jsonl")]
    assert labels.count("yes") >= 8 and labels.count("no") >= 3
