"""Specification of globe.locatability (the locatability reward) against the loopback fake server."""
from __future__ import annotations

import asyncio
import io
import logging
import math
import re
import socket

import pytest

from globe.prompts import LOCATABILITY_SYSTEM_PROMPT
from globe.locatability import (
    DEFAULT_FALLBACK,
    LocatabilityConfig,
    LocatabilityError,
    LocatabilityScorer,
    first_image,
    pick_served_model,
)
from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg

IMG_A = marked_jpeg("IMG-A")
IMG_B = marked_jpeg("IMG-B", color=(200, 30, 30))
REASONING = "Red double-decker buses and left-hand traffic."
COMPLETION = f"<think>{REASONING}</think><answer>country: UK\ncity: London</answer>"
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


def test_defaults_are_the_released_request():
    config = LocatabilityConfig.from_env({"GLOBE_RM_URL": "http://127.0.0.1:9/v1"})
    assert config.fallback == DEFAULT_FALLBACK == 0.0
    assert (config.input, config.temperature, config.max_tokens, config.top_logprobs, config.no_verdict) == (
        "completion", 0.6, 5, 5, "zero")
    assert (config.model, config.fail_fast) == (None, False)


def test_globe_request_variant_from_env():
    env = {"GLOBE_RM_URL": "http://127.0.0.1:9/v1", "GLOBE_RM_INPUT": "reasoning", "GLOBE_RM_TEMPERATURE": "0",
           "GLOBE_RM_MAX_TOKENS": "3", "GLOBE_RM_NO_VERDICT": "text", "GLOBE_RM_FALLBACK": "0.5",
           "GLOBE_RM_DEADLINE": "none", "GLOBE_RM_COOLDOWN": "5"}
    config = LocatabilityConfig.from_env(env)
    assert (config.input, config.temperature, config.max_tokens, config.no_verdict, config.fallback) == (
        "reasoning", 0.0, 3, "text", 0.5)
    assert (config.deadline, config.cooldown) == (None, 5.0)


def test_repr_of_the_settings_and_the_scorer_hides_the_key():
    env = {"GLOBE_RM_URL": "http://bob:pw-secret-1@127.0.0.1:9/v1?api-key=sk-secret-2",
           "GLOBE_RM_API_KEY": "sk-secret-3"}
    scorer = LocatabilityScorer(env=env)
    for text in (repr(scorer.config), repr(scorer), str(scorer.config)):
        assert "secret" not in text
        assert "api_key=***" in text and "127.0.0.1:9" in text


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("GLOBE_RM_TIMEOUT", "soon", "GLOBE_RM_TIMEOUT='soon' is not a number"),
        ("GLOBE_RM_RETRIES", "2.5", "GLOBE_RM_RETRIES='2.5' is not an integer"),
        ("GLOBE_RM_FAIL_FAST", "maybe", "GLOBE_RM_FAIL_FAST='maybe' is not a boolean"),
        ("GLOBE_RM_FALLBACK", "1.5", "GLOBE_RM_FALLBACK must be a reward between 0 and 1"),
        ("GLOBE_RM_CONCURRENCY", "0", "GLOBE_RM_CONCURRENCY must be an integer >= 1"),
        ("GLOBE_RM_INPUT", "think", "GLOBE_RM_INPUT must be completion or reasoning"),
        ("GLOBE_RM_NO_VERDICT", "half", "GLOBE_RM_NO_VERDICT must be zero or text"),
        ("GLOBE_RM_DEADLINE", "0", "GLOBE_RM_DEADLINE must be a number of seconds > 0"),
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


@pytest.mark.parametrize("reading, expected", [
    ("released", 0.5 / (0.5 + 0.2 + 1e-19)),  # the default: only the bare tokens count
    ("globe", 0.6 / 0.85),  # " Yes" and "Ġno" count too
])
def test_reward_is_exact_p_yes_over_yes_plus_no_from_scripted_logprobs(reading, expected):
    logprobs = {"yes": math.log(0.5), " Yes": math.log(0.1), "no": math.log(0.2), "Ġno": math.log(0.05),
                "maybe": math.log(0.15)}
    options = {} if reading == "released" else {"verdict": reading}
    with FakeOpenAIServer(default_answer="yes", top_logprobs=logprobs) as server:
        result = batch(make_scorer(server, **options), *rows(2))
    assert result.rewards == pytest.approx([expected] * 2, abs=1e-12)
    assert result.statuses == ["ok", "ok"]


def test_default_request_is_the_released_one():
    """GeoLocatablityORM: system prompt, image then the WHOLE completion, T=0.6, max_tokens 5, 5 top logprobs."""
    with FakeOpenAIServer(default_answer="yes") as server:
        score(make_scorer(server), [COMPLETION], [[{"bytes": IMG_A, "path": None}, {"bytes": IMG_B, "path": None}]])
        request = server.requests[0]
    system, user = request["messages"]
    assert system == {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT}
    assert [part["type"] for part in user["content"]] == ["image_url", "text"]
    assert user["content"][1]["text"] == COMPLETION
    assert (request["logprobs"], request["top_logprobs"], request["max_tokens"], request["temperature"]) == (
        True, 5, 5, 0.6)
    assert request["model"] == "fake-model"  # the server's first model, since none was configured


def test_globe_request_sends_the_reasoning_at_temperature_zero():
    with FakeOpenAIServer(default_answer="yes") as server:
        score(make_scorer(server, input="reasoning", temperature=0.0, max_tokens=3), *rows(1))
        request = server.requests[0]
    # The RM was trained on image + plain reasoning: no tags, no country:/city: lines.
    assert request["messages"][1]["content"][1]["text"] == REASONING
    assert (request["max_tokens"], request["temperature"]) == (3, 0.0)


def sent_texts(server: FakeOpenAIServer) -> list[str]:
    return [request["messages"][1]["content"][-1]["text"] for request in server.requests]


def test_rm_reads_the_reasoning_of_conversational_and_untagged_completions():
    completions = [
        [{"role": "assistant", "content": COMPLETION}],
        "<think>Kanji on the shop signs.\n</think>\n<answer>country: Japan\ncity: Osaka</answer>",
        "The kanji signs suggest Japan.\n<answer>country: Japan\ncity: Osaka</answer>",  # untagged reasoning
    ]
    with FakeOpenAIServer(default_answer="yes") as server:
        score(make_scorer(server, concurrency=1, input="reasoning"), completions, rows(3)[1])
        assert sent_texts(server) == [REASONING, "Kanji on the shop signs.", "The kanji signs suggest Japan."]


@pytest.mark.parametrize(
    "completion",
    [
        "<answer>country: UK\ncity: London</answer>",
        "<think>  </think><answer>country: UK\ncity: London</answer>",
    ],
)
def test_completion_without_reasoning_is_sent_whole(completion):
    with FakeOpenAIServer(default_answer="yes") as server:
        score(make_scorer(server, input="reasoning"), [completion], rows(1)[1])
        assert sent_texts(server) == [completion]


def test_each_row_is_scored_against_its_own_first_image():
    answers = {"IMG-A": "yes", "IMG-B": "no"}  # the fake server gives the answer's word p=0.9, the other p=0.1
    with FakeOpenAIServer(answers=answers) as server:
        rewards = score(make_scorer(server), [COMPLETION] * 3,
                        [[{"bytes": IMG_A}], [{"bytes": IMG_B}, {"bytes": IMG_A}], [IMG_A]])
    assert rewards == pytest.approx([0.9, 0.1, 0.9])


def test_equal_image_copies_are_encoded_once_per_batch_and_different_images_are_not_merged(monkeypatch):
    # ms-swift gives each of a prompt's completions its own copy of the image's bytes.
    from globe import locatability

    encoded = []
    original = locatability.image_data_url
    monkeypatch.setattr(locatability, "image_data_url", lambda image: encoded.append(1) or original(image))
    same_size_other = bytearray(IMG_A)
    same_size_other[-3] ^= 0xFF  # same length and header as IMG_A, other content
    images = [[{"bytes": bytes(bytearray(IMG_A)), "path": None}] for _ in range(6)]
    images += [[{"bytes": bytes(same_size_other), "path": None}], [bytearray(IMG_B)], [{"bytes": bytes(IMG_B)}]]
    with FakeOpenAIServer(answers={"IMG-A": "yes", "IMG-B": "no"}) as server:
        rewards = score(make_scorer(server), [COMPLETION] * len(images), images)
        sent = [part["image_url"]["url"] for request in server.requests
                for part in request["messages"][1]["content"] if part["type"] == "image_url"]
    assert len(encoded) == 3  # IMG_A, its altered twin, IMG_B
    assert len(set(sent)) == 3 and len(sent) == len(images)
    assert rewards[:6] == pytest.approx([0.9] * 6) and rewards[-2:] == pytest.approx([0.1, 0.1])


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
    return [r.getMessage() for r in caplog.records if r.name == "globe.locatability" and r.levelno >= logging.WARNING]


def test_server_errors_fall_back_and_log_once_per_batch(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with FakeOpenAIServer(default_answer="yes", error_rate=1.0) as server:
        rewards = score(make_scorer(server, retries=1, fallback=0.25), *rows(4))
        assert server.counts["error"] == 8  # first try + one retry each
    assert rewards == [0.25] * 4
    [message] = warnings_of(caplog)
    assert message.startswith("locatability: 4/4 requests failed (http_500 x4); used fallback 0.25; "
                              "first error: HTTP 500 from http://127.0.0.1:")


def test_failure_summary_counts_reasons(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with FakeOpenAIServer(default_answer="yes", error_rate=1.0) as server:
        completions, images = rows(3)
        images.append([{"bytes": None, "path": None}])
        completions.append(COMPLETION)
        rewards = score(make_scorer(server, retries=0), completions, images)
    assert rewards == [DEFAULT_FALLBACK] * 4
    [message] = warnings_of(caplog)
    assert message.startswith("locatability: 4/4 requests failed (http_500 x3, no_image x1); used fallback 0;")


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
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with FakeOpenAIServer(default_answer="yes", error_rate=0.4, garbage_rate=0.3, max_faults_per_request=2,
                          seed=3) as server:
        completions = [f"{COMPLETION} #{i}" for i in range(16)]  # distinct bodies, distinct fault rolls
        rewards = score(make_scorer(server, retries=2), completions, rows(16)[1])
        assert server.counts["error"] + server.counts["garbage"] > 0
    assert rewards == pytest.approx([0.9] * 16)
    assert warnings_of(caplog) == []


def test_unreachable_server_falls_back_with_connection_error(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rewards = score(make_scorer(url=f"http://127.0.0.1:{port}/v1", model="rm", retries=1), *rows(5))
    assert rewards == [DEFAULT_FALLBACK] * 5
    [message] = warnings_of(caplog)
    assert "5/5 requests failed (connection_error x5)" in message


def test_reply_without_yes_or_no_scores_zero_by_default_like_the_released_reward(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with FakeOpenAIServer(default_answer="yes", top_logprobs={"perhaps": -0.1, "maybe": -2.5}) as server:
        result = batch(make_scorer(server, fallback=0.5), *rows(2))
        rewards = score(make_scorer(server, fallback=0.5), *rows(2))
    assert result.statuses == ["ok_no_verdict"] * 2 and result.n_failed == 0
    assert rewards == [0.0, 0.0]
    [message] = warnings_of(caplog)
    assert "2/2 scored 0 with neither yes nor no" in message


def test_reply_without_yes_or_no_in_text_mode_falls_back():
    with FakeOpenAIServer(default_answer="perhaps", top_logprobs={"perhaps": -0.1, "maybe": -2.5}) as server:
        result = batch(make_scorer(server, no_verdict="text", fallback=0.5), *rows(2))
    assert result.statuses == ["no_yes_no"] * 2
    assert result.rewards == [0.5] * 2


@pytest.mark.parametrize("garbage", [float("nan"), float("inf"), True, "-0.1", None])
def test_garbage_logprobs_are_counted_failures_not_verdicts(garbage):
    entries = [{"token": "yes", "logprob": garbage}, {"token": "no", "logprob": -2.0}]
    with FakeOpenAIServer(default_answer="yes", raw_top_logprobs=entries) as server:
        result = batch(make_scorer(server, retries=0, fallback=0.5), *rows(2))
    assert result.statuses == ["bad_response"] * 2
    assert result.rewards == [0.5, 0.5]
    assert result.metrics() == {"failed": 1.0, "circuit_open": 0.0}


def test_reply_word_is_used_when_logprobs_lack_yes_and_no(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with FakeOpenAIServer(default_answer="\u201cYes\u201d", top_logprobs={"\u201c": -0.01}) as server:
        result = batch(make_scorer(server, no_verdict="text"), *rows(2))
        rewards = score(make_scorer(server, no_verdict="text"), *rows(2))
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


class ModelListServer(FakeOpenAIServer):
    """The fake server with a scripted ``/v1/models`` list (``entries``: the ``data`` items)."""

    def __init__(self, entries, **options):
        super().__init__(**options)
        self.entries = entries
        self.model_list_requests = 0

    async def _models(self, request):
        from aiohttp import web

        self.model_list_requests += 1
        return web.json_response({"object": "list", "data": self.entries})


def model_card(name, parent=None, **fields):
    """A /v1/models entry the way vLLM writes it: base models have parent null, LoRA modules their base."""
    return {"id": name, "object": "model", "owned_by": "vllm", "root": fields.get("root", f"/ckpt/{name}"),
            "parent": parent, **fields}


# serve_rm.sh with vLLM: the base model first, the trained LoRA after it.
VLLM_LORA_RM = [model_card("globe-rm-base"), model_card("globe-rm", parent="globe-rm-base")]


class HangingModelsServer(FakeOpenAIServer):
    async def _models(self, request):
        await asyncio.sleep(3)
        raise AssertionError("unreachable: the client times out first")


def test_without_a_model_name_the_lora_rm_is_used_not_its_base_model(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with ModelListServer(VLLM_LORA_RM, default_answer="yes") as server:
        scorer = make_scorer(server)
        score(scorer, *rows(2))
        score(scorer, *rows(2))
        assert [request["model"] for request in server.requests] == ["globe-rm"] * 4
        assert server.model_list_requests == 1  # looked up once, kept across batches
    [message] = warnings_of(caplog)  # once, not once per batch
    assert ("GLOBE_RM_MODEL is not set; scoring with 'globe-rm', the only LoRA module among the 2 models at "
            f"{server.url} (globe-rm-base, globe-rm)") in message


def test_without_a_model_name_a_single_listed_model_is_used_silently(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with ModelListServer([model_card("merged-rm")], default_answer="yes") as server:
        rewards = score(make_scorer(server), *rows(2))
        assert [request["model"] for request in server.requests] == ["merged-rm"] * 2
    assert rewards == pytest.approx([0.9, 0.9])
    assert warnings_of(caplog) == []


@pytest.mark.parametrize(
    "entries, why",
    [
        # `swift deploy --adapters globe-rm=...`: base and adapter, neither with a parent field.
        ([{"id": "Qwen2.5-VL-7B-Instruct", "object": "model"}, {"id": "globe-rm", "object": "model"}],
         'none of them is a LoRA module'),
        # vLLM serving two base models.
        ([model_card("Qwen2.5-VL-7B-Instruct"), model_card("globe-rm")], "none of them is a LoRA module"),
        # vLLM with two LoRA modules on one base.
        ([model_card("base"), model_card("globe-rm", parent="base"), model_card("globe-rm-old", parent="base")],
         r"2 of them are LoRA modules \(globe-rm, globe-rm-old\)"),
    ],
)
def test_without_a_model_name_an_ambiguous_model_list_is_an_error_naming_the_models(entries, why):
    names = ", ".join(entry["id"] for entry in entries)
    with ModelListServer(entries, default_answer="yes") as server:
        with pytest.raises(LocatabilityError) as raised:
            score(make_scorer(server), *rows(2))
        assert server.counts["requests"] == 0  # no completion is scored by a guessed model
    message = str(raised.value)
    assert f"GLOBE_RM_MODEL is not set and {server.url}/models lists {len(entries)} models ({names})" in message
    assert re.search(why, message)
    assert "Set GLOBE_RM_MODEL to the reward model's served name (examples/train/grpo/globe/serve_rm.sh" in message


def test_a_configured_model_name_is_used_whatever_the_server_lists():
    entries = [{"id": "Qwen2.5-VL-7B-Instruct"}, {"id": "globe-rm"}]  # ambiguous without a name
    with ModelListServer(entries, default_answer="yes") as server:
        score(make_scorer(server, model="globe-rm"), *rows(2))
        assert [request["model"] for request in server.requests] == ["globe-rm"] * 2
        assert server.model_list_requests == 0


def test_pick_served_model_rules():
    url = "http://127.0.0.1:8001/v1"
    assert pick_served_model([{"id": "only"}], url) == ("only", False)
    assert pick_served_model([{"id": "only", "parent": "base"}], url) == ("only", False)
    assert pick_served_model(VLLM_LORA_RM[::-1], url) == ("globe-rm", True)  # order does not matter
    with pytest.raises(LocatabilityError, match="lists 2 models"):
        pick_served_model([{"id": "a", "parent": None}, {"id": "b"}], url)


def test_model_lookup_failure_falls_back_without_sending_requests():
    with HangingModelsServer(default_answer="yes") as server:
        result = batch(make_scorer(server, timeout=0.2, retries=0), *rows(6))
        assert server.counts["requests"] == 0
    assert result.statuses == ["no_model"] * 6
    assert result.rewards == [DEFAULT_FALLBACK] * 6
    assert "cannot list models" in result.errors[0]


def test_the_benchmarks_loopback_rm_answers_as_the_fake_server_does():
    # bench/rewards.py --server loopback times the client against it: it must be a valid RM for the client.
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "tests.support.loopback_rm", "--latency", "0.01",
                                "--answer", "no"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        scorer = LocatabilityScorer(url=url, env={}, **FAST)
        rewards = score(scorer, *rows(40))
        assert rewards == pytest.approx([0.1] * 40)
        assert scorer.last_batch.statuses == ["ok"] * 40
    finally:
        process.stdin.close()
        process.wait(10)


# --------------------------------------------------------------------------- connections kept between batches


def test_batches_run_by_separate_event_loops_reuse_one_pool_of_connections():
    """ms-swift scores each GRPO batch under a new asyncio.run: the scorer's connections outlive it."""
    from tests.support.loopback_rm import LoopbackRM

    with LoopbackRM() as rm:
        scorer = make_scorer(url=rm.url, model="fake-model", concurrency=8)
        for _ in range(3):
            assert score(scorer, *rows(8)) == pytest.approx([0.9] * 8)
        assert rm.connections <= 8  # one pool of at most `concurrency`, not 8 new connections per batch


def test_connections_the_server_closed_between_batches_are_replaced_without_a_failed_row():
    """A server's keep-alive timeout closes idle connections between two training steps."""
    from tests.support.loopback_rm import LoopbackRM

    with LoopbackRM() as rm:
        scorer = make_scorer(url=rm.url, model="fake-model", concurrency=8)
        assert score(scorer, *rows(8)) == pytest.approx([0.9] * 8)
        for _ in range(2):
            rm.drop_connections()
            assert score(scorer, *rows(8)) == pytest.approx([0.9] * 8)
            assert scorer.last_batch.n_failed == 0
        assert rm.connections > 8


def test_a_scorer_used_from_sync_code_and_from_a_loop_scores_the_same():
    from tests.support.loopback_rm import LoopbackRM

    with LoopbackRM() as rm:
        scorer = make_scorer(url=rm.url, model="fake-model")
        completions, images = rows(5)
        assert scorer.score_sync(completions, images) == score(scorer, completions, images) == pytest.approx([0.9] * 5)


def test_a_scorer_outlives_a_restart_of_its_loop():
    """After a fork (or a close at exit) the loop is new: the scorer opens a client there instead of reusing a dead one."""
    from globe.locatability import RM_LOOP
    from tests.support.loopback_rm import LoopbackRM

    with LoopbackRM() as rm:
        scorer = make_scorer(url=rm.url, model="fake-model")
        assert score(scorer, *rows(3)) == pytest.approx([0.9] * 3)
        RM_LOOP.close()
        assert score(scorer, *rows(3)) == pytest.approx([0.9] * 3) and scorer.last_batch.n_failed == 0
