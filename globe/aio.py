"""The event loops GLOBE's own network work runs on: uvloop's when installed, and one kept in a thread.

Why: a run's client CPU is mostly the event loop and aiohttp (``bench/eval_stages.py``), and
uvloop's loop (libuv, in C) costs 8-15% less client CPU per request than asyncio's own (measured
on an eval run and a locatability batch). Every loop GLOBE starts itself comes from :func:`new_event_loop`; ``GLOBE_EVENT_LOOP=asyncio``
chooses the standard loop (for debugging, or where uvloop misbehaves).

:class:`BackgroundLoop` is for code that is handed a new event loop per call and must not start
afresh each time: ms-swift runs every async reward of a GRPO batch under its own ``asyncio.run``,
and an aiohttp connection pool belongs to the loop that made it, so a reward model client opened
per batch reconnects every connection every batch. One loop in a daemon thread keeps the pool
(and its keep-alive connections) for the life of the process; callers in any thread or loop
submit coroutines to it.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

#: ``GLOBE_EVENT_LOOP``: ``uvloop`` (the default, when installed) or ``asyncio``.
EVENT_LOOPS = ("uvloop", "asyncio")


def event_loop_name() -> str:
    """The loop :func:`new_event_loop` makes: ``GLOBE_EVENT_LOOP`` if set, else uvloop when importable."""
    chosen = os.environ.get("GLOBE_EVENT_LOOP", "").strip().lower()
    if chosen and chosen not in EVENT_LOOPS:
        raise ValueError(f"GLOBE_EVENT_LOOP={chosen!r}: choose one of {', '.join(EVENT_LOOPS)}")
    if chosen == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if chosen == "uvloop":
            raise ValueError("GLOBE_EVENT_LOOP=uvloop but uvloop is not installed (pip install uvloop)") from None
        return "asyncio"
    return "uvloop"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the kind :func:`event_loop_name` names."""
    if event_loop_name() == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a loop from :func:`new_event_loop`."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


class BackgroundLoop:
    """One event loop running in a daemon thread, started on first use; see the module docstring.

    After a ``fork`` the child starts a loop of its own (threads do not survive a fork). At
    interpreter exit the ``closers`` registered with :meth:`at_close` run on the loop (closing
    connection pools cleanly) before it stops.
    """

    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._closers: list[Callable[[], Awaitable[Any]]] = []

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (started now if need be)."""
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        loop = new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.close()

        threading.Thread(target=serve, name=self.name, daemon=True).start()
        ready.wait()
        if self._pid is None:
            atexit.register(self.close)
        self._loop, self._pid, self._closers = loop, os.getpid(), []

    def is_current(self) -> bool:
        """Whether the calling code runs on this loop."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> "concurrent.futures.Future[T]":
        """Schedule ``coroutine`` on the loop; cancelling the returned future cancels it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` run on this loop, from any other loop (a cancelled caller cancels it)."""
        if self.is_current():
            return await coroutine
        return await asyncio.wrap_future(self.submit(coroutine))

    def run_sync(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """``coroutine``'s result, from synchronous code in another thread."""
        if self.is_current():
            coroutine.close()
            raise RuntimeError(f"{self.name}: run_sync called from its own loop would wait for itself")
        return self.submit(coroutine).result()

    def at_close(self, closer: Callable[[], Awaitable[Any]]) -> None:
        """Run ``closer()`` on the loop when it is closed (e.g. closing a client it holds)."""
        self._closers.append(closer)

    def close(self, timeout: float = 5.0) -> None:
        """Run the closers, then stop the loop and its thread (a no-op when it never started here)."""
        with self._lock:
            loop, self._loop = self._loop, None
            closers, self._closers = self._closers, []
        if loop is None or self._pid != os.getpid() or loop.is_closed() or not loop.is_running():
            return

        async def finish() -> None:
            for closer in closers:
                try:
                    await closer()
                except Exception:  # noqa: BLE001 - closing is best effort at exit
                    pass

        try:
            asyncio.run_coroutine_threadsafe(finish(), loop).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        loop.call_soon_threadsafe(loop.stop)


async def gather_in_turn(coroutines: Iterable[Coroutine[Any, Any, T]], group: int = 16) -> list[T]:
    """``asyncio.gather`` of ``coroutines``, started ``group`` at a time with a loop turn after each group.

    Why: aiohttp writes a request's body from a task of its own, one loop turn after the request
    is built. Gathered at once, a batch of N requests builds all N before the first byte leaves,
    so the first answer comes back N request-builds late and the batch ends a whole build phase
    after it could have (a GRPO batch of 128 locatability requests at 50 ms of server latency:
    94 ms instead of 83, ``bench/rewards.py --base``). Started in groups, each group is on the
    wire while the next is built. A turn after every single request gets the first byte out
    soonest but costs a loop iteration (a poll) per request: groups of 16 measured best.
    """
    tasks: list[asyncio.Future[T]] = []
    try:
        for coroutine in coroutines:
            tasks.append(asyncio.ensure_future(coroutine))
            if len(tasks) % group == 0:
                await asyncio.sleep(0)
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
