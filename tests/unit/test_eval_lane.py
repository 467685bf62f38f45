"""The eval run's CPU lane: rows' image reads and offline scoring go to one worker thread, in batches."""
from __future__ import annotations

import asyncio
import threading

import pytest

from globe import geo
from globe.eval.runner import CpuLane, _offline
from globe.scoring import resolve_place


def _in_lane(jobs):
    """Run ``jobs`` (callables) through one lane, all submitted in one loop turn; their results in order."""

    async def go():
        lane = CpuLane()
        try:
            return await asyncio.gather(*(lane.run(job) for job in jobs), return_exceptions=True)
        finally:
            lane.close()

    return asyncio.run(go())


def test_each_job_gets_its_own_result_in_the_order_asked():
    assert _in_lane([lambda value=value: value * value for value in range(20)]) == [value * value for value in range(20)]


def test_a_failing_job_fails_alone():
    def boom():
        raise ValueError("cannot decode x.jpg")

    results = _in_lane([lambda: 1, boom, lambda: 3])
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], ValueError) and "x.jpg" in str(results[1])


def test_jobs_submitted_in_one_loop_turn_cross_to_the_thread_together():
    batches: list[int] = []
    seen: list[str] = []

    def job():
        seen.append(threading.current_thread().name)
        return threading.get_ident()

    async def go():
        lane = CpuLane()
        original = lane._start

        def counting_start(loop):
            batches.append(len(lane._waiting))
            original(loop)

        lane._start = counting_start
        try:
            first = await asyncio.gather(*(lane.run(job) for _ in range(16)))
            second = await asyncio.gather(*(lane.run(job) for _ in range(5)))
        finally:
            lane.close()
        return first + second

    idents = asyncio.run(go())
    assert batches == [16, 5]  # two hand-overs for 21 jobs, not 21
    assert len(set(idents)) == 1 and threading.get_ident() not in idents  # one thread, never the loop's
    assert all(name.startswith("globe-eval-cpu") for name in seen)


def test_jobs_arriving_while_a_batch_runs_wait_and_go_together_next():
    release = threading.Event()
    order: list[str] = []

    async def go():
        lane = CpuLane()
        try:
            blocker = lane.run(lambda: release.wait(5) and order.append("first"))
            await asyncio.sleep(0.05)  # the first batch is now in the thread, blocked
            later = [lane.run(lambda tag=tag: order.append(tag)) for tag in ("a", "b", "c")]
            await asyncio.sleep(0.05)
            assert order == []  # nothing ran beside the busy batch: one thread
            release.set()
            await asyncio.gather(blocker, *later)
        finally:
            lane.close()

    asyncio.run(go())
    assert order == ["first", "a", "b", "c"]


def test_only_the_offline_gazetteer_shares_the_lane():
    """An online geocoder blocks on rate limits: it must not hold up other rows' image reads."""
    assert _offline(geo.resolve) and _offline(resolve_place)
    assert not _offline(lambda country, city: None)


@pytest.mark.parametrize("cancel_after_s", [0.0, 0.02])
def test_a_cancelled_run_leaves_no_job_hanging(cancel_after_s):
    release = threading.Event()

    async def go():
        lane = CpuLane()
        futures = [lane.run(lambda: release.wait(5)) for _ in range(3)]
        waiter = asyncio.ensure_future(asyncio.gather(*futures))
        await asyncio.sleep(cancel_after_s)
        waiter.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        lane.close()
        return futures

    futures = asyncio.run(go())
    assert all(future.done() for future in futures)
