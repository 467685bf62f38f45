"""``globe.data.convert``: every bad input becomes a counted, explained drop; good rows all survive."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from globe.data.convert import OUTPUT_KEYS, Converter, ConvertOptions, convert, existing_ids, read_jsonl, validate
from globe.data.layouts import LayoutError

MP16_TEST_HEADER = ["IMG_ID", "LAT", "LON", "city", "country"]


def jpeg(path: Path, seed: int = 0, size: int = 16) -> Path:
    """A small valid JPEG whose pixels depend on ``seed``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (size, size), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    for x in range(0, size, 3):
        img.putpixel((x, (x * seed) % size), (255, 255, 255))
    img.save(path, format="JPEG", quality=90)
    return path


def truncated_jpeg(path: Path) -> Path:
    """A JPEG cut off in the middle of its scan data: opens fine, fails to decode."""
    noisy = Image.effect_noise((128, 128), 80).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def quiet(**kwargs) -> ConvertOptions:
    return ConvertOptions(progress=False, workers=1, **kwargs)


@pytest.fixture()
def messy(tmp_path: Path) -> tuple[Path, Path]:
    """A MP16-Reason-Test style CSV with four good rows and one row of each kind of damage."""
    images = tmp_path / "eval_images"
    for i, name in enumerate(["g1.jpg", "g2.jpg", "g3.jpg", "g4.jpg", "nonnum.jpg", "nolon.jpg", "far.jpg",
                              "far2.jpg", "nocountry.jpg"]):
        jpeg(images / name, i)
    (images / "corrupt.jpg").write_bytes(b"this is not a JPEG at all" * 10)
    truncated_jpeg(images / "truncated.jpg")
    (images / "empty.jpg").write_bytes(b"")
    rows = [
        ["g1.jpg", 48.8566, 2.3522, "Paris", "France"],  # line 2
        ["g2.jpg", 35.6762, 139.6503, "Tokyo", "Japan"],
        ["missing.jpg", 41.9028, 12.4964, "Rome", "Italy"],  # line 4
        ["corrupt.jpg", 52.52, 13.405, "Berlin", "Germany"],
        ["truncated.jpg", 51.5074, -0.1278, "London", "United Kingdom"],
        ["empty.jpg", 50.0755, 14.4378, "Prague", "Czechia"],
        ["nonnum.jpg", "north", 2.0, "Nowhere", "France"],  # line 8
        ["nolon.jpg", 10.0, "", "Nowhere", "France"],
        ["far.jpg", 95.0, 10.0, "Nowhere", "France"],
        ["far2.jpg", 10.0, 200.0, "Nowhere", "France"],
        ["nocountry.jpg", 30.0444, 31.2357, "Cairo", ""],  # line 12
        ["g3.jpg", 40.7128, -74.0060, "New York City", "USA"],
        ["g1.jpg", 0.0, 0.0, "Elsewhere", "Spain"],  # line 14: duplicate id
        ["x.jpg", 1.0, 2.0, "Lima"],  # malformed: 4 fields
        ["", 1.0, 2.0, "Lima", "Peru"],  # missing id
        ["g4.jpg", -33.8688, 151.2093, "Sydney", "Australia"],  # line 17
    ]
    return write_csv(tmp_path / "mp16-reason-test-12k.csv", MP16_TEST_HEADER, rows), images


def test_every_bad_row_is_dropped_with_its_reason_and_every_good_row_kept(messy, tmp_path: Path) -> None:
    csv_path, images = messy
    out = tmp_path / "test.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    assert report.rows_read == 16
    assert dict(report.dropped) == {
        "missing_image": 1,
        "unreadable_image": 3,
        "non_numeric_coords": 2,
        "coords_out_of_range": 2,
        "empty_country": 1,
        "duplicate_id": 1,
        "malformed_row": 1,
        "missing_id": 1,
    }
    assert report.kept == 4 and report.resumed == 0
    assert not report.lat_lon_swapped
    rows = read_jsonl(out)
    assert out.read_text().startswith('{"image_id": "g1.jpg", ')
    assert all(list(row) == list(OUTPUT_KEYS) for row in rows)
    assert rows == [
        {"image_id": "g1.jpg", "images": ["eval_images/g1.jpg"], "country": "France", "city": "Paris",
         "lat": 48.8566, "lon": 2.3522, "solution": "France\tParis", "entities": [], "reasoning": None,
         "locatable": None},
        {"image_id": "g2.jpg", "images": ["eval_images/g2.jpg"], "country": "Japan", "city": "Tokyo",
         "lat": 35.6762, "lon": 139.6503, "solution": "Japan\tTokyo", "entities": [], "reasoning": None,
         "locatable": None},
        {"image_id": "g3.jpg", "images": ["eval_images/g3.jpg"], "country": "United States",
         "city": "New York City", "lat": 40.7128, "lon": -74.006, "solution": "United States\tNew York City",
         "entities": [], "reasoning": None, "locatable": None},
        {"image_id": "g4.jpg", "images": ["eval_images/g4.jpg"], "country": "Australia", "city": "Sydney",
         "lat": -33.8688, "lon": 151.2093, "solution": "Australia\tSydney", "entities": [], "reasoning": None,
         "locatable": None},
    ]


def test_the_report_points_at_each_bad_row(messy, tmp_path: Path) -> None:
    csv_path, images = messy
    report = convert(csv_path, tmp_path / "test.jsonl", quiet(image_root=images))
    examples = report.examples
    assert examples["missing_image"][0].startswith("line 4 (id missing.jpg): none of [missing.jpg")
    assert [e.split(":")[0] for e in examples["unreadable_image"]] == [
        "line 5 (id corrupt.jpg)", "line 6 (id truncated.jpg)", "line 7 (id empty.jpg)"]
    assert "empty file" in examples["unreadable_image"][2]
    assert examples["non_numeric_coords"] == ["line 8 (id nonnum.jpg): lat='north' is not a number",
                                              "line 9 (id nolon.jpg): lon is empty"]
    assert examples["coords_out_of_range"] == ["line 10 (id far.jpg): lat=95.0 outside [-90, 90]",
                                               "line 11 (id far2.jpg): lon=200.0 outside [-180, 180]"]
    assert examples["empty_country"] == ["line 12 (id nocountry.jpg): country is empty"]
    assert examples["duplicate_id"] == ["line 14 (id g1.jpg): id already used by an earlier row"]
    assert examples["malformed_row"] == ["line 15: 4 fields, the header has 5"]
    assert examples["missing_id"] == ["line 16: empty 'IMG_ID'"]
    summary = report.summary()
    for reason in report.dropped:
        assert reason in summary
    assert "rows read" in summary and "16" in summary


def test_report_is_saved_beside_the_output(messy, tmp_path: Path) -> None:
    csv_path, images = messy
    out = tmp_path / "test.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    saved = json.loads((tmp_path / "test.jsonl.report.json").read_text())
    assert saved["kept"] == 4 and saved["dropped"] == dict(report.dropped)


def test_validate_reports_the_same_and_writes_nothing(messy, tmp_path: Path) -> None:
    csv_path, images = messy
    before = sorted(p.name for p in tmp_path.iterdir())
    report = validate(csv_path, quiet(image_root=images))
    assert report.kept == 4 and report.total_dropped == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_image_check_exists_only_misses_decoding_errors(messy, tmp_path: Path) -> None:
    csv_path, images = messy
    report = validate(csv_path, quiet(image_root=images, image_check="exists"))
    assert report.dropped["missing_image"] == 1
    assert report.dropped["unreadable_image"] == 1  # only the empty file: corrupt/truncated pass a stat
    assert report.kept == 6


def test_image_check_none_trusts_the_csv(messy, tmp_path: Path) -> None:
    csv_path, images = messy
    report = validate(csv_path, quiet(image_root=images, image_check="none"))
    assert "missing_image" not in report.dropped and "unreadable_image" not in report.dropped
    assert report.kept == 8


# -- swapped LAT/LON headers -------------------------------------------------------------------
WORLD = [  # (id, lat, lon): real places, three with |lon| > 90
    ("sydney.jpg", -33.8688, 151.2093),
    ("tokyo.jpg", 35.6762, 139.6503),
    ("sf.jpg", 37.7749, -122.4194),
    ("edinburgh.jpg", 55.9533, -3.1883),
    ("rio.jpg", -22.9068, -43.1729),
]
IM2GPS_SWAPPED_HEADER = ["IMG_ID", "AUTHOR", "LON", "LAT", "S3_Label"]


def _im2gps_swapped(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "im2gps3ktest"
    for i, (name, _, _) in enumerate(WORLD):
        jpeg(images / name, i)
    # The old commit's header says LON,LAT but the values are latitude first.
    rows = [[name, "12345@N00", lat, lon, 2] for name, lat, lon in WORLD]
    return write_csv(tmp_path / "im2gps3k_places365.csv", IM2GPS_SWAPPED_HEADER, rows), images


def test_a_swapped_lon_lat_header_is_detected_and_read_the_right_way(tmp_path: Path) -> None:
    csv_path, images = _im2gps_swapped(tmp_path)
    out = tmp_path / "im2gps3k.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    assert report.layout == "im2gps3k"
    assert report.lat_lon_swapped
    assert "3 have |LAT| > 90 and 0 have |LON| > 90" in report.swap_evidence
    assert "swapped" in report.summary()
    rows = read_jsonl(out)
    assert [(r["lat"], r["lon"]) for r in rows] == [(lat, lon) for _, lat, lon in WORLD]
    # IM2GPS3K has no city/country: both come from reverse geocoding the corrected coordinates.
    assert [r["country"] for r in rows] == ["Australia", "Japan", "United States", "United Kingdom", "Brazil"]
    assert [r["city"] for r in rows if r["image_id"] in {"sydney.jpg", "sf.jpg", "edinburgh.jpg", "rio.jpg"}] == [
        "Sydney", "San Francisco", "Edinburgh", "Rio de Janeiro"]
    assert report.warnings["country_filled"] == 5 and report.warnings["city_filled"] == 5


def test_forcing_no_swap_drops_the_longitudes_found_in_lat(tmp_path: Path) -> None:
    csv_path, images = _im2gps_swapped(tmp_path)
    report = validate(csv_path, quiet(image_root=images, swap_lat_lon="no"))
    assert not report.lat_lon_swapped
    # Read as labelled, three "latitudes" exceed 90 and Rio lands in the South Atlantic.
    assert dict(report.dropped) == {"coords_out_of_range": 3, "geocode_failed": 1}
    assert report.examples["coords_out_of_range"][0] == "line 2 (id sydney.jpg): lat=151.2093 outside [-90, 90]"
    assert report.kept == 1


def test_a_few_corrupt_latitudes_do_not_flip_a_correct_file(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    rows = []
    for i in range(20):  # European rows: no |lon| > 90 anywhere
        jpeg(images / f"{i}.jpg", i)
        rows.append([f"{i}.jpg", 45.0 + i * 0.1, 5.0 + i * 0.2, "Town", "France"])
    rows[7][1] = 95.0
    csv_path = write_csv(tmp_path / "eu.csv", MP16_TEST_HEADER, rows)
    report = validate(csv_path, quiet(image_root=images))
    assert not report.lat_lon_swapped
    assert dict(report.dropped) == {"coords_out_of_range": 1}
    assert report.kept == 19


# -- layouts -----------------------------------------------------------------------------------
def test_mp16_reason_train_columns_become_reasoning_entities_and_label(tmp_path: Path) -> None:
    images = tmp_path / "train_images"
    jpeg(images / "7e_c3_8163912402.jpg", 1)
    jpeg(images / "2b_10_1111111111.jpg", 2)
    header = ["IMG_ID", "LAT", "LON", "response", "solution", "entities", "locatable"]
    rows = [
        ["7e_c3_8163912402.jpg", 41.9028, 12.4964, "Arches of travertine.\nA ruined amphitheatre.",
         "<country>Italy</country><city>Rome</city>", '[{"text": "Colosseum"}, {"text": "travertine"}]', "yes"],
        ["2b_10_1111111111.jpg", 50.0755, 14.4378, "Statues on a bridge.",
         "<country>Czech Republic</country><city>Prague</city>", "Charles Bridge; Prague Castle", "No"],
    ]
    csv_path = write_csv(tmp_path / "mp16-reason-train.csv", header, rows)
    out = tmp_path / "train.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    assert report.layout == "mp16-reason" and report.total_dropped == 0
    first, second = read_jsonl(out)
    assert first["country"] == "Italy" and first["city"] == "Rome" and first["solution"] == "Italy\tRome"
    assert first["reasoning"] == "Arches of travertine.\nA ruined amphitheatre."
    assert first["entities"] == [{"text": "Colosseum"}, {"text": "travertine"}]
    assert first["locatable"] == "yes"
    assert second["country"] == "Czechia"  # normalised from the solution's "Czech Republic"
    assert second["entities"] == [{"text": "Charles Bridge"}, {"text": "Prague Castle"}]
    assert second["locatable"] == "no"


def test_mp16_pro_nested_ids_find_flat_images_and_keep_metadata_country(tmp_path: Path) -> None:
    images = tmp_path / "mp16"
    jpeg(images / "7e_c3_8163912402.jpg", 3)
    header = ["IMG_ID", "AUTHOR", "LAT", "LON", "neighbourhood", "city", "county", "state", "region", "country",
              "continent"]
    rows = [["7e/c3/8163912402.jpg", "123@N00", 52.3676, 4.9041, "Centrum", "Amsterdam", "", "North Holland", "",
             "Nederland", "Europe"]]
    csv_path = write_csv(tmp_path / "MP16_Pro_filtered.csv", header, rows)
    out = tmp_path / "pro.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    assert report.layout == "mp16-pro"
    (row,) = read_jsonl(out)
    assert row["images"] == ["mp16/7e_c3_8163912402.jpg"]
    assert (row["country"], row["city"]) == ("Netherlands", "Amsterdam")


def test_osv5m_iso_codes_become_country_names_and_ids_gain_jpg(tmp_path: Path) -> None:
    images = tmp_path / "osv-test-mini-3k"
    jpeg(images / "3859149887465501.jpg", 4)
    header = ["id", "latitude", "longitude", "thumb_original_url", "country", "region", "sub-region", "city"]
    rows = [["3859149887465501", 60.1699, 24.9384, "", "FI", "Uusimaa", "", "Helsinki"]]
    csv_path = write_csv(tmp_path / "test_mini.csv", header, rows)
    out = tmp_path / "osv.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    assert report.layout == "osv5m"
    (row,) = read_jsonl(out)
    assert row["image_id"] == "3859149887465501"
    assert row["images"] == ["osv-test-mini-3k/3859149887465501.jpg"]
    assert (row["country"], row["city"], row["lat"], row["lon"]) == ("Finland", "Helsinki", 60.1699, 24.9384)


def test_an_unknown_country_is_kept_as_written_and_reported(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    jpeg(images / "a.jpg")
    jpeg(images / "b.jpg", 1)
    csv_path = write_csv(tmp_path / "x.csv", MP16_TEST_HEADER,
                         [["a.jpg", 10.0, 10.0, "Poseidonia", "Atlantis"], ["b.jpg", 10.0, 11.0, "X", "Atlantis"]])
    out = tmp_path / "x.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    assert [r["country"] for r in read_jsonl(out)] == ["Atlantis", "Atlantis"]
    assert report.warnings["country_unresolved"] == 2
    assert dict(report.unresolved_countries) == {"Atlantis": 2}
    assert "'Atlantis' x2" in report.summary()


def test_keep_country_names_skips_normalisation(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    jpeg(images / "a.jpg")
    csv_path = write_csv(tmp_path / "x.csv", MP16_TEST_HEADER, [["a.jpg", 40.7, -74.0, "NYC", "USA"]])
    out = tmp_path / "x.jsonl"
    convert(csv_path, out, quiet(image_root=images, normalise_countries=False))
    assert read_jsonl(out)[0]["country"] == "USA"


def test_fill_missing_geocodes_an_empty_country_instead_of_dropping(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    jpeg(images / "a.jpg")
    jpeg(images / "sea.jpg", 1)
    csv_path = write_csv(tmp_path / "x.csv", MP16_TEST_HEADER,
                         [["a.jpg", 55.9533, -3.1883, "", ""], ["sea.jpg", 0.0, -30.0, "", ""]])
    out = tmp_path / "x.jsonl"
    report = convert(csv_path, out, quiet(image_root=images, fill_missing=True))
    (row,) = read_jsonl(out)
    assert (row["country"], row["city"]) == ("United Kingdom", "Edinburgh")
    assert dict(report.dropped) == {"geocode_failed": 1}  # mid-Atlantic: no place within 200 km
    assert "no populated place within 200 km of (0.0, -30.0)" in report.examples["geocode_failed"][0]


def test_an_empty_city_is_kept_and_counted(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    jpeg(images / "a.jpg")
    csv_path = write_csv(tmp_path / "x.csv", MP16_TEST_HEADER, [["a.jpg", 64.1, -21.9, "", "Iceland"]])
    out = tmp_path / "x.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    assert read_jsonl(out)[0]["solution"] == "Iceland\t"
    assert report.warnings["empty_city"] == 1


def test_absolute_paths_and_paths_relative_to_an_output_elsewhere(tmp_path: Path) -> None:
    images = tmp_path / "downloads" / "eval_images"
    jpeg(images / "a.jpg")
    csv_path = write_csv(tmp_path / "downloads" / "x.csv", MP16_TEST_HEADER, [["a.jpg", 1.0, 2.0, "C", "Kenya"]])
    relative = tmp_path / "converted" / "x.jsonl"
    convert(csv_path, relative, quiet(image_root=images))
    assert read_jsonl(relative)[0]["images"] == ["../downloads/eval_images/a.jpg"]
    absolute = tmp_path / "converted" / "abs.jsonl"
    convert(csv_path, absolute, quiet(image_root=images, absolute_paths=True))
    assert read_jsonl(absolute)[0]["images"] == [str((images / "a.jpg").resolve())]


def test_quoted_multiline_reasoning_and_a_bom_survive(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    jpeg(images / "a.jpg")
    text = '\ufeffIMG_ID,LAT,LON,city,country,response\na.jpg,1.0,2.0,C,Kenya,"line one,\nline ""two"""\n'
    csv_path = tmp_path / "x.csv"
    csv_path.write_text(text, encoding="utf-8")
    out = tmp_path / "x.jsonl"
    report = convert(csv_path, out, quiet(image_root=images))
    assert report.columns["id"] == "IMG_ID"
    assert read_jsonl(out)[0]["reasoning"] == 'line one,\nline "two"'


def test_a_stray_quote_is_one_malformed_row_and_reading_goes_on(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    jpeg(images / "a.jpg")
    jpeg(images / "c.jpg", 1)
    csv_path = tmp_path / "x.csv"
    # A misplaced quote would join lines 3-4 into one ragged record: each of the two broken lines is
    # reported on its own, and line 5 reads normally again.
    csv_path.write_text('IMG_ID,LAT,LON,city,country\na.jpg,1.0,2.0,C,Kenya\nb.jpg,3.0,"4.0,D\n'
                        'Ghana",Togo\nc.jpg,7.0,8.0,F,Mali\n')
    report = validate(csv_path, quiet(image_root=images))
    assert report.kept == 2
    assert report.rows_read == 4
    assert dict(report.dropped) == {"malformed_row": 2}
    assert report.examples["malformed_row"] == [
        "line 3: a quote opened on this line closes only on line 4, making a record of 4 fields (the header has 5);"
        " fix the quoting of this line",
        "line 4: 2 fields, the header has 5",
    ]


def test_missing_files_and_wrong_layouts_fail_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such CSV file"):
        Converter(tmp_path / "nope.csv", None, quiet(), None)
    csv_path = write_csv(tmp_path / "x.csv", MP16_TEST_HEADER, [["a.jpg", 1.0, 2.0, "C", "Kenya"]])
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        Converter(csv_path, None, quiet(image_root=tmp_path / "no_images"), None)
    no_coordinates = write_csv(tmp_path / "y.csv", ["IMG_ID", "country"], [["a.jpg", "Kenya"]])
    with pytest.raises(LayoutError, match="lacks the column.*lat: one of LAT, latitude"):
        validate(no_coordinates, quiet(layout="im2gps3k"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(LayoutError, match="empty"):
        validate(tmp_path / "empty.csv", quiet())


# -- resumability and streaming ----------------------------------------------------------------
@pytest.fixture()
def hundred(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "imgs"
    rows = []
    for i in range(100):
        jpeg(images / f"{i:03d}.jpg", i)
        rows.append([f"{i:03d}.jpg", -60 + i * 1.2, -170 + i * 3.4, f"City{i}", "Chile" if i % 2 else "Kenya"])
    return write_csv(tmp_path / "hundred.csv", MP16_TEST_HEADER, rows), images


def test_rerunning_a_finished_conversion_changes_nothing(hundred, tmp_path: Path) -> None:
    csv_path, images = hundred
    out = tmp_path / "out.jsonl"
    first = convert(csv_path, out, quiet(image_root=images))
    content = out.read_bytes()
    second = convert(csv_path, out, quiet(image_root=images))
    assert first.kept == 100
    assert (second.kept, second.resumed, second.total_dropped) == (0, 100, 0)
    assert out.read_bytes() == content


def test_a_run_killed_mid_line_resumes_without_loss_or_duplicates(hundred, tmp_path: Path) -> None:
    csv_path, images = hundred
    clean = tmp_path / "clean.jsonl"
    convert(csv_path, clean, quiet(image_root=images))
    lines = clean.read_bytes().splitlines(keepends=True)
    killed = tmp_path / "killed.jsonl"
    killed.write_bytes(b"".join(lines[:37]) + lines[37][:25])  # 37 rows, then a torn line
    report = convert(csv_path, killed, quiet(image_root=images))
    assert (report.resumed, report.kept) == (37, 63)
    assert killed.read_bytes() == clean.read_bytes()


def test_a_torn_line_that_happens_to_end_in_a_newline_is_also_cut(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"image_id": "a"}\n{"image_id": "b"}\n{"image_id": "c", "ima\n')
    assert len(existing_ids(out)) == 2
    assert out.read_text() == '{"image_id": "a"}\n{"image_id": "b"}\n'


def test_rm_out_starts_afresh(hundred, tmp_path: Path) -> None:
    csv_path, images = hundred
    out = tmp_path / "out.jsonl"
    convert(csv_path, out, quiet(image_root=images))
    report = convert(csv_path, out, quiet(image_root=images), rm_out=True)
    assert (report.kept, report.resumed) == (100, 0)
    assert len(read_jsonl(out)) == 100


def test_an_output_that_is_not_ours_is_refused_not_overwritten(hundred, tmp_path: Path) -> None:
    csv_path, images = hundred
    out = tmp_path / "out.jsonl"
    out.write_text("some other file\n")
    with pytest.raises(ValueError, match="not a globe-data output line.*--rm-out"):
        convert(csv_path, out, quiet(image_root=images))
    assert out.read_text() == "some other file\n"


def test_chunks_stay_bounded_and_chunking_does_not_change_the_output(hundred, tmp_path: Path, monkeypatch) -> None:
    csv_path, images = hundred
    whole = tmp_path / "whole.jsonl"
    convert(csv_path, whole, quiet(image_root=images))
    sizes: list[int] = []
    original = Converter._flush

    def spy(self, chunk, *args):
        sizes.append(len(chunk))
        return original(self, chunk, *args)

    monkeypatch.setattr(Converter, "_flush", spy)
    chunked = tmp_path / "chunked.jsonl"
    convert(csv_path, chunked, quiet(image_root=images, chunk_size=7))
    assert max(sizes) == 7 and sum(sizes) == 100
    assert chunked.read_bytes() == whole.read_bytes()


def test_limit_stops_early(hundred, tmp_path: Path) -> None:
    csv_path, images = hundred
    report = validate(csv_path, quiet(image_root=images, limit=10))
    assert (report.rows_read, report.kept) == (10, 10)


def test_duplicates_across_chunks_and_across_a_resume_are_caught(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    jpeg(images / "a.jpg")
    jpeg(images / "b.jpg", 1)
    rows = [["a.jpg", 1.0, 2.0, "C", "Kenya"], ["b.jpg", 1.0, 2.0, "C", "Kenya"], ["a.jpg", 1.0, 2.0, "C", "Kenya"]]
    csv_path = write_csv(tmp_path / "x.csv", MP16_TEST_HEADER, rows)
    out = tmp_path / "x.jsonl"
    first = convert(csv_path, out, quiet(image_root=images, chunk_size=1))
    assert first.kept == 2 and dict(first.dropped) == {"duplicate_id": 1}
    again = convert(csv_path, out, quiet(image_root=images, chunk_size=1))
    assert (again.kept, again.resumed, dict(again.dropped)) == (0, 2, {"duplicate_id": 1})


def test_reward_model_rows_dedupe_by_id_and_reasoning(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    jpeg(images / "a.jpg")
    rows = [["a.jpg", "Clear signage in Thai.", "yes"], ["a.jpg", "Only sky, nothing to go on.", "no"],
            ["a.jpg", "Clear signage in Thai.", "yes"]]
    csv_path = write_csv(tmp_path / "rm.csv", ["IMG_ID", "response", "locatable"], rows)
    out = tmp_path / "rm.jsonl"
    report = convert(csv_path, out, quiet(image_root=images, dedupe_by="id+reasoning"))
    assert report.kept == 2 and dict(report.dropped) == {"duplicate_id": 1}
    assert [(r["locatable"], r["country"]) for r in read_jsonl(out)] == [("yes", ""), ("no", "")]
    assert "no country/city and no coordinates" in report.summary()
    again = convert(csv_path, out, quiet(image_root=images, dedupe_by="id+reasoning"))
    assert (again.kept, again.resumed) == (0, 2)
