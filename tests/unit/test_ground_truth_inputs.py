"""Hostile ground truth, read by every tool alike: a broken line never hides the rest of the file,
no image id reaches outside the image root, and every tool labels a coordinate with the same place."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from globe.data.convert import ConvertOptions, convert, read_jsonl, validate
from globe.data.image_paths import ImageOutsideRoot, confined_names, resolve_image_path
from globe.eval.cli import main as eval_main
from globe.eval.data import load_ground_truth
from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg, write_scripted_eval_set

ANSWER = "<answer>country: France\ncity: Paris</answer>"


def gt_lines(n: int) -> list[str]:
    return [f"{i}.jpg,48.85,2.35,France,Paris" for i in range(n)]


def write_gt(path: Path, lines: list[str]) -> Path:
    path.write_text("IMG_ID,LAT,LON,country,city\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def options(**kwargs) -> ConvertOptions:
    return ConvertOptions(progress=False, workers=1, **kwargs)


def evaluate(gt_file: Path, images: Path, answers: dict[str, str], output: Path) -> tuple[dict, int]:
    """globe-eval against a scripted server: the run's summary and how many requests reached the server."""
    with FakeOpenAIServer(answers=answers) as server:
        assert eval_main(["--url", server.url, "--gt-file", str(gt_file), "--image-root", str(images),
                          "--output", str(output), "--quiet", "--no-plots"]) == 0
        requests = len(server.requests)
    return json.loads(output.with_suffix(".json").read_text()), requests


# --------------------------------------------------------------- one bad cell never hides the rest


def test_an_unclosed_quote_in_row_5_of_200_is_one_bad_row_for_eval(tmp_path):
    lines = gt_lines(200)
    lines[4] = '4.jpg,48.85,2.35,"France,Paris'
    gt = load_ground_truth(write_gt(tmp_path / "gt.csv", lines), tmp_path)
    assert len(gt.rows) == 200
    assert [row.index for row in gt.rows if row.problem] == [4]
    assert gt.rows[4].problem == ("unparsable CSV line 6: a quote opened on this line is never closed (it runs to "
                                  "the end of the file); fix the quoting of this line")
    assert [row.image_id for row in gt.rows[5:7]] == ["5.jpg", "6.jpg"]


def test_an_unclosed_quote_in_row_5_of_200_is_one_dropped_row_for_globe_data(tmp_path):
    lines = gt_lines(200)
    lines[4] = '4.jpg,48.85,2.35,"France,Paris'
    report = validate(write_gt(tmp_path / "gt.csv", lines), options(image_check="none"))
    assert report.rows_read == 200
    assert (report.kept, dict(report.dropped)) == (199, {"malformed_row": 1})
    assert report.examples["malformed_row"][0].startswith("line 6: a quote opened on this line is never closed")


def test_a_150_kb_cell_in_row_4_is_read_whole_by_eval_and_globe_data(tmp_path):
    lines = [f"{i}.jpg,48.85,2.35,France,Paris,x" for i in range(200)]
    lines[3] = f'3.jpg,48.85,2.35,France,Paris,"{"long reasoning " * 10_000}"'
    path = tmp_path / "gt.csv"
    path.write_text("IMG_ID,LAT,LON,country,city,reasoning\n" + "\n".join(lines) + "\n", encoding="utf-8")
    gt = load_ground_truth(path, tmp_path)
    assert len(gt.rows) == 200 and not any(row.problem for row in gt.rows)
    assert len(gt.rows[3].raw["reasoning"]) == 150_000
    report = validate(path, options(image_check="none"))
    assert (report.rows_read, report.kept, report.total_dropped) == (200, 200, 0)


def test_a_quoted_cell_spanning_lines_is_still_one_row(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text('IMG_ID,LAT,LON,country,city,reasoning\na.jpg,1,2,Kenya,Nairobi,"two\nlines"\n'
                    'b.jpg,1,2,Kenya,Nairobi,x\n', encoding="utf-8")
    gt = load_ground_truth(path, tmp_path)
    assert [(row.image_id, row.raw["reasoning"], row.problem) for row in gt.rows] == [
        ("a.jpg", "two\nlines", None), ("b.jpg", "x", None)]


def test_a_file_that_is_not_utf8_stops_eval_naming_the_line(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_bytes(b"IMG_ID,LAT,LON,country,city\na.jpg,1,2,Switzerland,Z\xfcrich\n")
    from globe.eval.data import GroundTruthError

    with pytest.raises(GroundTruthError, match="line 2 is not UTF-8 text"):
        load_ground_truth(path, tmp_path)


def test_eval_summary_counts_every_row_of_a_file_with_an_unclosed_quote(tmp_path):
    rows = [(f"{i}.jpg", 48.85341, 2.3488, "France", "Paris", ANSWER) for i in range(200)]
    gt_file, images, answers = write_scripted_eval_set(tmp_path, rows)
    lines = gt_file.read_text().splitlines()
    lines[5] = '4.jpg,48.85341,2.3488,"France,Paris'  # data row 5
    gt_file.write_text("\n".join(lines) + "\n")
    summary, requests = evaluate(gt_file, images, answers, tmp_path / "out.csv")
    assert requests == 199
    assert (summary["n"], summary["n_failed"]) == (200, 1)
    assert summary["status_counts"] == {"ok": 199, "bad_row": 1}


# --------------------------------------------------------------- image ids stay inside the image root


@pytest.mark.parametrize("image_id", [".._.._secret.jpg", "../../x.jpg", "/etc/passwd",
                                      "C:\\x.jpg", "..", "", "sub/../../x.jpg"])
def test_ids_that_leave_the_root_after_any_transformation_are_refused(image_id):
    with pytest.raises(ImageOutsideRoot):
        confined_names(image_id)


def test_the_mp16_underscore_rule_cannot_reach_above_the_root(tmp_path):
    root = tmp_path / "a" / "b" / "images"
    root.mkdir(parents=True)
    (tmp_path / "a" / "secret.jpg").write_bytes(b"secret")  # what ".._.._secret.jpg" read as "../../secret.jpg" names
    with pytest.raises(ImageOutsideRoot, match="once read as"):
        resolve_image_path(root, ".._.._secret.jpg")


def test_a_symlink_out_of_the_root_is_refused_and_a_linked_root_is_fine(tmp_path):
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"secret")
    root = tmp_path / "images"
    root.mkdir()
    (root / "x.jpg").symlink_to(outside)
    (root / "ok.jpg").write_bytes(b"fine")
    with pytest.raises(ImageOutsideRoot, match="outside the image root"):
        resolve_image_path(root, "x.jpg")
    linked_root = tmp_path / "linked"
    linked_root.symlink_to(root)
    assert resolve_image_path(linked_root, "ok.jpg") == linked_root / "ok.jpg"


def test_eval_never_sends_an_image_from_outside_the_root(tmp_path):
    rows = [("ok.jpg", 48.85341, 2.3488, "France", "Paris", ANSWER)]
    gt_file, images, answers = write_scripted_eval_set(tmp_path / "a" / "b", rows)
    (tmp_path / "a" / "secret.jpg").write_bytes(marked_jpeg("<secret>"))  # two levels above images/
    (images / "link.jpg").symlink_to(tmp_path / "a" / "secret.jpg")
    with open(gt_file, "a", encoding="utf-8") as handle:
        handle.write(".._.._secret.jpg,48.85341,2.3488,France,Paris\nlink.jpg,48.85341,2.3488,France,Paris\n")
    summary, requests = evaluate(gt_file, images, answers, tmp_path / "out.csv")
    assert requests == 1
    assert summary["status_counts"] == {"ok": 1, "outside_image_root": 2}


@pytest.mark.parametrize("image_check", ["decode", "exists", "none"])
def test_globe_data_drops_ids_outside_the_root(tmp_path, image_check):
    root = tmp_path / "data" / "images"
    root.mkdir(parents=True)
    (root / "ok.jpg").write_bytes(marked_jpeg("<ok>"))
    (tmp_path / "x.jpg").write_bytes(marked_jpeg("<x>"))
    (root / "link.jpg").symlink_to(tmp_path / "x.jpg")
    ids = ["ok.jpg", "../../x.jpg", str(tmp_path / "x.jpg"), ".._.._x.jpg"]
    if image_check != "none":
        ids.append("link.jpg")  # a link is only followed where the file is looked at
    csv_path = write_gt(tmp_path / "gt.csv", [f"{image_id},48.85,2.35,France,Paris" for image_id in ids])
    out = tmp_path / "out.jsonl"
    report = convert(csv_path, out, options(image_root=root, image_check=image_check))
    assert dict(report.dropped) == {"outside_image_root": len(ids) - 1}
    assert [row["images"] for row in read_jsonl(out)] == [["data/images/ok.jpg"]]


def test_distill_never_uploads_an_image_outside_the_root(tmp_path):
    from globe.distill.cli import main as distill_main

    root = tmp_path / "images"
    root.mkdir()
    (root / "ok.jpg").write_bytes(marked_jpeg("<ok>"))
    (tmp_path / "secret.jpg").write_bytes(marked_jpeg("<secret>"))
    csv_path = write_gt(tmp_path / "gt.csv", ["ok.jpg,48.85,2.35,France,Paris", "../secret.jpg,48.85,2.35,France,Paris"])
    jsonl = tmp_path / "gt.jsonl"  # a ready JSONL naming a file outside --image-root
    jsonl.write_text("".join(json.dumps({"image_id": name, "images": [path], "country": "France", "city": "Paris",
                                         "lat": 48.85, "lon": 2.35}) + "\n"
                             for name, path in (("ok.jpg", "images/ok.jpg"), ("secret.jpg", "secret.jpg"))))
    for gt_file, out in ((csv_path, "out_csv"), (jsonl, "out_jsonl")):
        with FakeOpenAIServer(answers={"<ok>": "country: France\ncity: Paris"}) as server:
            assert distill_main(["--gt-file", str(gt_file), "--image-root", str(root), "--teacher", server.url,
                                 "--out-dir", str(tmp_path / out), "--no-progress"]) == 0
            sent = [json.dumps(request) for request in server.requests]
        assert len(sent) == 1, out
        report = json.loads((tmp_path / out / "report.json").read_text())
        if gt_file == jsonl:
            assert report["rows_in"] == 2
            ledger = [json.loads(line) for line in (tmp_path / out / "distill" / "ledger.jsonl").read_text().splitlines()]
            assert {e["image_id"]: e["reason"] for e in ledger} == {"ok.jpg": "no_reasoning",  # sent, answered
                                                                     "secret.jpg": "image_outside_root"}
        else:
            assert report["ground_truth"]["dropped"] == {"outside_image_root": 1}


# --------------------------------------------------------------- one reverse-geocoding rule


SUBURBS = [(51.5588, -0.2817), (-33.90, 151.05), (48.79, 2.455), (40.65, -73.95), (35.53, 139.70),
           (41.38, 2.11), (-23.65, -46.53), (19.35, -99.15), (28.49, 77.08), (37.40, -122.08), (45.50, -73.75),
           (-37.90, 145.10), (55.70, 37.80), (31.20, 121.60), (1.35, 103.95), (53.45, -2.25), (0.0, -160.0)]


def test_globe_data_and_globe_eval_label_every_point_alike(tmp_path):
    rng = random.Random(7)
    points = SUBURBS + [(round(rng.uniform(-60, 70), 4), round(rng.uniform(-180, 180), 4)) for _ in range(300)]
    csv_path = tmp_path / "im2gps3k.csv"
    csv_path.write_text("IMG_ID,AUTHOR,LAT,LON\n" + "".join(f"{i}.jpg,x,{lat},{lon}\n" for i, (lat, lon)
                                                             in enumerate(points)), encoding="utf-8")
    gt = load_ground_truth(csv_path, tmp_path)
    out = tmp_path / "out.jsonl"
    report = convert(csv_path, out, options(image_check="none", layout="im2gps3k"))
    converted = {row["image_id"]: (row["country"], row["city"] or None) for row in read_jsonl(out)}
    evaluated = {row.image_id: (row.country, row.city) for row in gt.rows}
    assert report.kept + report.dropped["geocode_failed"] == len(points)
    assert {image_id: evaluated[image_id] for image_id in converted} == converted
    assert all(evaluated[image_id] == (None, None) for image_id in evaluated if image_id not in converted)
    assert evaluated["0.jpg"] == ("United Kingdom", "London")  # not the borough "Brent"
    assert evaluated["1.jpg"] == ("Australia", "Sydney")  # not the suburb "Greenacre"
    assert evaluated[f"{len(SUBURBS) - 1}.jpg"] == (None, None)  # open Pacific: no misleading label
    assert 50 < len(converted) < len(points)

