"""The page in a real browser (Debian's Chromium driven by playwright): upload, stream, answer, map, offline.

Every request the page makes is routed through the test: anything not addressed to 127.0.0.1 or
localhost is recorded and aborted, and the test fails if there was any (the map, the fonts and
Gradio's own assets must all come from the app). The screenshot is saved as ``app.png`` under
the test's tmp_path (printed), to look at.
"""
from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import pytest

pytest.importorskip("gradio", reason="the app extra is not installed (pip install -e '.[app]')")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")

pytestmark = pytest.mark.integration

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SAMPLE = "eval_images/cb_c8_3883089875.jpg"  # Lisbon, Portugal in the sample's ground truth
ANSWERS = [
    "<think>Yellow trams climb steep cobbled streets; azulejo tiles on the facades; the Tagus estuary.</think>"
    "<answer>country: Portugal\ncity: Lisbon</answer>",
    "<think>Terracotta roofs and tiled facades by a wide river.</think><answer>country: Portugal\ncity: Porto</answer>",
]


def chromium_executable() -> str | None:
    """The system Chromium binary (not Debian's wrapper script, which needs a desktop session)."""
    for candidate in (os.environ.get("GLOBE_CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def page_url():
    import itertools

    from globe.app.locate import Locator
    from globe.app.samples import default_sample_root, load_samples, truths_by_digest
    from globe.app.ui import build_app, launch
    from globe.swift_run import free_port
    from tests.support.fake_openai import FakeOpenAIServer

    answers = itertools.cycle([ANSWERS[0], ANSWERS[0], ANSWERS[1]])
    with FakeOpenAIServer(responder=lambda request: next(answers), stream_chunk_delay_s=0.03) as server:
        samples = load_samples(default_sample_root())
        app = build_app(Locator(server.url, sample_truths=truths_by_digest(samples)), samples)
        port = free_port()
        launch(app, "127.0.0.1", port, block=False)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            app.close()


def test_the_page_streams_the_reasoning_and_shows_the_answer_on_an_offline_map(page_url, repo_root, tmp_path):
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium on this machine: install Debian's `chromium` package (.ci/run does, as root)")
    outside: list[str] = []

    def route(route_request):
        url = route_request.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route_request.continue_()
        else:
            outside.append(url)
            route_request.abort()

    with playwright_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        except Exception as exc:  # noqa: BLE001 - a browser that cannot start here is a skip, with the reason
            pytest.skip(f"Chromium at {executable} does not start: {exc}")
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.route("**/*", route)
            page.goto(page_url, wait_until="networkidle")
            page.set_input_files("#photo input[type=file]", str(repo_root / "data" / "sample" / SAMPLE))
            samples = page.get_by_label("number input for Samples")
            samples.fill("3")
            samples.press("Enter")
            page.wait_for_selector("#photo img", timeout=15_000)
            page.click("#locate")
            # The reasoning streams in: partial text is on the page while the model is still writing.
            page.wait_for_function(
                "() => { const t = document.querySelector('#reasoning textarea');"
                " const s = document.querySelector('#status');"
                " return t && t.value.length > 0 && s && s.innerText.includes('writing'); }", timeout=30_000)
            page.wait_for_selector("#status .globe-status-ok", timeout=60_000)
            answer = page.inner_text("#answer")
            map_html = page.inner_html("#map")
            reasoning = page.input_value("#reasoning textarea")
            screenshot = tmp_path / "app.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot: {screenshot}")
        finally:
            browser.close()

    assert outside == [], f"the page reached outside the machine: {outside}"
    assert "Lisbon, Portugal" in answer and "2 of 3 samples (67%)" in answer
    assert "truth (sample ground truth): Lisbon, Portugal" in answer and "GeoScore" in answer
    assert map_html.count('class="pin pin-sample"') == 2 * 3  # on the world map and in the zoom
    assert 'class="pin pin-consensus"' in map_html and 'class="pin pin-truth"' in map_html
    assert reasoning.count("--- sample") == 3 and "Yellow trams" in reasoning
    assert screenshot.stat().st_size > 50_000  # a real rendering of the page, map included
