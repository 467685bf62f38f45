"""Specification of globe.eval.data: real column spellings, reverse geocoding, bad rows, confinement."""
from __future__ import annotations

from pathlib import Path
import pytest

from globe.catalog import released_test_set
from globe.data.image_paths import resolve_image_path
from globe.eval.data import GroundTruthError, load_ground_truth, reverse_geocoded_names
from globe.eval.score import columns_by_alias, scored_rows


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_im2gps3k_spelling_gets_city_and_country_by_reverse_geocoding(tmp_path):
    gt = load_ground_truth(_write(tmp_path / "im2gps3k.csv",
                                  "IMG_ID,AUTHOR,LAT,LON,S3_Label\n"
                                  "1_paris.jpg,alice,48.8534,2.3488,1\n"
                                  "2_tokyo.jpg,bob,35.6895,139.6917,2\n"), tmp_path)
    assert [(row.image_id, row.lat, row.lon, row.country, row.city) for row in gt.rows] == [
        ("1_paris.jpg", 48.8534, 2.3488, "France", "Paris"),
        ("2_tokyo.jpg", 35.6895, 139.6917, "Japan", "Tokyo"),
    ]
    assert gt.n_reverse_geocoded == 2
    assert gt.rows[0].raw == {"IMG_ID": "1_paris.jpg", "AUTHOR": "alice", "LAT": "48.8534", "LON": "2.3488", "S3_Label": "1"}


def test_osv5m_spelling_expands_country_codes(tmp_path):
    gt = load_ground_truth(_write(tmp_path / "test_mini.csv",
                                  "id,latitude,longitude,country,region,sub-region,city\n"
                                  "123,43.2965,5.3698,FR,PACA,Bouches-du-Rhone,Marseille\n"), tmp_path)
    row = gt.rows[0]
    assert (row.image_id, row.country, row.city, row.problem) == ("123", "France", "Marseille", None)
    assert gt.n_reverse_geocoded == 0


def test_mp16_spelling_keeps_given_places(tmp_path):
    gt = load_ground_truth(_write(tmp_path / "mp16.csv",
                                  "IMG_ID,LAT,LON,city,country\n7e_c3_81.jpg,41.9,12.5,Rome,Italy\n"), tmp_path)
    assert (gt.rows[0].country, gt.rows[0].city) == ("Italy", "Rome")


def test_bad_rows_are_kept_with_a_problem_not_dropped(tmp_path):
    gt = load_ground_truth(_write(tmp_path / "gt.csv",
                                  "IMG_ID,LAT,LON,country,city\n"
                                  "a.jpg,north,2.0,France,Paris\n"
                                  "b.jpg,95,2.0,France,Paris\n"
                                  "c.jpg,48.8,2.3\n"
                                  ",48.8,2.3,France,Paris\n"
                                  "\n"
                                  "e.jpg,48.8,2.3,France,Paris,extra\n"
                                  "f.jpg,48.8,2.3,France,Paris\n"), tmp_path)
    problems = [row.problem for row in gt.rows]
    assert problems == [
        "LAT='north' is not a number",
        "LAT=95.0 is outside [-90, 90]",
        "CSV line 4 has 3 fields, the header has 5",
        "no image id in column IMG_ID",
        "CSV line 7 has 6 fields, the header has 5",
        None,
    ]
    assert [row.index for row in gt.rows] == [0, 1, 2, 3, 4, 5]


def test_unclosed_quote_becomes_a_bad_row(tmp_path):
    gt = load_ground_truth(_write(tmp_path / "gt.csv",
                                  'IMG_ID,LAT,LON,country,city\na.jpg,1,2,France,Paris\nb.jpg,1,2,"France,Paris\n'), tmp_path)
    assert gt.rows[0].problem is None
    assert gt.rows[1].problem is not None


def test_limit_keeps_the_first_rows(tmp_path):
    gt = load_ground_truth(_write(tmp_path / "gt.csv", "id,lat,lon,country,city\n" +
                                  "".join(f"{i},1,1,Ghana,Accra\n" for i in range(5))), tmp_path, limit=2)
    assert [row.image_id for row in gt.rows] == ["0", "1"]


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("IMG_ID,country\na.jpg,France\n", "no latitude / longitude column"),
    ("IMG_ID,country\na.jpg,France\n", r"latitude: one of LAT, latitude, lat_deg, gps_lat"),  # globe-data's aliases
    ("LAT,LON\n1,2\n", "no image id column"),
])
def test_unusable_files_raise_naming_the_problem(tmp_path, text, message):
    with pytest.raises(GroundTruthError, match=message):
        load_ground_truth(_write(tmp_path / "gt.csv", text), tmp_path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(GroundTruthError, match="not found: .*nope.csv"):
        load_ground_truth(tmp_path / "nope.csv", tmp_path)


@pytest.mark.parametrize("reference", [
    "../../etc/passwd", "../secret.jpg", "a/../../x.jpg", "/etc/passwd", "..\\..\\etc\\passwd", "C:\\Windows\\x.jpg", "..",
])
def test_image_paths_outside_the_root_are_refused(tmp_path, reference):
    with pytest.raises(PermissionError):
        resolve_image_path(tmp_path, reference)


def test_image_path_resolution_inside_the_root(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.jpg", "123.jpg", "7e_c3_81.jpg", "sub/x.jpg"):
        (tmp_path / name).write_bytes(b"x")
    assert resolve_image_path(tmp_path, "sub/../a.jpg") == tmp_path / "a.jpg"
    assert resolve_image_path(tmp_path, "123") == tmp_path / "123.jpg"  # bare OSV-5M id
    assert resolve_image_path(tmp_path, "7e/c3/81.jpg") == tmp_path / "7e_c3_81.jpg"  # MP16 nested id, flat folder
    assert resolve_image_path(tmp_path, "sub\\x.jpg") == tmp_path / "sub" / "x.jpg"
    assert resolve_image_path(tmp_path, "missing.jpg") == tmp_path / "missing.jpg"


def test_dataset_names_and_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GLOBE_DATA_ROOT", str(tmp_path))
    assert released_test_set("im2gps3k") == (tmp_path / "img2gps3k_gt.csv", tmp_path / "im2gps3ktest")
    assert released_test_set("img2gps3k") == released_test_set("im2gps3k")  # the released name
    assert released_test_set("mp16-reason-test-12k", "/d") == (Path("/d/mp16-reason-test-12k.csv"), Path("/d/eval_images"))
    assert released_test_set("osv5m-test-mini-3k")[0] == tmp_path / "test_mini.csv"
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known: im2gps, im2gps3k, "):
        released_test_set("nope")


# ----------------------------------------------------------------- column knowledge shared with globe-data


@pytest.mark.parametrize("header, expected", [
    ("image_path,gps_lat,gps_lon,country,city", {"image": "image_path", "lat": "gps_lat", "lon": "gps_lon"}),
    ("path,lat,lon,country,city", {"image": "path", "lat": "lat", "lon": "lon"}),
    ("img,Latitude,LNG,country_name,city_name", {"image": "img", "lat": "Latitude", "lon": "LNG"}),
])
def test_columns_are_found_by_the_data_clis_aliases(tmp_path, header, expected):
    gt = load_ground_truth(_write(tmp_path / "gt.csv", header + "\nx.jpg,41.9,12.5,Italy,Rome\n"), tmp_path)
    assert {key: gt.column_map[key] for key in expected} == expected
    row = gt.rows[0]
    assert (row.image_id, row.lat, row.lon, row.country, row.city, row.problem) == ("x.jpg", 41.9, 12.5, "Italy", "Rome", None)


def test_rescoring_finds_prefixed_columns_by_the_same_aliases():
    columns = ["IMG_ID", "LAT", "LON", "gt_index", "gt_lat", "gt_lon", "pred_LAT", "pred_longitude", "pred_country",
               "prediction"]
    assert columns_by_alias(columns, "pred_") == {"lat": "pred_LAT", "lon": "pred_longitude", "country": "pred_country"}
    assert columns_by_alias(columns, "gt_") == {"lat": "gt_lat", "lon": "gt_lon"}
    assert columns_by_alias(columns) == {"id": "IMG_ID", "lat": "LAT", "lon": "LON"}


def test_reverse_geocoded_names_turn_missing_labels_into_none():
    asked: list[tuple[list[float], list[float]]] = []

    def fake_labels(lats, lons):
        asked.append((lats, lons))
        return [("France", "Lyon"), ("Greenland", ""), None]

    names = reverse_geocoded_names([45.76, 72.0, 0.0], [4.84, -40.0, -160.0], fake_labels)
    assert names == [("France", "Lyon"), ("Greenland", None), (None, None)]
    assert asked == [([45.76, 72.0, 0.0], [4.84, -40.0, -160.0])]
    assert reverse_geocoded_names([], [], fake_labels) == [] and len(asked) == 1  # nothing to look up: no call


def test_ground_truth_and_rescoring_fill_missing_places_alike(tmp_path):
    gt = load_ground_truth(_write(tmp_path / "gt.csv", "IMG_ID,LAT,LON,country\na.jpg,48.8534,2.3488,\n"), tmp_path)
    scored = scored_rows([{"IMG_ID": "a.jpg", "LAT": "48.8534", "LON": "2.3488", "country": ""}])
    assert (gt.rows[0].country, gt.rows[0].city) == ("France", "Paris")
    assert (scored[0]["gt_country"], scored[0]["gt_city"]) == ("France", "Paris")
