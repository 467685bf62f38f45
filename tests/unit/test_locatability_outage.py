"""Specification of the locatability reward's behaviour when the reward model hangs or goes away.

A hung RM (accepts connections, never answers) must cost one deadline, then the next batches
fall back at once, the log says so once, and every fallback is counted in the trainer's metrics.
Wall-clock figures (30 s / 2 s with the defaults) are measured by ``bench/rm_outage.py``; these
tests assert what happened (statuses, request counts, log lines), never how long it took.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import globe
from globe.locatability import CIRCUIT_OPEN, CircuitBreaker, LocatabilityScorer
from tests.support.fake_openai import FakeOpenAIServer, marked_jpeg

IMG = marked_jpeg("IMG-A")
COMPLETION = "<think>Red buses.</think><answer>country: UK\ncity: London</answer>"
#: A short deadline so a hung server costs a fraction of a second here (the default is 25 s).
HUNG = dict(deadline=0.5, timeout=10.0, retries=2, backoff=0.01, cooldown=60.0, probe_timeout=0.3)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rows(n: int):
    return [f"{COMPLETION} #{i}" for i in range(n)], [[{"bytes": IMG, "path": None}] for _ in range(n)]


def batch(scorer: LocatabilityScorer, n: int):
    result = asyncio.run(scorer.score_batch(*rows(n)))
    scorer._log(result)
    return result


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "globe.locatability" and r.levelno >= logging.WARNING]


def test_hung_reward_model_falls_back_then_next_batches_skip_the_server(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with FakeOpenAIServer(hang_rate=1.0, hang_s=120.0) as server:
        scorer = LocatabilityScorer(url=server.url, env={}, model="rm", fallback=0.5, clock=FakeClock(), **HUNG)
        first = batch(scorer, 128)
        sent = server.counts["requests"]
        second = batch(scorer, 128)
        third = batch(scorer, 8)
        assert server.counts["requests"] == sent  # nothing sent while the breaker is open
    assert first.statuses == ["timeout"] * 128 and first.rewards == [0.5] * 128
    assert 0 < sent <= 128  # one attempt each at most: the deadline ended the batch, not the retries
    assert second.statuses == [CIRCUIT_OPEN] * 128 and second.rewards == [0.5] * 128
    assert third.statuses == [CIRCUIT_OPEN] * 8
    assert first.metrics() == {"failed": 1.0, "circuit_open": 0.0}
    assert second.metrics() == {"failed": 1.0, "circuit_open": 1.0}
    [message] = warnings_of(caplog)  # once for the whole outage, not per batch or row
    assert message.startswith("locatability: 128/128 requests failed (timeout x128); used fallback 0.5")
    assert "from now on every completion gets the fallback at once" in message
    assert "tried again every 60 s (GLOBE_RM_COOLDOWN)" in message


def test_hung_model_list_falls_back_within_the_deadline_and_opens_the_breaker(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    with FakeOpenAIServer(hang_models=True, hang_s=120.0) as server:
        scorer = LocatabilityScorer(url=server.url, env={}, clock=FakeClock(), **HUNG)  # no model: asks /v1/models
        first = batch(scorer, 16)
        second = batch(scorer, 16)
        assert server.counts["requests"] == 0
        assert server.model_requests == 1
    assert first.statuses == ["no_model"] * 16
    assert "deadline" in first.errors[0] and "/models" in first.errors[0]
    assert second.statuses == [CIRCUIT_OPEN] * 16
    assert len(warnings_of(caplog)) == 1


def test_after_the_cooldown_one_probe_is_sent_and_a_failed_probe_keeps_the_breaker_open(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    clock = FakeClock()
    with FakeOpenAIServer(hang_rate=1.0, hang_s=120.0) as server:
        scorer = LocatabilityScorer(url=server.url, env={}, model="rm", clock=clock, **HUNG)
        batch(scorer, 4)
        sent = server.counts["requests"]
        clock.now += 61
        probed = batch(scorer, 4)
        assert server.counts["requests"] == sent + 1  # the probe, alone
        after = batch(scorer, 4)
        assert server.counts["requests"] == sent + 1
    assert probed.statuses == ["timeout"] + [CIRCUIT_OPEN] * 3
    assert after.statuses == [CIRCUIT_OPEN] * 4
    assert len(warnings_of(caplog)) == 1


def test_a_probe_answered_closes_the_breaker_and_the_batch_is_scored(caplog):
    caplog.set_level(logging.WARNING, logger="globe.locatability")
    clock = FakeClock()
    with FakeOpenAIServer(default_answer="yes", hang_rate=1.0, hang_s=120.0) as server:
        scorer = LocatabilityScorer(url=server.url, env={}, model="rm", clock=clock, **HUNG)
        batch(scorer, 4)
        batch(scorer, 4)
        server.hang_rate = 0.0  # the reward model is back
        clock.now += 61
        recovered = batch(scorer, 4)
        again = batch(scorer, 4)
    assert recovered.statuses == ["ok"] * 4 and recovered.rewards == pytest.approx([0.9] * 4)
    assert again.statuses == ["ok"] * 4
    outage, back = warnings_of(caplog)
    assert "scored nothing in this batch" in outage
    assert back.startswith(f"locatability: the reward model at {server.url} answers again after 61 s; "
                           "4 completions in 1 batches got the fallback without a request meanwhile")


def test_some_failures_in_a_scored_batch_do_not_open_the_breaker():
    with FakeOpenAIServer(default_answer="yes", error_rate=0.5, seed=1) as server:
        scorer = LocatabilityScorer(url=server.url, env={}, model="rm", retries=0, clock=FakeClock())
        first = batch(scorer, 16)
        second = batch(scorer, 16)
    assert 0 < first.n_failed < 16
    assert CIRCUIT_OPEN not in second.statuses


def test_breaker_states_follow_the_clock():
    clock = FakeClock()
    breaker = CircuitBreaker(cooldown=30.0, clock=clock)
    assert breaker.state == "closed" and breaker.reset() is None
    assert breaker.trip() is True and breaker.state == "open"
    clock.now += 29
    assert breaker.state == "open"
    clock.now += 1
    assert breaker.state == "probe"
    assert breaker.trip() is False and breaker.state == "open"  # a failed probe: another cool-down
    assert breaker.reset().startswith("answers again after 30 s")
    assert breaker.state == "closed"


# --------------------------------------------------------------------------- the trainer's metrics


@pytest.fixture(scope="module")
def orms():
    from swift.rewards import orms as registry
    from swift.utils import import_external_file

    saved = list(sys.path)
    try:
        import_external_file(str(Path(globe.__file__).resolve().parent / "plugin.py"))
    finally:
        sys.path[:] = saved
    return registry


class FakeTrainer:
    """What the plugin needs of ms-swift's GRPO trainer: it builds rewards in ``_prepare_rewards``
    and logs the averages of ``_metrics[mode][name]`` lists."""

    def __init__(self, orms):
        self._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
        self.model = type("Model", (), {"training": True})()
        self._prepare_rewards(orms)

    def _prepare_rewards(self, orms):
        self.reward = orms["globe_locatability"](args=None)


def test_fallbacks_are_counted_in_the_trainers_reward_metrics(orms, monkeypatch):
    with FakeOpenAIServer(hang_rate=1.0, hang_s=120.0) as server:
        for name, value in dict(URL=server.url, MODEL="rm", DEADLINE="0.5", TIMEOUT="10", BACKOFF="0.01").items():
            monkeypatch.setenv(f"GLOBE_RM_{name}", value)
        trainer = FakeTrainer(orms)
        completions, images = rows(8)
        first = asyncio.run(trainer.reward(completions, images=images))
        second = asyncio.run(trainer.reward(completions, images=images))
    assert first == second == [0.0] * 8  # the released fallback
    assert trainer._metrics["train"]["rewards/GlobeLocatability/failed"] == [1.0, 1.0]
    assert trainer._metrics["train"]["rewards/GlobeLocatability/circuit_open"] == [0.0, 1.0]
