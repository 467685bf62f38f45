"""Specification of globe.rm_client (the locatability reward) against the loopback fake server."""
from __future__ import annotations

import asyncio
import io
import logging
import math
import socket

import pytest

from globe.prompts import LOCATABILITY_SYSTEM_PROMPT
from globe.rm_client import (
    DEFAULT_FALLBACK,
    LocatabilityConfig,
    LocatabilityError,
    LocatabilityScorer,
    first_image,
)
from globe.testing.fake_openai import FakeOpenAIServer, marked_jpeg

IMG_A = marked_jpeg("IMG-A")
IMG_B = marked_jpeg("IMG-B", color=(200, 30, 30))
COMPLETION = "<think>Red double-decker buses and left-hand traffic.</think><answer>country: UK\ncity: London</answer>"
FAST = dict(backoff=0.01, timeout=5.0)


def make_scorer(server: FakeOpenAIServer | None = None, url: str | None = None, **options) -> LocatabilityScorer:
    """A scorer isolated from the caller's GLOBE_RM_* variables."""
    return LocatabilityScorer(url=url or server.url, env={}, **{**FAST, **options})


def score(scorer: LocatabilityScorer, completions, images):
    return asyncio.run(scorer.score(completions, images))


def batch(scorer: LocatabilityScorer, completions, images):
    return asyncio.run(scorer.score_batch(completions, images))


def rows(n: int, image=IMG_A):
    return [COMPLETION] * n, [[{"bytes": image, "path": None}] for _ in range(n)]


# --------------------------------------------------------------------------- configuration


def test_missing_url_names_the_variable_and_the_serve_script():
    with pytest.raises(ValueError, match=r"GLOBE_RM_URL.*serve_rm\.sh"):
        LocatabilityScorer(env={})


def test_settings_come_from_env_when_no_argument_is_given():
    env = {"GLOBE_RM_URL": "http://127.0.0.1:9/v1", "GLOBE_RM_MODEL": "rm-7b", "GLOBE_RM_API_KEY": "k",
           "GLOBE_RM_TIMEOUT": "7.5", "GLOBE_RM_RETRIES": "4", "GLOBE_RM_CONCURRENCY": "8",
           "GLOBE_RM_FALLBACK": "0", "GLOBE_RM_FAIL_FAST": "true", "GLOBE_RM_MAX_TOKENS": "1"}
    config = LocatabilityConfig.from_env(env)
    assert (config.url, config.model, config.api_key) == ("http://127.0.0.1:9/v1", "rm-7b", "k")
    assert (config.timeout, config.retries, config.concurrency) == (7.5, 4, 8)
    assert (config.fallback, config.fail_fast, config.max_tokens) == (0.0, True, 1)


def test_arguments_win_over_env():
    env = {"GLOBE_RM_URL": "http://127.0.0.1:9/v1", "GLOBE_RM_CONCURRENCY": "8", "GLOBE_RM_FALLBACK": "0"}
    config = LocatabilityConfig.from_env(env, url="http://127.0.0.1:10/v1", concurrency=3, fallback=0.25)
    assert (config.url, config.concurrency, config.fallback) == ("http://127.0.0.1:10/v1", 3, 0.25)


def test_defaults_are_documented_values():
    config = LocatabilityConfig.from_env({"GLOBE_RM_URL": "http://127.0.0.1:9/v1"})
    assert config.fallback == DEFAULT_FALLBACK == 0.5
    assert (config.model, config.fail_fast, config.top_logprobs) == (None, False, 5)


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("GLOBE_RM_TIMEOUT", "soon", "GLOBE_RM_TIMEOUT='soon' is not a number"),
        ("GLOBE_RM_RETRIES", "2.5", "GLOBE_RM_RETRIES='2.5' is not an integer"),
        ("GLOBE_RM_FAIL_FAST", "maybe", "GLOBE_RM_FAIL_FAST='maybe' is not a boolean"),
        ("GLOBE_RM_FALLBACK", "1.5", "GLOBE_RM_FALLBACK must be a reward between 0 and 1"),
        ("GLOBE_RM_CONCURRENCY", "0", "GLOBE_RM_CONCURRENCY must be an integer >= 1"),
    ],
)
def test_bad_env_values_are_errors_naming_the_variable(variable, value, message):
    with pytest.raises(ValueError, match=message):
        LocatabilityConfig.from_env({"GLOBE_RM_URL": "http://127.0.0.1:9/v1", variable: value})


def test_url_must_be_http():
    with pytest.raises(ValueError, match="GLOBE_RM_URL must start with http"):
        LocatabilityConfig.from_env({"GLOBE_RM_URL": "127.0.0.1:8000/v1"})


# --------------------------------------------------------------------------- images


def test_first_image_accepts_every_row_shape(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(IMG_A)
    assert first_image([{"bytes": IMG_A, "path": None}, {"bytes": IMG_B}]) == {"bytes": IMG_A, "path": None}
    assert first_image([{"bytes": None, "path": str(path)}]) == {"bytes": None, "path": str(path)}
    assert first_image([str(path)]) == str(path)
    assert first_image(IMG_B) == IMG_B
    assert first_image([]) is None
    assert first_image(None) is None
    assert first_image([{"bytes": None, "path": None}]) is None


# --------------------------------------------------------------------------- scoring


def test_reward_is_exact_p_yes_over_yes_plus_no_from_scripted_logprobs():
    logprobs = {"yes": math.log(0.5), " Yes": math.log(0.1), "no": math.log(0.2), "Ġno": math.log(0.05),
                "maybe": math.log(0.15)}
    with FakeOpenAIServer(default_answer="yes", top_logprobs=logprobs) as server:
        result = batch(make_scorer(server), *rows(2))
    assert result.rewards == pytest.approx([0.6 / 0.85] * 2, abs=1e-12)
    assert result.statuses == ["ok", "ok"]


def test_request_has_system_prompt_first_image_then_completion_and_top_logprobs():
    with FakeOpenAIServer(default_answer="yes") as server:
        score(make_scorer(server), [COMPLETION], [[{"bytes": IMG_A, "path": None}, {"bytes": IMG_B, "path": None}]])
        request = server.requests[0]
    system, user = request["messages"]
    assert system == {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT}
    assert [part["type"] for part in user["content"]] == ["image_url", "text"]
    assert user["content"][1]["text"] == COMPLETION
    assert (request["logprobs"], request["top_logprobs"], request["max_tokens"]) == (True, 5, 3)
    assert request["model"] == "fake-model"  # the server's first model, since none was configured


def test_each_row_is_scored_against_its_own_first_image():
    answers = {"IMG-A": "yes", "IMG-B": "no"}  # the fake server gives the answer's word p=0.9, the other p=0.1
    with FakeOpenAIServer(answers=answers) as server:
        rewards = score(make_scorer(server), [COMPLETION] * 3,
                        [[{"bytes": IMG_A}], [{"bytes": IMG_B}, {"bytes": IMG_A}], [IMG_A]])
    assert rewards == pytest.approx([0.9, 0.1, 0.9])


def test_images_given_as_path_dict_path_string_or_pil(tmp_path):
    from PIL import Image

    path = tmp_path / "b.jpg"
    path.write_bytes(IMG_B)
    pil = Image.open(io.BytesIO(IMG_A))
    with FakeOpenAIServer(answers={"IMG-B": "no"}, default_answer="yes") as server:
        rewards = score(make_scorer(server), [COMPLETION] * 3,
                        [[{"bytes": None, "path": str(path)}], [str(path)], [pil]])
    # PIL re-encodes the pixels, dropping the JPEG comment marker, so that row gets the default "yes".
    assert rewards == pytest.approx([0.1, 0.1, 0.9])


def test_configured_model_and_api_key_are_sent():
    with FakeOpenAIServer(default_answer="yes") as server:
        score(make_scorer(server, model="locatability-rm", api_key="secret"), *rows(1))
        assert server.requests[0]["model"] == "locatability-rm"
        assert server.authorizations == ["Bearer secret"]


def test_whole_batch_is_in_flight_at_once_up_to_concurrency():
    with FakeOpenAIServer(default_answer="yes", latency_s=0.2) as server:
        rewards = score(make_scorer(server, concurrency=8), *rows(24))
        assert server.max_in_flight == 8
    assert len(rewards) == 24


def test_two_batches_in_two_event_loops_like_ms_swift():
    """ms-swift calls asyncio.run per batch; the scorer must not reuse a session across loops."""
    with FakeOpenAIServer(default_answer="yes") as server:
        scorer = make_scorer(server)
        first = score(scorer, *rows(3))
        second = score(scorer, *rows(3))
    assert first == second == pytest.approx([0.9] * 3)


def test_async_with_keeps_one_client_for_a_long_lived_loop():
    async def two_batches(scorer):
        async with scorer:
            client = scorer._client
            await scorer.score(*rows(2))
            await scorer.score(*rows(2))
            return client is scorer._client and client is not None

    with FakeOpenAIServer(default_answer="yes") as server:
        assert asyncio.run(two_batches(make_scorer(server)))


def test_sync_entry_point_works_inside_a_running_loop():
    async def inside_loop(scorer):
        return scorer.score_sync(*rows(2))

    with FakeOpenAIServer(default_answer="no") as server:
        assert asyncio.run(inside_loop(make_scorer(server))) == pytest.approx([0.1, 0.1])


def test_empty_batch_sends_nothing():
    with FakeOpenAIServer() as server:
        assert score(make_scorer(server), [], []) == []
        assert server.counts["requests"] == 0


# --------------------------------------------------------------------------- failures


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "globe.rm_client" and r.levelno >= logging.WARNING]


def test_server_errors_fall_back_and_log_once_per_batch(caplog):
    caplog.set_level(logging.WARNING, logger="globe.rm_client")
    with FakeOpenAIServer(default_answer="yes", error_rate=1.0) as server:
        rewards = score(make_scorer(server, retries=1, fallback=0.25), *rows(4))
        assert server.counts["error"] == 8  # first try + one retry each
    assert rewards == [0.25] * 4
    [message] = warnings_of(caplog)
    assert message.startswith("locatability: 4/4 requests failed (http_500 x4); used fallback 0.25; "
                              "first error: HTTP 500 from http://127.0.0.1:")


def test_failure_summary_counts_reasons(caplog):
    caplog.set_level(logging.WARNING, logger="globe.rm_client")
    with FakeOpenAIServer(default_answer="yes", error_rate=1.0) as server:
        completions, images = rows(3)
        images.append([{"bytes": None, "path": None}])
        completions.append(COMPLETION)
        rewards = score(make_scorer(server, retries=0), completions, images)
    assert rewards == [DEFAULT_FALLBACK] * 4
    [message] = warnings_of(caplog)
    assert message.startswith("locatability: 4/4 requests failed (http_500 x3, no_image x1); used fallback 0.5")


def test_timeouts_are_bounded_and_fall_back():
    with FakeOpenAIServer(default_answer="yes", hang_rate=1.0, hang_s=3.0) as server:
        result = batch(make_scorer(server, timeout=0.2, retries=1), *rows(3))
    assert result.statuses == ["timeout"] * 3
    assert result.rewards == [DEFAULT_FALLBACK] * 3


def test_malformed_json_is_a_bad_response():
    with FakeOpenAIServer(default_answer="yes", garbage_rate=1.0) as server:
        result = batch(make_scorer(server, retries=0), *rows(2))
    assert result.statuses == ["bad_response"] * 2
    assert result.rewards == [DEFAULT_FALLBACK] * 2


def test_transient_faults_are_retried_to_success(caplog):
    caplog.set_level(logging.WARNING, logger="globe.rm_client")
    with FakeOpenAIServer(default_answer="yes", error_rate=0.4, garbage_rate=0.3, max_faults_per_request=2,
                          seed=3) as server:
        completions = [f"{COMPLETION} #{i}" for i in range(16)]  # distinct bodies, distinct fault rolls
        rewards = score(make_scorer(server, retries=2), completions, rows(16)[1])
        assert server.counts["error"] + server.counts["garbage"] > 0
    assert rewards == pytest.approx([0.9] * 16)
    assert warnings_of(caplog) == []


def test_unreachable_server_falls_back_with_connection_error(caplog):
    caplog.set_level(logging.WARNING, logger="globe.rm_client")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rewards = score(make_scorer(url=f"http://127.0.0.1:{port}/v1", model="rm", retries=1), *rows(5))
    assert rewards == [DEFAULT_FALLBACK] * 5
    [message] = warnings_of(caplog)
    assert "5/5 requests failed (connection_error x5)" in message


def test_reply_without_yes_or_no_falls_back():
    with FakeOpenAIServer(default_answer="perhaps", top_logprobs={"perhaps": -0.1, "maybe": -2.5}) as server:
        result = batch(make_scorer(server), *rows(2))
    assert result.statuses == ["no_yes_no"] * 2
    assert result.rewards == [DEFAULT_FALLBACK] * 2


def test_reply_word_is_used_when_logprobs_lack_yes_and_no(caplog):
    caplog.set_level(logging.WARNING, logger="globe.rm_client")
    with FakeOpenAIServer(default_answer="\u201cYes\u201d", top_logprobs={"\u201c": -0.01}) as server:
        result = batch(make_scorer(server), *rows(2))
        rewards = score(make_scorer(server), *rows(2))
    assert result.statuses == ["ok_text"] * 2
    assert rewards == [1.0, 1.0]
    [message] = warnings_of(caplog)
    assert message.startswith("locatability: 2/2 scored from the reply's first word")


def test_fail_fast_raises_with_the_counts():
    with FakeOpenAIServer(default_answer="yes", error_rate=1.0) as server:
        with pytest.raises(LocatabilityError, match=r"2/2 requests failed \(http_500 x2\)"):
            score(make_scorer(server, retries=0, fail_fast=True), *rows(2))


def test_fail_fast_from_env():
    with FakeOpenAIServer(default_answer="yes", error_rate=1.0) as server:
        scorer = LocatabilityScorer(env={"GLOBE_RM_URL": server.url, "GLOBE_RM_FAIL_FAST": "1",
                                         "GLOBE_RM_RETRIES": "0"})
        with pytest.raises(LocatabilityError):
            score(scorer, *rows(1))


def test_missing_images_column_is_an_error():
    with FakeOpenAIServer() as server:
        with pytest.raises(ValueError, match="needs each row's image"):
            score(make_scorer(server), [COMPLETION], None)


def test_row_without_image_is_not_sent():
    with FakeOpenAIServer(default_answer="yes") as server:
        result = batch(make_scorer(server), [COMPLETION, COMPLETION], [[{"bytes": IMG_A}], []])
        assert server.counts["requests"] == 1
    assert result.statuses == ["ok", "no_image"]
    assert result.rewards == pytest.approx([0.9, DEFAULT_FALLBACK])


def test_unreadable_image_path_is_a_bad_image(tmp_path):
    with FakeOpenAIServer(default_answer="yes") as server:
        result = batch(make_scorer(server), [COMPLETION], [[{"bytes": None, "path": str(tmp_path / "gone.jpg")}]])
    assert result.statuses == ["bad_image"]
    assert "gone.jpg" in result.errors[0]


# --------------------------------------------------------------------------- model discovery


class TwoModelServer(FakeOpenAIServer):
    """Lists a base model before the reward model, as vLLM does when serving the RM as a LoRA."""

    async def _models(self, request):
        from aiohttp import web

        return web.json_response({"object": "list", "data": [{"id": "globe-rm-base"}, {"id": "globe-rm"}]})


class HangingModelsServer(FakeOpenAIServer):
    async def _models(self, request):
        await asyncio.sleep(3)
        raise AssertionError("unreachable: the client times out first")


def test_without_a_model_name_the_first_listed_is_used_with_one_warning(caplog):
    caplog.set_level(logging.WARNING, logger="globe.rm_client")
    with TwoModelServer(default_answer="yes") as server:
        scorer = make_scorer(server)
        score(scorer, *rows(2))
        score(scorer, *rows(2))
        assert {request["model"] for request in server.requests} == {"globe-rm-base"}
    [message] = warnings_of(caplog)
    assert "GLOBE_RM_MODEL is not set; scoring with 'globe-rm-base', the first of the 2 models" in message


def test_model_lookup_failure_falls_back_without_sending_requests():
    with HangingModelsServer(default_answer="yes") as server:
        result = batch(make_scorer(server, timeout=0.2, retries=0), *rows(6))
        assert server.counts["requests"] == 0
    assert result.statuses == ["no_model"] * 6
    assert result.rewards == [DEFAULT_FALLBACK] * 6
    assert "cannot list models" in result.errors[0]
