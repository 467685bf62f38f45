"""Opt-in online geocoder: cache, rate limit, error handling; a loopback Nominatim stands in for the web."""
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from globe.geo import OnlineGeocoder


class FakeNominatim(BaseHTTPRequestHandler):
    """Answers /search like nominatim.openstreetmap.org for two known queries."""

    requests: list[dict] = []
    fail_next = 0

    def do_GET(self):  # noqa: N802 (http.server API)
        params = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        FakeNominatim.requests.append(params)
        if FakeNominatim.fail_next:
            FakeNominatim.fail_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        answers = {
            "Mont Saint-Michel, France": [{"lat": "48.6359", "lon": "-1.5114", "display_name": "Le Mont-Saint-Michel, France",
                                           "address": {"country_code": "fr"}}],
        }
        body = json.dumps(answers.get(params.get("q"), [])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    FakeNominatim.requests = []
    FakeNominatim.fail_next = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def make(domain, tmp_path, **kw):
    return OnlineGeocoder("nominatim", domain=domain, scheme="http", user_agent="globe-tests", min_delay_s=0.0,
                          cache_path=tmp_path / "geocode.jsonl", timeout=5, **kw)


def test_resolves_through_nominatim_and_restricts_to_the_country(nominatim, tmp_path):
    place = make(nominatim, tmp_path).resolve("France", "Mont Saint-Michel")
    assert (place.country_code, place.level) == ("FR", "city")
    assert place.lat == pytest.approx(48.6359) and place.lon == pytest.approx(-1.5114)
    assert FakeNominatim.requests[0]["countrycodes"] == "fr"


def test_answers_are_cached_on_disk_across_instances(nominatim, tmp_path):
    make(nominatim, tmp_path).resolve("France", "Mont Saint-Michel")
    again = make(nominatim, tmp_path)
    assert again.resolve("France", "Mont Saint-Michel").country_code == "FR"
    assert again.requests_made == 0
    assert len(FakeNominatim.requests) == 1


def test_not_found_is_cached_but_errors_are_retried(nominatim, tmp_path):
    geo = make(nominatim, tmp_path)
    assert geo.resolve("Narnia", "Cair Paravel") is None
    assert geo.resolve("Narnia", "Cair Paravel") is None
    assert len(FakeNominatim.requests) == 1
    FakeNominatim.fail_next = 5
    assert geo.resolve("France", "Mont Saint-Michel") is None  # HTTP 503: None, not an exception
    FakeNominatim.fail_next = 0
    assert geo.resolve("France", "Mont Saint-Michel").country_code == "FR"


def test_requests_are_spaced_by_min_delay(nominatim, tmp_path):
    geo = make(nominatim, tmp_path)
    geo.min_delay_s = 0.2
    start = time.monotonic()
    geo.resolve("France", "A")
    geo.resolve("France", "B")
    geo.resolve("France", "C")
    assert time.monotonic() - start >= 0.4


def test_a_cache_line_cut_by_a_kill_is_skipped(tmp_path):
    path = tmp_path / "geocode.jsonl"
    path.write_text('{"q": "Paris, France|FR", "r": {"name": "Paris", "lat": 48.85, "lon": 2.35, "cc": "FR"}}\n{"q": "Ly')

    class NoNetwork:
        def geocode(self, *a, **k):
            raise AssertionError("must not be called for a cached query")

    geo = OnlineGeocoder("nominatim", cache_path=path, geocoder=NoNetwork(), min_delay_s=0)
    assert geo.resolve("France", "Paris").lat == 48.85


def test_missing_credentials_are_named_in_the_error(monkeypatch):
    monkeypatch.delenv("GLOBE_AZURE_MAPS_KEY", raising=False)
    monkeypatch.delenv("GLOBE_NOMINATIM_USER_AGENT", raising=False)
    with pytest.raises(ValueError, match="GLOBE_AZURE_MAPS_KEY"):
        OnlineGeocoder("azure")
    with pytest.raises(ValueError, match="GLOBE_NOMINATIM_USER_AGENT"):
        OnlineGeocoder("nominatim")
    with pytest.raises(ValueError, match="provider"):
        OnlineGeocoder("google")


def test_importing_and_using_offline_geo_loads_no_network_client():
    code = (
        "import sys, globe.geo as g; g.resolve('USA','NYC'); g.reverse(0, 0); g.country_code('Deutschland');"
        "bad = [m for m in ('geopy.geocoders', 'requests', 'aiohttp', 'urllib3', 'http.client') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
