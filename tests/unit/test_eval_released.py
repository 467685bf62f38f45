"""``globe-eval --released-settings`` gives the released eval's string accuracies and sends its request.

Against a loopback scripted server: OSV-5M-style truth (``country`` holds ISO codes such as
``FI``), IM2GPS3K-style truth (no ``country``/``city`` columns) and a row the released loop
skipped (no coordinates) give the numbers the released script printed, recomputed by the
oracle of :mod:`released_oracle` and stated by hand; each file's bytes arrive unchanged as
``data:image;base64``; the identity metrics keep GLOBE's truth, and the summary says so.
"""
from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import pytest

import released_oracle as oracle  # tests/unit is on sys.path
from globe.eval.cli import main
from tests.support.fake_openai import FakeOpenAIServer, image_marker, marked_jpeg

OSV_HEADER = ["id", "latitude", "longitude", "thumb_original_url", "country", "sequence", "captured_at", "region",
              "sub-region", "city"]
IM2GPS_HEADER = ["IMG_ID", "AUTHOR", "LAT", "LON", "S3_Label"]


def answer(country: str, city: str, before: str = "") -> str:
    return f"{before}<think>Signs and trams.</think><answer>country: {country}\ncity: {city}</answer>"


def write_set(directory: Path, header: list[str], rows: list[dict[str, str]], answers: list[str],
              size: tuple[int, int] = (32, 24)) -> tuple[Path, Path, dict[str, str]]:
    """A ground-truth CSV in the given layout, one marked JPEG per row (``<id>.jpg``) and the scripted answers."""
    images = directory / "images"
    images.mkdir(parents=True, exist_ok=True)
    gt_file = directory / "gt.csv"
    scripted = {}
    with open(gt_file, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for index, (row, text) in enumerate(zip(rows, answers, strict=True)):
            writer.writerow(row)
            name = row.get("IMG_ID") or f"{row['id']}.jpg"
            (images / name).write_bytes(marked_jpeg(image_marker(name), size=size, color=(index * 40 % 256, 90, 120)))
            scripted[image_marker(name)] = text
    return gt_file, images, scripted


def run(server: FakeOpenAIServer, gt_file: Path, images: Path, output: Path, *extra: str) -> dict:
    code = main(["--url", server.url, "--gt-file", str(gt_file), "--image-root", str(images), "--output", str(output),
                 "--quiet", "--no-plots", *extra])
    assert code == 0
    return json.loads(output.with_suffix(".json").read_text())


def released_numbers(gt_file: Path, scripted: dict[str, str], use_cot: bool) -> tuple[float, float]:
    with open(gt_file, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [scripted[image_marker(row.get("IMG_ID") or f"{row['id']}.jpg")] for row in rows]
    return oracle.string_accuracies(rows, texts, use_cot)


def osv(index: int, lat: str, lon: str, country: str, city: str = "") -> dict[str, str]:
    return {"id": f"31797071860579{index:03d}", "latitude": lat, "longitude": lon, "country": country, "city": city,
            "sequence": f"seq{index}"}


def test_osv5m_style_truth_gives_the_released_string_accuracy(tmp_path):
    rows = [
        osv(1, "60.1699", "24.9384", "FI"),  # "finland" does not match "FI" (2/7 of its length)
        osv(2, "60.2055", "24.6559", "FI"),  # "fi" matches "FI"; no city name: no city matches
        osv(3, "52.2297", "21.0122", "PL", "Warsaw"),  # "poland" vs "PL": no; the city cell as written: yes
        osv(4, "", "21.0122", "PL", "Warsaw"),  # no latitude: the released loop skipped it (out of n too)
        osv(5, "48.8566", "2.3522", "FR", "Paris"),  # no answer: wrong, in the denominator
    ]
    answers = [answer("Finland", "Helsinki"), answer("FI", "Espoo"), answer("Poland", "Warsaw", before="Hmm. "),
               answer("Poland", "Warsaw"), "I cannot tell."]
    gt_file, images, scripted = write_set(tmp_path, OSV_HEADER, rows, answers)
    with FakeOpenAIServer(answers=scripted) as server:
        summary = run(server, gt_file, images, tmp_path / "out.csv", "--released-settings", "--use-cot")
    assert (summary["country_acc_string"], summary["city_acc_string"]) == (0.25, 0.25)  # 1 of 4 kept rows each
    assert (summary["country_acc_string"], summary["city_acc_string"]) == released_numbers(gt_file, scripted, True)
    assert summary["n_string_rows"] == 4 and summary["n"] == 5
    assert summary["string_truth"] == "released"
    assert summary["metric_truth"]["country_acc_string"].startswith("released")
    assert summary["metric_truth"]["country_acc"].startswith("globe")
    assert summary["country_acc"] >= 0.4  # identity, GLOBE's truth: "FI" is Finland, "PL" Poland


def test_im2gps3k_style_truth_without_names_gives_zero_string_accuracy(tmp_path):
    rows = [{"IMG_ID": "a.jpg", "AUTHOR": "x", "LAT": "48.85341", "LON": "2.3488", "S3_Label": "2"},
            {"IMG_ID": "b.jpg", "AUTHOR": "y", "LAT": "35.6895", "LON": "139.69171", "S3_Label": "1"}]
    answers = [answer("France", "Paris"), answer("Japan", "Tokyo")]
    gt_file, images, scripted = write_set(tmp_path, IM2GPS_HEADER, rows, answers)
    with FakeOpenAIServer(answers=scripted) as server:
        released = run(server, gt_file, images, tmp_path / "released.csv", "--released-settings", "--use-cot")
        ours = run(server, gt_file, images, tmp_path / "ours.csv", "--use-cot")
    assert (released["country_acc_string"], released["city_acc_string"]) == (0.0, 0.0) \
        == released_numbers(gt_file, scripted, True)
    assert released["n_string_rows"] == 2
    assert released["country_acc"] == 1.0  # identity against reverse-geocoded truth, as without the flag
    assert ours["country_acc_string"] == 1.0 and ours["string_truth"] == "globe"


def test_direct_answers_are_read_as_the_released_eval_read_them(tmp_path):
    rows = [{"IMG_ID": "a.jpg", "LAT": "48.85341", "LON": "2.3488", "country": "France", "city": "Paris"}]
    answers = ["country: Spain\ncity: Madrid\n<answer>country: France\ncity: Paris</answer>"]
    gt_file, images, scripted = write_set(tmp_path, ["IMG_ID", "LAT", "LON", "country", "city"], rows, answers)
    with FakeOpenAIServer(answers=scripted) as server:
        direct = run(server, gt_file, images, tmp_path / "direct.csv", "--released-settings")
        cot = run(server, gt_file, images, tmp_path / "cot.csv", "--released-settings", "--use-cot")
    assert direct["country_acc_string"] == 0.0 == released_numbers(gt_file, scripted, False)[0]
    assert cot["country_acc_string"] == 1.0 == released_numbers(gt_file, scripted, True)[0]


def test_released_settings_send_each_file_unchanged_with_the_released_transport(tmp_path):
    rows = [{"IMG_ID": "big.jpg", "LAT": "48.85341", "LON": "2.3488", "country": "France", "city": "Paris"}]
    gt_file, images, scripted = write_set(tmp_path, ["IMG_ID", "LAT", "LON", "country", "city"], rows,
                                          [answer("France", "Paris")], size=(1200, 1000))  # over the pixel budget
    sent = (images / "big.jpg").read_bytes()
    with FakeOpenAIServer(answers=scripted, error_rate=1.0, max_faults_per_request=2) as server:
        summary = run(server, gt_file, images, tmp_path / "out.csv", "--released-settings")
        url = server.requests[-1]["messages"][1]["content"][0]["image_url"]["url"]
    assert url == "data:image;base64," + base64.b64encode(sent).decode("ascii")
    assert summary["request"]["timeout_s"] == 60.0 and summary["request"]["retries"] == 2
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["status"], row["attempts"]) == ("ok", "3")  # two failures, then the answer: 2 retries
    with FakeOpenAIServer(answers=scripted) as server:
        run(server, gt_file, images, tmp_path / "ours.csv")
        ours = server.requests[-1]["messages"][-1]["content"][0]["image_url"]["url"]
    assert ours.startswith("data:image/jpeg;base64,") and base64.b64decode(ours.split(",", 1)[1]) != sent


@pytest.mark.parametrize("released", [True, False])
def test_score_subcommand_recomputes_the_same_string_accuracy(tmp_path, released):
    rows = [osv(1, "60.2055", "24.6559", "FI"), osv(2, "52.2297", "21.0122", "PL", "Warsaw")]
    gt_file, images, scripted = write_set(tmp_path, OSV_HEADER, rows, [answer("FI", "Espoo"), answer("Poland", "x")])
    flags = ("--released-settings",) if released else ()
    with FakeOpenAIServer(answers=scripted) as server:
        summary = run(server, gt_file, images, tmp_path / "out.csv", "--use-cot", *flags)
    assert main(["score", str(tmp_path / "out.csv"), "--summary", str(tmp_path / "again.json"), "--no-plots",
                 "--use-cot", *flags]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    keys = ("country_acc_string", "city_acc_string", "n_string_rows", "string_truth")
    assert {key: again[key] for key in keys} == {key: summary[key] for key in keys}


def test_globe_infer_released_settings_send_the_released_snippets_request(tmp_path, capsys):
    from globe.eval.infer import main as infer_main
    from globe.prompts import GEO_COT_PROMPT

    image = tmp_path / "big.jpg"
    image.write_bytes(marked_jpeg("IMG", size=(1200, 1000)))
    with FakeOpenAIServer(default_answer=answer("France", "Paris"), error_rate=1.0, max_faults_per_request=2) as server:
        assert infer_main([str(image), "--url", server.url, "--released-settings"]) == 0
        released = server.requests[-1]
        assert len(server.requests) == 3  # two failures, then the answer: the OpenAI client's 2 retries
    with FakeOpenAIServer(default_answer=answer("France", "Paris")) as server:
        assert infer_main([str(image), "--url", server.url]) == 0
        ours = server.requests[-1]
    assert released["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert (released["temperature"], released["max_tokens"], bool(released.get("stream"))) == (0.6, 512, False)
    [image_part, text_part] = released["messages"][1]["content"]
    assert image_part["image_url"]["url"] == "data:image;base64," + base64.b64encode(image.read_bytes()).decode()
    assert text_part["text"] == GEO_COT_PROMPT  # the snippet's prompt_cot is the training prompt
    assert (ours["temperature"], ours["max_tokens"], ours.get("stream")) == (0.0, 1024, True)
    assert ours["messages"][0]["role"] == "user"
    assert "country='france'" in capsys.readouterr().err.lower()


@pytest.mark.parametrize("flags, prompt", [
    ((), "GEO_DIRECT_PROMPT"), (("--released-settings",), "RELEASED_EVAL_DIRECT_PROMPT")])
def test_globe_infer_direct_prompt(tmp_path, flags, prompt):
    from globe import prompts
    from globe.eval.infer import main as infer_main

    image = tmp_path / "a.jpg"
    image.write_bytes(marked_jpeg("IMG"))
    with FakeOpenAIServer(default_answer="country: France\ncity: Paris") as server:
        assert infer_main([str(image), "--url", server.url, "--no-use-cot", *flags]) == 0
        [text_part] = [part for part in server.requests[-1]["messages"][-1]["content"] if part["type"] == "text"]
    assert text_part["text"] == getattr(prompts, prompt)
