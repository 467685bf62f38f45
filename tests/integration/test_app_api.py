"""The ``/locate`` API end to end with ``gradio_client``, against a scripted loopback model server.

One Gradio app and one fake server for the whole module: the server picks its answer from a
marker hidden in each image's JPEG comment, so every test gets exact, known answers.
"""
from __future__ import annotations

import io
import time
from concurrent.futures import wait
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the app extra is not installed (pip install -e '.[app]')")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg  # noqa: E402
from tests.support.images import gps_jpeg  # noqa: E402

pytestmark = pytest.mark.integration

LISBON = "<think>Yellow trams on steep cobbled streets.</think><answer>country: Portugal\ncity: Lisbon</answer>"
ANSWERS = {
    "<<lisbon>>": LISBON,
    "<<silent>>": "I cannot tell anything from this picture.",
    "<<kyoto>>": "<think>Wooden machiya and a torii gate.</think><answer>country: Japan\ncity: Kyoto</answer>",
}


@pytest.fixture(scope="module")
def fake_server():
    with FakeOpenAIServer(answers=ANSWERS, latency_s=0.3) as server:
        yield server


@pytest.fixture(scope="module")
def app_url(fake_server):
    from globe.app.locate import Locator
    from globe.app.samples import default_sample_root, load_samples, truths_by_digest
    from globe.app.ui import build_app, launch
    from globe.swift_run import free_port

    samples = load_samples(default_sample_root())
    locator = Locator(fake_server.url, sample_truths=truths_by_digest(samples), max_pixels=200_000)
    app = build_app(locator, samples, concurrency=4)
    port = free_port()
    launch(app, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def image_file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_locate_returns_the_answer_as_json(client, tmp_path):
    result = client.predict(handle_file(image_file(tmp_path, "a.jpg", marked_jpeg("<<lisbon>>"))), api_name="/locate")
    assert (result["status"], result["country"], result["city"], result["place"], result["level"]) == (
        "ok", "Portugal", "Lisbon", "Lisbon, Portugal", "city")
    assert result["lat"] == pytest.approx(38.72, abs=0.05) and result["lon"] == pytest.approx(-9.14, abs=0.05)
    assert result["reasoning"] == "Yellow trams on steep cobbled streets."
    assert (result["agreement"], len(result["samples"]), result["samples"][0]["text"]) == (1.0, 1, LISBON)
    assert (result["model"], result["mode"], result["truth"]) == ("fake-model", "cot", None)


def test_a_bundled_sample_shows_its_truth_distance_and_geoscore(client, repo_root):
    sample = repo_root / "data" / "sample" / "eval_images" / "cb_c8_3883089875.jpg"  # Lisbon in the sample's truth
    result = client.predict(handle_file(str(sample)), "direct", 2, 0.0, api_name="/locate")
    assert result["truth"] == {"lat": 38.7223, "lon": -9.1393, "source": "sample ground truth", "label": "Lisbon, Portugal"}
    assert result["mode"] == "direct" and len(result["samples"]) == 2
    # The fake server's default answer is Paris: ~1450 km from Lisbon.
    assert result["city"] == "Paris" and 1400 < result["distance_km"] < 1500
    assert 5000 * 0.35 < result["geoscore"] < 5000 * 0.40 and result["agreement"] == 1.0


def test_exif_gps_is_the_truth_of_an_uploaded_photo(client, tmp_path):
    result = client.predict(handle_file(image_file(tmp_path, "phone.jpg", gps_jpeg(35.0116, 135.7681))),
                            api_name="/locate")
    assert result["truth"]["source"] == "EXIF GPS"
    assert result["truth"]["lat"] == pytest.approx(35.0116, abs=1e-4)


def test_a_model_without_an_answer_is_a_result_with_a_message(client, tmp_path):
    result = client.predict(handle_file(image_file(tmp_path, "s.jpg", marked_jpeg("<<silent>>"))), api_name="/locate")
    assert (result["status"], result["country"], result["city"], result["lat"]) == ("no_answer", None, None, None)
    assert result["message"].startswith("the model returned no answer")


def test_a_file_that_is_not_an_image_is_a_clear_error_and_the_app_keeps_serving(client, tmp_path):
    with pytest.raises(AppError, match=r"notes\.txt is not an image: upload a JPEG"):
        client.predict(handle_file(image_file(tmp_path, "notes.txt", b"hello")), api_name="/locate")
    after = client.predict(handle_file(image_file(tmp_path, "k.jpg", marked_jpeg("<<kyoto>>"))), api_name="/locate")
    assert after["city"] == "Kyoto"


def test_bad_parameters_are_clear_errors(client, tmp_path):
    photo = handle_file(image_file(tmp_path, "a.jpg", marked_jpeg("<<lisbon>>")))
    with pytest.raises(AppError, match="samples must be a whole number from 1 to 16, got 40"):
        client.predict(photo, "cot", 40, 0.0, api_name="/locate")
    with pytest.raises(AppError, match="mode must be one of cot, direct, got 'poem'"):
        client.predict(photo, "poem", 1, 0.0, api_name="/locate")


def test_a_huge_image_is_downscaled_before_it_is_sent(client, fake_server, tmp_path):
    from tests.support.fake_openai import _request_texts_and_images

    big = Image.new("RGB", (4000, 3000), (120, 160, 200))
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=80, comment=b"<<kyoto>>")
    before = len(fake_server.requests)
    result = client.predict(handle_file(image_file(tmp_path, "big.jpg", buffer.getvalue())), api_name="/locate")
    # The pixel budget, as globe-eval applies it: sqrt(200000 / 12e6) = 0.129 -> 516 x 387.
    assert result["image"] == {"width": 4000, "height": 3000, "sent_width": 516, "sent_height": 387,
                               "downscaled": True, "exif_gps": None}
    sent = _request_texts_and_images(fake_server.requests[before])[1][0]
    assert Image.open(io.BytesIO(sent)).size == (516, 387)


def test_a_server_that_stops_is_named_and_the_app_recovers_when_it_returns(client, fake_server, tmp_path):
    photo = handle_file(image_file(tmp_path, "a.jpg", marked_jpeg("<<lisbon>>")))
    port = fake_server.port
    fake_server.stop()
    try:
        with pytest.raises(AppError, match=rf"The model server at http://127\.0\.0\.1:{port}/v1 is not answering"):
            client.predict(photo, api_name="/locate")
    finally:
        fake_server.start(port)
    assert client.predict(photo, api_name="/locate")["city"] == "Lisbon"


def test_several_users_at_once_are_all_answered_through_the_queue(app_url, fake_server, tmp_path):
    clients = [Client(app_url, verbose=False) for _ in range(3)]
    photos = [handle_file(image_file(tmp_path, f"{i}.jpg", marked_jpeg("<<lisbon>>" if i % 2 else "<<kyoto>>")))
              for i in range(6)]
    fake_server.max_in_flight = 0
    started = time.perf_counter()
    jobs = [clients[i % 3].submit(photo, "cot", 2, 0.0, api_name="/locate") for i, photo in enumerate(photos)]
    wait(jobs, timeout=60)
    elapsed = time.perf_counter() - started
    assert [job.result()["city"] for job in jobs] == ["Kyoto", "Lisbon"] * 3
    # 12 requests of 0.3 s each: served side by side (concurrency 4 x 2 samples), not one after another.
    assert fake_server.max_in_flight > 2, (fake_server.max_in_flight, elapsed)
