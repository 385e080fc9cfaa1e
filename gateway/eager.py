"""Running a coroutine eagerly: up to its first real wait, right here, without a task.

mitmproxy runs a hook whose handler is a coroutine function in an asyncio task of its own (a
task, a trip through the event loop, then a `HookCompleted` event). The gateway's `request`
handler is a coroutine because it may wait (a key not in the cache, a spending cap's reservation,
a cache entry in the database), but most calls wait for nothing. `start` runs the coroutine until
it first suspends: a coroutine that never does is finished and costs no task (the connection
handler runs such a hook inline, `gateway.connection_handler`); one that does is returned as an
awaitable that carries on from where it stopped, for mitmproxy to await in a task as before.
(asyncio's `eager_task_factory`, new in Python 3.12, does the same for tasks.)
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any


def start(coro: Coroutine[Any, Any, None]) -> Continuation | None:
    """Run `coro` up to its first suspension; None if it finished (its exception, if it raised)."""
    try:
        pending = coro.send(None)
    except StopIteration:
        return None
    return Continuation(coro, pending)


class Continuation:
    """Awaitable: a started coroutine, suspended on `pending` (what it yielded to the event loop:
    a future, or None for a bare yield). Awaiting it hands `pending` to the awaiting task and then
    drives the coroutine on exactly as `await` would, results, exceptions and cancellation
    included."""

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Coroutine[Any, Any, None], pending: Any) -> None:
        self.coro, self.pending = coro, pending

    def __await__(self) -> Generator[Any, Any, None]:
        coro, pending = self.coro, self.pending
        self.pending = None
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation, or an error thrown into the wait
                try:
                    pending = coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                pending = coro.send(sent)
            except StopIteration:
                return
