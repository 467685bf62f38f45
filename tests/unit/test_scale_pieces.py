"""The pure pieces of the --ray job and the downloader: what crosses into Ray, and how a URL list is read."""
from __future__ import annotations

import pytest

from globe.catalog import GroundTruthRow
from globe.data.download import _error_kind, image_file, read_url_list
from globe.distill.pipeline import RowResult
from globe.distill.ray_job import result_from_json, result_to_json, row_from_line, row_to_line


def test_a_row_crosses_into_the_job_unchanged_ids_stay_strings():
    row = GroundTruthRow(country="Japan", city=None, lat=None, lon=139.65, image_id="00123",
                         image_path="/data/img/00123.jpg", index=7, problem=None)
    assert row_from_line(row_to_line(row)) == row
    weird = GroundTruthRow(image_id="a\nb \u00e9\u2028", image_path=None, problem="image outside root")
    line = row_to_line(weird)
    assert "\n" not in line and row_from_line(line) == weird


def test_a_result_crosses_back_unchanged():
    result = RowResult({"image_id": "x", "outcome": "kept", "teachers": [{"text": "caf\u00e9 \ud83d\ude00"}]},
                       {"image_id": "x", "images": ["../x.jpg"]}, [{"sample_id": "x#t0", "locatable": "yes"}])
    back = result_from_json(result_to_json(result))
    assert (back.ledger, back.sft_row, back.rm_rows, back.outcome) == (result.ledger, result.sft_row,
                                                                       result.rm_rows, "kept")


def test_a_url_list_is_read_by_alias_first_id_wins_ids_stay_strings(tmp_path):
    path = tmp_path / "urls.csv"
    path.write_text("img_id,Image_URL,latitude,longitude\n00123,http://h/a.jpg,1.5,2\n00123,http://h/dup.jpg,0,0\n"
                    ",http://h/noid.jpg,0,0\nb,,3,4\n")
    rows = read_url_list(path)
    assert [(r.image_id, r.url, r.lat, r.lon) for r in rows] == [("00123", "http://h/a.jpg", "1.5", "2"),
                                                                  ("b", "", "3", "4")]
    assert len(read_url_list(path, limit=1)) == 1


@pytest.mark.parametrize("header", ["url\nhttp://h/a.jpg\n", "IMG_ID,LAT\na,1\n", ""])
def test_a_url_list_without_id_or_url_column_is_refused(tmp_path, header):
    path = tmp_path / "urls.csv"
    path.write_text(header)
    with pytest.raises(ValueError, match="--urls"):
        read_url_list(path)


def test_an_image_is_kept_under_its_id_and_an_escaping_id_is_refused(tmp_path):
    from globe.data.image_paths import ImageOutsideRoot

    assert image_file(tmp_path, "00123") == tmp_path / "images" / "00123.jpg"
    assert image_file(tmp_path, "17_8c_9.jpg") == tmp_path / "images" / "17_8c_9.jpg"
    with pytest.raises(ImageOutsideRoot):
        image_file(tmp_path, "../../etc/passwd")


@pytest.mark.parametrize("message, kind", [
    ("Use of image disallowed by X-Robots-Tag directive", "disallowed by X-Robots-Tag"),
    ("<urlopen error timed out>", "timeout"), ("Image decoding error", "not an image"),
    ("HTTP Error 404: Not Found", "http error"),
    ("<urlopen error [Errno 111] Connection refused>", "connection refused"),
])
def test_failures_are_counted_by_kind(message, kind):
    assert _error_kind(message) == kind
