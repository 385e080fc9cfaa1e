"""`gateway.eager.start`: a coroutine runs here and now up to its first wait; what is left is an
awaitable that finishes it exactly as `await` would (results, errors, cancellation)."""

from __future__ import annotations

import asyncio

import pytest

from gateway import eager


def test_a_coroutine_that_never_waits_is_done_at_once():
    done = []

    async def work() -> None:
        done.append("ran")

    assert eager.start(work()) is None
    assert done == ["ran"]


def test_its_error_is_raised_at_once():
    async def work() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        eager.start(work())


def test_a_coroutine_that_waits_is_finished_by_awaiting_the_rest():
    steps = []

    async def work(fut: asyncio.Future[int]) -> None:
        steps.append("before")
        steps.append(await fut)
        await asyncio.sleep(0)
        steps.append("after")

    async def main() -> None:
        fut = asyncio.get_running_loop().create_future()
        rest = eager.start(work(fut))
        assert rest is not None and steps == ["before"]
        asyncio.get_running_loop().call_later(0.01, fut.set_result, 42)
        await asyncio.create_task(_await(rest))
        assert steps == ["before", 42, "after"]

    asyncio.run(main())


async def _await(rest: eager.Continuation) -> None:
    await rest


def test_errors_after_the_wait_reach_the_awaiting_task():
    async def work(fut: asyncio.Future[None]) -> None:
        await fut
        raise ValueError("later")

    async def main() -> None:
        fut = asyncio.get_running_loop().create_future()
        rest = eager.start(work(fut))
        assert rest is not None
        fut.set_result(None)
        with pytest.raises(ValueError, match="later"):
            await rest

    asyncio.run(main())


def test_cancelling_the_awaiting_task_cancels_the_coroutine():
    seen = []

    async def work(fut: asyncio.Future[None]) -> None:
        try:
            await fut
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def main() -> None:
        fut = asyncio.get_running_loop().create_future()
        rest = eager.start(work(fut))
        assert rest is not None
        task = asyncio.create_task(_await(rest))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen == ["cancelled"] and fut.cancelled()

    asyncio.run(main())
