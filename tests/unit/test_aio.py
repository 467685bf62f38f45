"""Specification of globe.aio: the event loop of GLOBE's own runs, the loop kept in a thread, requests started in turn."""
from __future__ import annotations

import asyncio
import threading

import pytest

from globe import aio


# --------------------------------------------------------------------------- which loop


def test_runs_use_uvloop_when_installed_and_asyncio_when_asked(monkeypatch):
    pytest.importorskip("uvloop")

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    monkeypatch.delenv("GLOBE_EVENT_LOOP", raising=False)
    assert aio.event_loop_name() == "uvloop" and aio.run(loop_module()).startswith("uvloop")
    monkeypatch.setenv("GLOBE_EVENT_LOOP", "asyncio")
    assert aio.event_loop_name() == "asyncio" and aio.run(loop_module()).startswith("asyncio")


def test_an_unknown_event_loop_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("GLOBE_EVENT_LOOP", "trio")
    with pytest.raises(ValueError, match=r"GLOBE_EVENT_LOOP='trio'.*uvloop, asyncio"):
        aio.new_event_loop()


# --------------------------------------------------------------------------- the loop kept in a thread


def test_the_background_loop_outlives_the_callers_loops_and_threads():
    background = aio.BackgroundLoop("test-background")
    try:
        async def which_loop() -> asyncio.AbstractEventLoop:
            return asyncio.get_running_loop()

        async def from_a_caller_loop() -> asyncio.AbstractEventLoop:
            return await background.run(which_loop())

        seen = {asyncio.run(from_a_caller_loop()), asyncio.run(from_a_caller_loop()), background.run_sync(which_loop())}
        from_thread: list[asyncio.AbstractEventLoop] = []
        worker = threading.Thread(target=lambda: from_thread.append(background.run_sync(which_loop())))
        worker.start()
        worker.join()
        assert seen | set(from_thread) == {background.loop}
    finally:
        background.close()


def test_a_cancelled_caller_cancels_the_work_on_the_background_loop():
    background = aio.BackgroundLoop("test-background")
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def caller() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await background.run(slow())

    try:
        asyncio.run(caller())
        assert cancelled.wait(5)
    finally:
        background.close()


def test_closing_runs_the_closers_on_the_loop_and_a_later_use_starts_a_new_one():
    background = aio.BackgroundLoop("test-background")
    closed_on: list[asyncio.AbstractEventLoop] = []

    async def closer() -> None:
        closed_on.append(asyncio.get_running_loop())

    first = background.loop
    background.at_close(closer)
    background.close()
    assert closed_on == [first]
    assert background.run_sync(asyncio.sleep(0, result="again")) == "again" and background.loop is not first
    background.close()


def test_waiting_for_itself_is_refused_rather_than_deadlocking():
    background = aio.BackgroundLoop("test-background")

    async def inner() -> None:
        background.run_sync(asyncio.sleep(0))

    try:
        with pytest.raises(RuntimeError, match="wait for itself"):
            background.run_sync(inner())
    finally:
        background.close()


# --------------------------------------------------------------------------- gathered in turn


def test_gather_in_turn_starts_each_group_before_making_the_next():
    events: list[str] = []

    async def job(index: int) -> int:
        events.append(f"started {index}")
        await asyncio.sleep(0)
        return index * 10

    def jobs():
        for index in range(7):
            events.append(f"made {index}")
            yield job(index)

    assert asyncio.run(aio.gather_in_turn(jobs(), group=3)) == [0, 10, 20, 30, 40, 50, 60]
    for index in range(3, 7):  # a group of three has run its first step before the next job is made
        assert events.index(f"started {index - 3}") < events.index(f"made {index}")


def test_gather_in_turn_raises_the_first_failure_and_cancels_the_rest():
    cancelled: list[int] = []

    async def job(index: int) -> int:
        try:
            if index == 1:
                raise ValueError("job 1 failed")
            await asyncio.sleep(5)
            return index
        except asyncio.CancelledError:
            cancelled.append(index)
            raise

    async def main() -> None:
        with pytest.raises(ValueError, match="job 1 failed"):
            await aio.gather_in_turn((job(index) for index in range(4)), group=2)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert sorted(cancelled) == [0, 2, 3]
