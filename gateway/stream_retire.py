"""A finished HTTP stream layer lets go of itself, so it is freed the moment mitmproxy drops it.

mitmproxy's stream layer refers to itself in two ways: its context's layer list holds it, and
`client_state`/`server_state` hold bound methods of it. Every call's flow, bodies and `Call` hang
off the stream, so each call became a reference cycle that only the cycle collector freed, in
middle and full collections that paused the event loop 5–70 ms under load (tests/test_no_cycles.py
checks that none is left). Once both directions are over, `retire` takes the stream off its layer
list and moves it to a subclass that keeps the two states as plain functions and binds them on each
read: late events, comparisons (`stream.server_state == stream.state_done`) and assignments behave
exactly as before.
"""

from __future__ import annotations

from types import MethodType
from typing import Any

from mitmproxy.proxy.layers.http import HttpStream

ENDED = (HttpStream.state_done, HttpStream.state_errored)
_STATES = ("client_state", "server_state")


def ended(state: object) -> bool:
    """`state` (a stream's client or server state) is over: done or errored."""
    return getattr(state, "__func__", None) in ENDED


def finished(stream: HttpStream) -> bool:
    """Both directions are over, and the stream did not become a WebSocket or TCP relay."""
    return (ended(stream.client_state) and ended(stream.server_state)
            and stream.child_layer is None and "_handle_event" not in stream.__dict__)


def retire(stream: HttpStream) -> None:
    if getattr(stream, "_gw_retired", False):
        return
    layers = stream.context.layers
    if stream in layers:
        stream.mode  # noqa: B018 - cached now: it finds its parent layer through the list
        layers.remove(stream)
    states = {name: stream.__dict__.pop(name) for name in _STATES}
    stream.__class__ = _retired(type(stream))
    for name, state in states.items():
        setattr(stream, name, state)


class _State:
    """A retired stream's `client_state` or `server_state`: a state of the stream itself is kept
    as its function (no reference back to the stream), any other callable as it is."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = f"_gw_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value, own = obj.__dict__[self.key]
        return MethodType(value, obj) if own else value

    def __set__(self, obj: Any, value: Any) -> None:
        own = isinstance(value, MethodType) and value.__self__ is obj
        obj.__dict__[self.key] = (value.__func__, True) if own else (value, False)


_RETIRED: dict[type, type] = {}


def _retired(cls: type) -> type:
    """The retired twin of a stream class: the same class but for how it keeps its states."""
    twin = _RETIRED.get(cls)
    if twin is None:
        twin = _RETIRED[cls] = type(f"Retired{cls.__name__}", (cls,), {
            "__module__": __name__, "_gw_retired": True,
            "client_state": _State(), "server_state": _State()})
    return twin
