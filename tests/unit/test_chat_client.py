"""Specification of globe.chat_client against the loopback fake server (tests.support.fake_openai)."""
from __future__ import annotations

import asyncio
import base64
import math
import socket

import pytest

from globe.chat_client import (
    ChatClient,
    ChatResult,
    ClientSettings,
    first_token_top_logprobs,
    image_data_url,
    parse_completion,
    redact,
    user_message,
)
from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg

FAST = dict(backoff=0.01, timeout=5.0)


def run(coro):
    return asyncio.run(coro)


async def _chat_once(url: str, messages=None, **client_kwargs) -> ChatResult:
    kwargs = {**FAST, **client_kwargs}
    async with ChatClient(url, **kwargs) as client:
        return await client.chat(messages or [user_message("where?")], max_tokens=16)


async def _chat_many(url: str, n: int, **client_kwargs) -> list[ChatResult]:
    kwargs = {**FAST, **client_kwargs}
    async with ChatClient(url, **kwargs) as client:
        return await asyncio.gather(*(client.chat([user_message(f"request {i}")]) for i in range(n)))


# --------------------------------------------------------------------------- successful requests


def test_chat_returns_text_usage_and_attempts():
    with FakeOpenAIServer(default_answer="country: Japan\ncity: Tokyo") as server:
        result = run(_chat_once(server.url))
    assert result.ok and result.status == "ok" and result.error is None
    assert result.text == "country: Japan\ncity: Tokyo"
    assert result.attempts == 1
    assert result.usage == {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}
    assert result.finish_reason == "stop"
    assert result.latency_s > 0


def test_answer_is_chosen_by_marker_in_image_bytes():
    answers = {"IMG-A": "country: Peru\ncity: Cusco", "IMG-B": "country: Chile\ncity: Santiago"}
    with FakeOpenAIServer(answers=answers) as server:
        result = run(_chat_once(server.url, [user_message("where?", marked_jpeg("IMG-B"))]))
    assert result.text == "country: Chile\ncity: Santiago"


def test_default_model_is_the_servers_first_model():
    with FakeOpenAIServer(model="served-model") as server:
        run(_chat_once(server.url))
        assert server.requests[0]["model"] == "served-model"


def test_explicit_model_and_sampling_parameters_are_sent():
    with FakeOpenAIServer() as server:
        async def go():
            async with ChatClient(server.url, model="mine", **FAST) as client:
                return await client.chat([user_message("q")], max_tokens=7, temperature=0.3, extra={"seed": 1})
        run(go())
        sent = server.requests[0]
    assert (sent["model"], sent["max_tokens"], sent["temperature"], sent["seed"]) == ("mine", 7, 0.3, 1)
    assert "logprobs" not in sent


def test_api_key_is_sent_as_bearer_token():
    with FakeOpenAIServer() as server:
        run(_chat_once(server.url, api_key="sk-test"))
        run(_chat_once(server.url))
        assert server.authorizations == ["Bearer sk-test", None]


def test_list_models():
    with FakeOpenAIServer(model="m1") as server:
        async def go():
            async with ChatClient(server.url, **FAST) as client:
                return await client.list_models()
        assert run(go()) == ["m1"]


def test_top_logprobs_of_first_token_are_parsed():
    with FakeOpenAIServer(default_answer="yes", top_logprobs={"yes": -0.2, "no": -1.8, "Yes": -3.0}) as server:
        async def go():
            async with ChatClient(server.url, **FAST) as client:
                return await client.chat([user_message("locatable?")], max_tokens=1, top_logprobs=2)
        result = run(go())
        assert server.requests[0]["logprobs"] is True and server.requests[0]["top_logprobs"] == 2
    assert result.first_token_top_logprobs == {"yes": -0.2, "no": -1.8}


def test_stream_yields_pieces_that_join_to_the_answer():
    answer = "<think>Red buses.</think>\n<answer>country: United Kingdom\ncity: London</answer>"
    with FakeOpenAIServer(default_answer=answer) as server:
        async def go():
            async with ChatClient(server.url, **FAST) as client:
                return [piece async for piece in client.stream([user_message("q")])]
        pieces = run(go())
    assert len(pieces) > 3
    assert "".join(pieces) == answer


# --------------------------------------------------------------------------- failures and retries


def test_transient_500s_are_retried_until_success():
    with FakeOpenAIServer(error_rate=1.0, max_faults_per_request=2) as server:
        result = run(_chat_once(server.url, retries=3))
        assert server.counts["error"] == 2
    assert result.ok and result.attempts == 3


def test_persistent_500_gives_a_failed_result_not_an_exception():
    with FakeOpenAIServer(error_rate=1.0) as server:
        result = run(_chat_once(server.url, retries=2))
    assert not result.ok and result.text is None
    assert result.status == "http_500"
    assert result.attempts == 3
    assert "injected fault" in result.error


def test_rate_limiting_429_is_retried():
    with FakeOpenAIServer(error_rate=1.0, error_status=429, max_faults_per_request=1) as server:
        result = run(_chat_once(server.url, retries=1))
    assert result.ok and result.attempts == 2


def test_client_errors_like_400_are_not_retried():
    with FakeOpenAIServer(error_rate=1.0, error_status=400) as server:
        result = run(_chat_once(server.url, retries=3))
    assert (result.ok, result.status, result.attempts) == (False, "http_400", 1)


def test_hanging_request_times_out():
    with FakeOpenAIServer(hang_rate=1.0, hang_s=5.0) as server:
        result = run(_chat_once(server.url, retries=1, timeout=0.2))
    assert (result.ok, result.status, result.attempts) == (False, "timeout", 2)


def test_garbled_body_is_a_bad_response_and_retried():
    with FakeOpenAIServer(garbage_rate=1.0, max_faults_per_request=1) as server:
        recovered = run(_chat_once(server.url, retries=1))
    with FakeOpenAIServer(garbage_rate=1.0) as server:
        failed = run(_chat_once(server.url, retries=0))
    assert recovered.ok and recovered.attempts == 2
    assert (failed.ok, failed.status) == (False, "bad_response")


def test_refused_connection_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket closes
    result = run(_chat_once(f"http://127.0.0.1:{port}/v1", model="m", retries=1))
    assert (result.ok, result.status, result.attempts) == (False, "connection_error", 2)


def test_unreachable_server_without_model_fails_per_request():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(_chat_once(f"http://127.0.0.1:{port}/v1", retries=0))
    assert (result.ok, result.status) == (False, "connection_error")
    assert "/models" in result.error


def test_twenty_percent_faults_every_request_completes():
    with FakeOpenAIServer(error_rate=0.1, hang_rate=0.1, hang_s=5.0, max_faults_per_request=2, seed=7) as server:
        results = run(_chat_many(server.url, 60, retries=3, timeout=0.3, concurrency=16))
        faults = server.counts["error"] + server.counts["hang"]
    assert all(result.ok for result in results)
    assert faults >= 6  # faults really were injected


def test_concurrency_is_bounded():
    with FakeOpenAIServer(latency_s=0.03) as server:
        results = run(_chat_many(server.url, 24, concurrency=4))
        assert server.max_in_flight == 4
    assert all(result.ok for result in results)


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after():
    client = ChatClient("http://127.0.0.1:1/v1", backoff=1.0)
    delays = [client._backoff_delay(n, None) for n in (1, 2, 3)]
    assert 0.5 <= delays[0] <= 1.5 and 1.0 <= delays[1] <= 3.0 and 2.0 <= delays[2] <= 6.0
    assert client._backoff_delay(1, 10.0) == 10.0
    assert client._backoff_delay(20, None) == 30.0  # capped


@pytest.mark.parametrize("kwargs", [{"base_url": "127.0.0.1:8000"}, {"base_url": "http://x/v1", "concurrency": 0},
                                    {"base_url": "http://x/v1", "retries": -1}])
def test_bad_settings_raise_clear_errors(kwargs):
    with pytest.raises(ValueError):
        ChatClient(**kwargs)


# --------------------------------------------------------------------------- pure helpers


def test_image_data_url_from_bytes_path_and_dict(tmp_path):
    jpeg = marked_jpeg("X")
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg)
    url = image_data_url(jpeg)
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == jpeg
    assert image_data_url(path) == url == image_data_url(str(path))
    assert image_data_url({"bytes": jpeg, "path": None}) == url == image_data_url({"path": str(path)})


def test_image_data_url_detects_png_and_passes_urls_through():
    assert image_data_url(b"\x89PNG\r\n\x1a\n....").startswith("data:image/png;base64,")
    assert image_data_url("https://example.org/a.jpg") == "https://example.org/a.jpg"


def test_image_data_url_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        image_data_url(tmp_path / "nope.jpg")


def test_user_message_puts_image_before_text():
    message = user_message("where?", b"\xff\xd8\xff\xe0")
    assert message["role"] == "user"
    assert [part["type"] for part in message["content"]] == ["image_url", "text"]
    assert message["content"][1]["text"] == "where?"
    assert user_message("hi") == {"role": "user", "content": "hi"}


def test_first_token_top_logprobs_keeps_best_per_token():
    choice = {"logprobs": {"content": [{"token": "yes", "logprob": -0.1, "top_logprobs": [
        {"token": "yes", "logprob": -0.1}, {"token": "no", "logprob": -2.5}, {"token": "no", "logprob": -3.0}]}]}}
    assert first_token_top_logprobs(choice) == {"yes": -0.1, "no": -2.5}
    assert first_token_top_logprobs({"logprobs": None}) is None
    assert first_token_top_logprobs({"logprobs": {"content": []}}) is None


def test_parse_completion_rejects_non_completions():
    with pytest.raises(ValueError, match="no choices"):
        parse_completion({"error": "x"})
    text, logprobs, usage, finish = parse_completion(
        {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]})
    assert (text, logprobs, usage, finish) == ("ab", None, {}, None)


def test_yes_no_default_logprobs_from_fake_server():
    with FakeOpenAIServer(default_answer="no") as server:
        async def go():
            async with ChatClient(server.url, **FAST) as client:
                return await client.chat([user_message("q")], top_logprobs=5)
        result = run(go())
    assert result.first_token_top_logprobs == pytest.approx({"no": math.log(0.9), "yes": math.log(0.1)})


def test_using_a_client_that_is_not_open_is_a_programming_error():
    client = ChatClient("http://127.0.0.1:1/v1", model="m")
    with pytest.raises(RuntimeError, match="async with ChatClient"):
        run(client.chat([user_message("q")]))


# --------------------------------------------------------------------------- hostile servers


def test_deadline_ends_a_request_to_a_server_that_never_answers():
    with FakeOpenAIServer(hang_rate=1.0, hang_s=60.0) as server:
        result = run(_chat_once(server.url, model="m", timeout=30.0, retries=3, deadline=0.3))
        assert server.counts["requests"] == 1  # the deadline ended it; no retry was started after it
    assert (result.ok, result.status, result.attempts) == (False, "timeout", 1)
    assert "0.3 s deadline" in result.error


def test_deadline_covers_the_model_lookup():
    with FakeOpenAIServer(hang_models=True, hang_s=60.0) as server:
        result = run(_chat_once(server.url, timeout=30.0, retries=3, deadline=0.3))
        assert (server.model_requests, server.counts["requests"]) == (1, 0)
    assert (result.ok, result.status) == (False, "connection_error")
    assert "/models" in result.error and "0.3 s deadline" in result.error


def test_a_gzip_body_that_unpacks_past_the_limit_is_refused_and_not_retried():
    with FakeOpenAIServer(gzip_bomb_bytes=24 * 1024 * 1024) as server:  # 24 MB of JSON in ~25 KB of gzip
        capped = run(_chat_once(server.url, model="m", retries=2))  # the default limit: 16 MiB
        allowed = run(_chat_once(server.url, model="m", retries=2, max_response_bytes=32 * 1024 * 1024))
        assert server.counts["requests"] == 2
    assert (capped.ok, capped.status, capped.attempts) == (False, "response_too_large", 1)
    assert "exceeds 16777216 bytes (decompressed)" in capped.error and "max_response_bytes" in capped.error
    assert allowed.ok and len(allowed.text) > 24_000_000


def test_an_announced_body_past_the_limit_is_refused():
    with FakeOpenAIServer(default_answer="x" * 100_000) as server:
        result = run(_chat_once(server.url, model="m", max_response_bytes=50_000))
    assert (result.status, result.attempts) == ("response_too_large", 1)
    assert "announces" in result.error


def test_a_stream_past_the_limit_is_stopped():
    with FakeOpenAIServer(default_answer="word " * 20_000) as server:
        async def go():
            async with ChatClient(server.url, max_response_bytes=10_000, **FAST) as client:
                return [piece async for piece in client.stream([user_message("q")])]
        with pytest.raises(RuntimeError, match="exceeds 10000 bytes"):
            run(go())


def test_stream_from_a_server_that_ignores_stream_reads_the_json_answer():
    answer = "<think>Snow.</think><answer>country: Norway\ncity: Oslo</answer>"
    with FakeOpenAIServer(default_answer=answer, ignore_stream=True) as server:
        async def go():
            async with ChatClient(server.url, **FAST) as client:
                return [piece async for piece in client.stream([user_message("q")])]
        assert run(go()) == [answer]


@pytest.mark.parametrize("garbage", [float("nan"), float("inf"), float("-inf"), True, "x", None])
def test_garbage_logprobs_are_a_bad_response(garbage):
    entries = [{"token": "yes", "logprob": garbage}]
    with FakeOpenAIServer(default_answer="yes", raw_top_logprobs=entries) as server:
        async def go():
            async with ChatClient(server.url, model="m", retries=0, **FAST) as client:
                return await client.chat([user_message("q")], top_logprobs=5)
        result = run(go())
    assert (result.ok, result.status) == (False, "bad_response")
    assert "logprob" in result.error


def test_a_key_echoed_in_an_error_body_is_redacted():
    key = "sk-live-0123456789abcdef"
    with FakeOpenAIServer(error_rate=1.0, error_status=401, echo_auth=True) as server:
        result = run(_chat_once(server.url, model="m", api_key=key))
        assert server.authorizations == [f"Bearer {key}"]  # it was sent, and echoed back
    assert result.status == "http_401"
    assert key not in result.error and "0123456789" not in result.error
    assert "***" in result.error


def test_credentials_in_the_url_are_used_but_never_shown():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://bob:hunter2-secret@127.0.0.1:{port}/v1?api-key=sk-urlkey-123456&api-version=2024"
    client = ChatClient(url, retries=0)
    result = run(_chat_once(url, retries=0))
    for text in (result.error, client.base_url, repr(client.settings)):
        assert "hunter2" not in text and "urlkey" not in text
    assert "/models" in result.error


def test_a_query_string_in_the_base_url_is_sent_with_every_request():
    with FakeOpenAIServer(default_answer="ok") as server:
        async def go():
            async with ChatClient(f"{server.url}?api-version=2024-06-01", **FAST) as client:
                return await client.list_models(), await client.chat([user_message("q")])
        models, result = run(go())
    assert models == ["fake-model"] and result.ok and result.text == "ok"


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"error": {"headers": {"Authorization": "Bearer sk-abc123def456"}}}',
         '{"error": {"headers": {"Authorization": "***"}}}'),
        ("api-key: 0f1e2d3c4b5a", "api-key: ***"),
        ("GET http://h/v1/models?key=AIzaSyA-1234&x=1 failed", "GET http://h/v1/models?key=***&x=1 failed"),
        ("https://user:p4ss@host:8000/v1", "https://***@host:8000/v1"),
        ("token sk-proj-ABCDEFGH12345678 leaked", "token sk-*** leaked"),
        ("HTTP 500: model overloaded", "HTTP 500: model overloaded"),
        ("hf_abcdefghijklmnopqrstuvwx1234 in a log", "hf_*** in a log"),
        ("HTTP 404: model 'hf-internal-testing/tiny-random' not found",
         "HTTP 404: model 'hf-internal-testing/tiny-random' not found"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_redact_replaces_the_callers_own_secrets():
    assert redact("you sent plainsecret99", ["plainsecret99"]) == "you sent ***"


def test_settings_repr_hides_keys_and_url_credentials():
    from dataclasses import dataclass

    @dataclass(kw_only=True)
    class WithEndpoint(ClientSettings):
        url: str = "http://u:pw@h/v1?api-key=sk-abcdefgh123"
        api_key: str | None = "sk-abcdefgh123"
        max_tokens: int = 5

    text = repr(WithEndpoint())
    assert "abcdefgh" not in text and "pw@" not in text
    assert "api_key=***" in text and "max_tokens=5" in text and "timeout=120.0" in text


@pytest.mark.parametrize("option, value, message", [
    ("deadline", 0, "deadline must be a number of seconds > 0"),
    ("max_response_bytes", 10, "max_response_bytes must be a number of bytes >= 1024"),
    ("timeout", float("nan"), "timeout must be a number of seconds > 0"),
])
def test_bad_client_settings_name_the_setting(option, value, message):
    with pytest.raises(ValueError, match=message):
        ChatClient("http://127.0.0.1:1/v1", **{option: value})


@pytest.mark.parametrize("fast_json", [True, False], ids=["orjson", "stdlib json"])
def test_bodies_read_and_write_the_same_json_with_or_without_orjson(monkeypatch, fast_json):
    import json

    from globe import chat_client

    if not fast_json:
        monkeypatch.setattr(chat_client, "orjson", None)
    payload = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
        {"type": "text", "text": "Fahrräder, 東京 \"quoted\"\n"}]}], "top_logprobs": 5, "logprobs": True}
    assert json.loads(chat_client.json_body(payload)) == payload
    assert chat_client.json_loads(json.dumps(payload).encode()) == payload
    assert math.isnan(chat_client.json_loads(b'{"logprob": NaN}')["logprob"])  # refused later, by name
    with pytest.raises(ValueError):
        chat_client.json_loads(b'{"choices": [{"message": {"conte')
    with pytest.raises(TypeError):
        chat_client.json_body({"image": object()})
