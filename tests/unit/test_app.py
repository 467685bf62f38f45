"""globe-app's logic without a browser or Gradio server: images, scoring, consensus, faults, map.

The locator runs against the loopback fake OpenAI server (in-process, milliseconds per request).
"""
from __future__ import annotations

import asyncio
import base64
import io
import itertools
import re
from pathlib import Path

import pytest
from PIL import Image

from globe.app.images import ImageProblem, exif_gps, file_digest, prepare_image
from globe.app.locate import AppError, LocateOptions, LocateResult, Locator, Progress, score_answer
from globe.app.samples import Truth, default_sample_root, load_samples
from globe.app.worldmap import Pin, map_svg
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.images import gps_jpeg, jpeg_bytes

AMSTERDAM = "<think>Canals and gabled brick houses.</think><answer>country: Netherlands\ncity: Amsterdam</answer>"
BRUSSELS = "<think>Art nouveau and waffles.</think><answer>country: Belgium\ncity: Brussels</answer>"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def run_locate(locator: Locator, path: Path | str, **options) -> LocateResult:
    async def go() -> LocateResult:
        try:
            return await locator.locate(str(path), LocateOptions(**options))
        finally:
            await locator.close()

    return asyncio.run(go())


# ---------------------------------------------------------------------------- images


def test_exif_gps_reads_south_and_west_as_negative():
    image = Image.open(io.BytesIO(gps_jpeg(-22.9068, -43.1729)))
    lat, lon = exif_gps(image)
    assert lat == pytest.approx(-22.9068, abs=1e-4) and lon == pytest.approx(-43.1729, abs=1e-4)


def test_exif_gps_is_none_without_gps_tags():
    assert exif_gps(Image.open(io.BytesIO(jpeg_bytes(1)))) is None


def test_small_image_is_sent_byte_for_byte(tmp_path):
    data = gps_jpeg(48.8584, 2.2945)
    prepared = prepare_image(write(tmp_path / "p.jpg", data))
    assert prepared.data == data and not prepared.downscaled
    assert prepared.gps == pytest.approx((48.8584, 2.2945), abs=1e-4)


def test_huge_image_is_downscaled_to_the_pixel_budget_keeping_aspect_and_gps(tmp_path):
    path = write(tmp_path / "big.jpg", gps_jpeg(35.0116, 135.7681, size=(6000, 4000)))
    prepared = prepare_image(path, max_pixels=600_000)
    sent = Image.open(io.BytesIO(prepared.data))
    assert (prepared.width, prepared.height) == (6000, 4000)
    assert sent.size == (948, 632) == (prepared.sent_width, prepared.sent_height)  # sqrt(600000 / 24e6) = 0.158
    assert prepared.downscaled and prepared.gps == pytest.approx((35.0116, 135.7681), abs=1e-4)


def test_a_text_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(ImageProblem, match=r"notes\.txt is not an image: upload a JPEG, PNG"):
        prepare_image(write(tmp_path / "notes.txt", b"country: France\n"))


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(ImageProblem, match=r"empty\.jpg is empty"):
        prepare_image(write(tmp_path / "empty.jpg", b""))


def test_a_truncated_jpeg_is_refused(tmp_path):
    data = jpeg_bytes(3, size=(400, 300))
    with pytest.raises(ImageProblem, match=r"^cannot decode cut\.jpg: OSError: image file is truncated .*: upload the"):
        prepare_image(write(tmp_path / "cut.jpg", data[: len(data) // 2]))


# ---------------------------------------------------------------------------- small pure parts


def test_score_answer_resolves_a_city():
    answer = score_answer(AMSTERDAM)
    assert (answer.status, answer.country, answer.city, answer.place, answer.level) == (
        "ok", "Netherlands", "Amsterdam", "Amsterdam, Netherlands", "city")
    assert answer.lat == pytest.approx(52.37, abs=0.05) and answer.lon == pytest.approx(4.89, abs=0.05)


def test_score_answer_with_a_country_only_is_country_level():
    answer = score_answer("country: Portugal")
    assert (answer.status, answer.place, answer.level) == ("ok", "Portugal", "country")


def test_score_answer_without_answer_lines_is_no_answer():
    assert score_answer("It is hard to say.").status == "no_answer"


def test_options_outside_their_range_are_refused():
    with pytest.raises(AppError, match="samples must be a whole number from 1 to 16, got 17"):
        LocateOptions(samples=17).checked()
    with pytest.raises(AppError, match="temperature must be between 0 and 2"):
        LocateOptions(temperature=-1).checked()


def test_map_is_an_inline_svg_with_pins_where_they_belong_and_nothing_external():
    html = map_svg([Pin(52.37, 4.89, "consensus", "Amsterdam"), Pin(-33.45, -70.67, "truth", "truth"),
                    Pin(10.0, 20.0, "sample", "s")])
    assert '<circle class="pin pin-consensus" cx="184.890" cy="37.630"' in html
    assert 'class="pin pin-truth" points="109.330,' in html
    urls = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert urls and all(url.startswith("data:image/png;base64,") for url in urls)
    assert Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1]))).size == (1440, 720)
    assert html.count('class="pin pin-consensus"') == 2  # on the world and in the zoom around the pins
    assert 'class="globe-zoom" viewBox="-' in html


def test_the_zoom_spans_every_pin_and_at_least_330_km():
    from globe.app.worldmap import zoom_view

    view, width_km = zoom_view([Pin(38.72, -9.14, "consensus"), Pin(41.15, -8.61, "sample")])
    x0, y0, width, height = view.box
    for lat, lon in ((38.72, -9.14), (41.15, -8.61)):
        x, y = view.xy(lat, lon)
        assert x0 < x < x0 + width and y0 < y < y0 + height
    assert width == height and 330 < width_km < 1000
    assert 330 < zoom_view([Pin(1.35, 103.82, "truth")])[1] < 340


def test_bundled_samples_carry_their_ground_truth():
    samples = load_samples(default_sample_root())
    by_name = {sample.path.name: sample.truth for sample in samples}
    assert by_name["b8_bc_4682080358.jpg"] == Truth(52.3676, 4.9041, "sample ground truth", "Amsterdam, Netherlands")
    assert len(samples) == 12 and all(sample.path.is_file() for sample in samples)


# ---------------------------------------------------------------------------- the locator against a loopback server


@pytest.fixture(scope="module")
def amsterdam_sample() -> tuple[Path, Truth]:
    sample = next(s for s in load_samples(default_sample_root()) if s.path.name == "b8_bc_4682080358.jpg")
    return sample.path, sample.truth


def test_one_answer_with_the_sample_truth_distance_and_geoscore(amsterdam_sample):
    from globe.eval.metrics import geoscore
    from globe.geo import distance_km

    path, truth = amsterdam_sample
    with FakeOpenAIServer(default_answer=AMSTERDAM) as server:
        result = run_locate(Locator(server.url, sample_truths={file_digest(path.read_bytes()): truth}), path)
    data = result.as_json()
    assert (data["status"], data["country"], data["city"], data["place"], data["level"]) == (
        "ok", "Netherlands", "Amsterdam", "Amsterdam, Netherlands", "city")
    assert data["reasoning"] == "Canals and gabled brick houses."
    assert (data["agreement"], data["votes"], data["truth"]["source"]) == (1.0, 1, "sample ground truth")
    expected = distance_km((truth.lat, truth.lon), (data["lat"], data["lon"]))
    assert data["distance_km"] == pytest.approx(expected) and data["geoscore"] == pytest.approx(geoscore([expected]))


def test_several_samples_vote_with_the_evaluation_rule(tmp_path):
    answers = itertools.cycle([AMSTERDAM, BRUSSELS, AMSTERDAM, "no idea"])
    with FakeOpenAIServer(responder=lambda request: next(answers)) as server:
        result = run_locate(Locator(server.url), write(tmp_path / "p.jpg", jpeg_bytes(2)), samples=4, temperature=0.8)
        assert len(server.requests) == 4 and all(r["temperature"] == 0.8 and r["stream"] for r in server.requests)
    data = result.as_json()
    assert [(p["city"], p["votes"], p["share"]) for p in data["places"]] == [("Amsterdam", 2, 0.5), ("Brussels", 1, 0.25)]
    assert (data["city"], data["votes"], data["agreement"]) == ("Amsterdam", 2, 0.5)
    assert sorted(s["status"] for s in data["samples"]) == ["no_answer", "ok", "ok", "ok"]
    assert data["truth"] is None and data["distance_km"] is None


def test_exif_gps_becomes_the_truth(tmp_path):
    path = write(tmp_path / "phone.jpg", gps_jpeg(52.3676, 4.9041))
    with FakeOpenAIServer(default_answer=AMSTERDAM) as server:
        data = run_locate(Locator(server.url), path).as_json()
    assert data["truth"]["source"] == "EXIF GPS" and data["distance_km"] < 3


def test_a_model_without_an_answer_is_reported_not_raised(tmp_path):
    with FakeOpenAIServer(default_answer="I see a wall.") as server:
        data = run_locate(Locator(server.url), write(tmp_path / "p.jpg", jpeg_bytes(4))).as_json()
    assert (data["status"], data["country"], data["lat"], data["agreement"]) == ("no_answer", None, None, 0.0)
    assert data["message"].startswith("the model returned no answer")


def test_a_server_that_is_down_is_named_without_its_password(tmp_path):
    from globe.swift_run import free_port

    port = free_port()
    with pytest.raises(AppError) as caught:
        run_locate(Locator(f"http://bob:s3cret@127.0.0.1:{port}/v1"), write(tmp_path / "p.jpg", jpeg_bytes(5)))
    message = str(caught.value)
    assert message.startswith(f"The model server at http://***@127.0.0.1:{port}/v1 is not answering: start it")
    assert "s3cret" not in message


def test_a_failing_sample_is_recorded_while_the_others_answer(tmp_path):
    calls = itertools.count()

    def responder(request):
        if next(calls) == 1:
            raise RuntimeError("boom")
        return AMSTERDAM

    with FakeOpenAIServer(responder=responder) as server:
        data = run_locate(Locator(server.url), write(tmp_path / "p.jpg", jpeg_bytes(6)), samples=3).as_json()
    assert sorted(s["status"] for s in data["samples"]) == ["failed", "ok", "ok"]
    failed = next(s for s in data["samples"] if s["status"] == "failed")
    assert "HTTP 500" in failed["error"] and (data["votes"], data["agreement"]) == (2, pytest.approx(2 / 3))


def test_every_sample_failing_is_an_error(tmp_path):
    with FakeOpenAIServer(error_rate=1.0) as server:
        with pytest.raises(AppError, match=r"The model server at http://127\.0\.0\.1:\d+/v1 failed: HTTP 500"):
            run_locate(Locator(server.url), write(tmp_path / "p.jpg", jpeg_bytes(7)), samples=2)


def test_text_streams_in_before_the_result(tmp_path):
    long_answer = "<think>" + "word " * 40 + "</think><answer>country: Chile\ncity: Santiago</answer>"
    updates: list = []

    async def go(locator: Locator) -> None:
        image = locator.prepare(str(write(tmp_path / "p.jpg", jpeg_bytes(8))))
        async for update in locator.stream(image, LocateOptions()):
            updates.append(update)
        await locator.close()

    with FakeOpenAIServer(default_answer=long_answer, stream_chunk_delay_s=0.01) as server:
        asyncio.run(go(Locator(server.url)))
    assert updates[0] == Progress(("",), None)  # sent, nothing back yet
    progress = [u for u in updates[1:] if isinstance(u, Progress)]
    assert isinstance(updates[-1], LocateResult) and updates[-1].as_json()["city"] == "Santiago"
    assert len(progress) >= 3 and 0 < len(progress[0].texts[0]) < len(long_answer)
    assert progress[-1].texts[0] == long_answer


def test_the_reward_model_adds_the_locatability_of_the_reported_reasoning(tmp_path):
    with FakeOpenAIServer(default_answer=AMSTERDAM) as policy, FakeOpenAIServer(default_answer="yes") as reward_model:
        data = run_locate(Locator(policy.url, rm_url=reward_model.url), write(tmp_path / "p.jpg", jpeg_bytes(9))).as_json()
        rm_text = [part["text"] for part in reward_model.requests[0]["messages"][-1]["content"] if part["type"] == "text"]
    assert data["locatability"] == pytest.approx(0.9) and data["locatability_note"] is None
    # The reported sample, sent as the locatability reward sends a completion (its GLOBE_RM_* settings).
    from globe.locatability import LocatabilityConfig, rm_input_text

    assert rm_text == [rm_input_text(AMSTERDAM, LocatabilityConfig.from_env(url=reward_model.url).input)]


def test_a_reward_model_that_is_down_leaves_the_answer_and_says_why(tmp_path):
    from globe.swift_run import free_port

    rm_url = f"http://127.0.0.1:{free_port()}/v1"
    with FakeOpenAIServer(default_answer=AMSTERDAM) as policy:
        data = run_locate(Locator(policy.url, rm_url=rm_url), write(tmp_path / "p.jpg", jpeg_bytes(10))).as_json()
    assert data["city"] == "Amsterdam" and data["locatability"] is None
    assert data["locatability_note"].startswith(f"locatability unavailable: the reward model at {rm_url} did not score")


def test_a_server_that_hangs_is_a_timeout_message(tmp_path):
    with FakeOpenAIServer(hang_rate=1.0, hang_s=5) as server:
        with pytest.raises(AppError, match=r"^The model server at http://127\.0\.0\.1:\d+/v1 failed: no data from "
                                           r"http://127\.0\.0\.1:\d+/v1/chat/completions within the 0\.5 s timeout$"):
            run_locate(Locator(server.url, timeout=0.5), write(tmp_path / "p.jpg", jpeg_bytes(11)))


# ---------------------------------------------------------------------------- the command


def test_globe_app_refuses_a_url_that_is_not_http(capsys):
    from globe.app.cli import main

    assert main(["--url", "127.0.0.1:8000/v1"]) == 2
    assert "base_url must start with http:// or https://, got '127.0.0.1:8000/v1'" in capsys.readouterr().err


def test_globe_app_needs_a_server_or_a_model_to_serve(capsys):
    from globe.app.cli import main

    with pytest.raises(SystemExit):
        main([])
    assert "one of the arguments --url --serve is required" in capsys.readouterr().err


@pytest.mark.parametrize(("variables", "expected"), [
    ([], '-m globe.app --serve "${GLOBE_MODEL:-tiny}" --port 7860'),
    (["APP_URL=http://127.0.0.1:8000/v1", "APP_PORT=7999"], '-m globe.app --url "http://127.0.0.1:8000/v1" --port 7999'),
])
def test_make_app_runs_globe_app_on_the_tiny_model_or_the_given_server(repo_root, variables, expected):
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # --no-print-directory: under `make test` this make is nested and would add "Leaving directory" lines
    printed = subprocess.run(["make", "--no-print-directory", "-n", "app", *variables], cwd=repo_root,
                             capture_output=True, text=True, check=True).stdout
    assert expected in printed.splitlines()[-1]
