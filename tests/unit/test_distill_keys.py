"""Keys given to globe-distill never become a model name and never reach an output file."""
from __future__ import annotations

import pytest

from globe.distill.pipeline import Endpoint
from tests.support.fake_openai import FakeOpenAIServer

from test_distill_pipeline import KNOWN, distill, make_world, scripted  # noqa: E402

KEY = "sk-distill-0123456789"


@pytest.mark.parametrize(
    "spec, url, model",
    [
        ("http://h:8000/v1=Qwen/Qwen2.5-VL-72B-Instruct", "http://h:8000/v1", "Qwen/Qwen2.5-VL-72B-Instruct"),
        ("http://h:8000/v1/", "http://h:8000/v1", None),
        (f"http://h/v1?api-key={KEY}", f"http://h/v1?api-key={KEY}", None),
        (f"http://h/v1=m1?api-key={KEY}&x=a=b", f"http://h/v1?api-key={KEY}&x=a=b", "m1"),
    ],
)
def test_teacher_spec_splits_the_model_before_any_query_string(spec, url, model):
    endpoint = Endpoint.parse(spec)
    assert (endpoint.url, endpoint.model) == (url, model)
    assert KEY not in repr(endpoint) and KEY not in endpoint.name


def test_keys_in_the_teacher_url_and_echoed_by_the_server_reach_no_output_file(tmp_path, monkeypatch):
    header_key = "sk-header-9876543210"
    monkeypatch.setenv("GLOBE_TEACHER_API_KEY", header_key)
    gt = make_world(tmp_path, ["PARIS", "ROME"])
    with FakeOpenAIServer(responder=scripted(KNOWN), echo_auth=True, error_rate=1.0,
                          error_status=401) as server:
        code = distill(tmp_path, gt, [f"{server.url}?api-key={KEY}"], "--retries", "0")
        assert server.counts["requests"] > 0
    assert code in (0, 1)
    outputs = [path for path in (tmp_path / "out").rglob("*") if path.is_file()]
    assert outputs
    texts = {path.name: path.read_text(errors="replace") for path in outputs}
    assert any("http_401" in text for text in texts.values())  # the echoing error was recorded...
    for name, text in texts.items():
        assert KEY not in text and header_key not in text, name  # ...without the keys
