"""Field parsing, layout detection and the compact id set behind ``globe-data``."""
from __future__ import annotations

import numpy as np
import pytest

from globe.data.fields import (
    FieldError,
    check_lat_lon,
    parse_coordinate,
    parse_entities,
    parse_solution,
    parse_yes_no,
)
from globe.data.idset import IdSet, digests
from globe.data.layouts import (
    LayoutError,
    detect_layout,
    map_columns,
    mp16_image_names,
    osv5m_image_names,
    resolve_layout,
)

# Headers as the released files spell them.
MP16_REASON_TRAIN = ["IMG_ID", "LAT", "LON", "city", "country", "response", "solution", "entities", "locatable"]
MP16_REASON_TEST = ["IMG_ID", "LAT", "LON", "city", "country"]
MP16_PRO = ["IMG_ID", "AUTHOR", "LAT", "LON", "neighbourhood", "city", "county", "state", "region", "country",
            "continent"]
IM2GPS3K = ["IMG_ID", "AUTHOR", "LAT", "LON", "S3_Label", "S16_Label", "S365_Label", "Prob_indoor", "Prob_natural",
            "Prob_urban"]
IM2GPS3K_OLD_SWAPPED = ["IMG_ID", "AUTHOR", "LON", "LAT", "S3_Label", "S16_Label", "S365_Label", "Prob_indoor",
                        "Prob_natural", "Prob_urban"]
OSV5M = ["id", "latitude", "longitude", "thumb_original_url", "country", "sequence", "captured_at", "lon_bin",
         "lat_bin", "cell", "land_cover", "road_index", "drive_side", "climate", "soil", "dist_sea", "region",
         "sub-region", "city"]


@pytest.mark.parametrize(("text", "expected"), [("48.8566", 48.8566), (" -33.86 ", -33.86), ("1e1", 10.0), (7, 7.0)])
def test_parse_coordinate_reads_numbers(text, expected) -> None:
    assert parse_coordinate(text, "lat") == expected


@pytest.mark.parametrize("text", ["", "  ", "abc", "nan", "inf", "12,5", None])
def test_parse_coordinate_rejects_non_numbers_with_reason(text) -> None:
    with pytest.raises(FieldError) as info:
        parse_coordinate(text, "lat")
    assert info.value.reason == "non_numeric_coords"


@pytest.mark.parametrize(("lat", "lon"), [(90.5, 0.0), (-91.0, 0.0), (0.0, 180.01), (0.0, -200.0)])
def test_check_lat_lon_rejects_out_of_range(lat, lon) -> None:
    with pytest.raises(FieldError) as info:
        check_lat_lon(lat, lon)
    assert info.value.reason == "coords_out_of_range"


def test_check_lat_lon_accepts_the_poles_and_the_antimeridian() -> None:
    check_lat_lon(90.0, 180.0)
    check_lat_lon(-90.0, -180.0)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('[{"text": "Eiffel Tower"}, {"text": "Haussmann facades"}]', ["Eiffel Tower", "Haussmann facades"]),
        ('["Eiffel Tower", "eiffel tower", " "]', ["Eiffel Tower"]),
        ("['tuk-tuk', 'Thai script']", ["tuk-tuk", "Thai script"]),
        ("onion domes; Cyrillic signage | trams", ["onion domes", "Cyrillic signage", "trams"]),
        ("CN Tower", ["CN Tower"]),
        ([{"name": "Sky Tower"}, "harbour"], ["Sky Tower", "harbour"]),
        ("", []),
        (None, []),
    ],
)
def test_parse_entities_accepts_every_released_form(cell, expected) -> None:
    entities, ok = parse_entities(cell)
    assert ok
    assert entities == [{"text": text} for text in expected]


def test_parse_entities_flags_a_broken_list_but_keeps_its_pieces() -> None:
    entities, ok = parse_entities('["Colosseum"; "Roman forum"')
    assert not ok
    assert [e["text"] for e in entities] == ["Colosseum", "Roman forum"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("<country>France</country><city>Paris</city>", ("France", "Paris")),
        ("<city> Lima </city>\n<country>Peru</country>", ("Peru", "Lima")),
        ("<country>Iceland</country>", ("Iceland", "")),
        ("Japan\tKyoto", ("Japan", "Kyoto")),
        ("no tags here", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_solution_reads_tags_and_tab_form(cell, expected) -> None:
    assert parse_solution(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("yes", "yes"), ("No", "no"), ("\u201cyes\u201d", "yes"), ("TRUE", "yes"), (0, "no"), (1.0, "yes"),
     ("maybe", None), ("", None)],
)
def test_parse_yes_no(cell, expected) -> None:
    assert parse_yes_no(cell) == expected


@pytest.mark.parametrize(
    ("header", "layout"),
    [(MP16_REASON_TRAIN, "mp16-reason"), (MP16_REASON_TEST, "mp16-reason"), (MP16_PRO, "mp16-pro"),
     (IM2GPS3K, "im2gps3k"), (IM2GPS3K_OLD_SWAPPED, "im2gps3k"), (OSV5M, "osv5m")],
)
def test_detect_layout_recognises_each_released_header(header, layout) -> None:
    assert detect_layout(header) == layout


def test_map_columns_finds_aliases_case_insensitively() -> None:
    columns = map_columns(["\ufeffimg_id", "Latitude", "LONGITUDE", "Country", "City", "Response"])
    assert columns.names() == {"id": "img_id", "lat": "Latitude", "lon": "LONGITUDE", "country": "Country",
                               "city": "City", "reasoning": "Response"}


def test_resolve_layout_names_the_missing_columns() -> None:
    with pytest.raises(LayoutError, match=r"lacks the column.*lat: one of LAT, latitude"):
        resolve_layout(["id", "country", "city"], "osv5m", "test_mini.csv")


def test_resolve_layout_rejects_an_unknown_layout() -> None:
    with pytest.raises(LayoutError, match="unknown layout 'yfcc'"):
        resolve_layout(MP16_PRO, "yfcc", "x.csv")


def test_mp16_image_names_try_flat_and_nested_spellings() -> None:
    assert mp16_image_names("7e_c3_8163912402.jpg") == ["7e_c3_8163912402.jpg", "7e/c3/8163912402.jpg"]
    assert mp16_image_names("7e/c3/8163912402.jpg") == ["7e/c3/8163912402.jpg", "7e_c3_8163912402.jpg"]


def test_osv5m_image_names_append_jpg_to_numeric_ids() -> None:
    assert osv5m_image_names("3859149887465501") == ["3859149887465501.jpg", "3859149887465501"]


def test_idset_membership_and_batched_inserts() -> None:
    ids = IdSet()
    ids.add_ids(["a.jpg", "b.jpg", "a.jpg"])
    ids.add_ids(["c.jpg"])
    assert len(ids) == 3
    assert "b.jpg" in ids and "z.jpg" not in ids
    assert ids.contains(digests(["c.jpg", "d.jpg", "a.jpg"])).tolist() == [True, False, True]


def test_idset_stays_sorted_after_many_merges() -> None:
    ids = IdSet()
    for start in range(0, 5000, 1000):
        ids.add_ids([f"img{i}" for i in range(start, start + 1000)])
    assert len(ids) == 5000
    assert bool(np.all(np.diff(ids._keys.astype(np.float64)) >= 0))
    assert ids.contains(digests([f"img{i}" for i in range(4990, 5010)])).tolist() == [True] * 10 + [False] * 10
