"""Small, contained speed-ups of mitmproxy internals that every call passes through.

Each replaces one mitmproxy function with one that returns the same thing for the same input and
only does less work (tests/test_mitm_patches.py compares each with the original). mitmproxy is
pinned to an exact version; check these against its source before moving the pin.

Measured under load at 16 connections (py-spy, callgrind), per non-streaming call:

- `Headers` look-ups (`get`, `[]`, `in`, `get_all`): mitmproxy asks for a header about thirty
  times per call (`expected_http_body_size` alone four times), each through `Mapping.get`, a
  `KeyError`, `__getitem__`, `get_all` and two key conversions per header line — about 7 % of a
  call. The replacement looks the lower-cased name up in an index of the header lines, built on
  the first look-up and again only when the headers change.
- `Context.fork` (once per HTTP stream) built a throwaway `Server` connection, uuid4 included,
  only to replace it.
- `Hook.args` (several times per hook) looked the hook's dataclass fields up on every call.
- Reading an option (`body_size_limit`, `stream_large_bodies`, … several per call) deep-copied
  its value, twice when unset; a value of an immutable type is now returned as it is (what
  `deepcopy` returns for it anyway), lists and other containers are still copied.
- `set_task_debug_info` read `os.environ` for every task mitmproxy creates.
- Reading an option went through `OptManager.__getattr__` (about twenty reads a call, 1.3 µs
  each under load): immutable option values are now also instance attributes, kept current by
  the first receiver of the `changed` signal.
- A new flow's id (`str(uuid.uuid4())`: a `getrandom` call and a `UUID` object, 6.8 µs under
  load) comes from random bytes read 4 KiB at a time, formatted as the same version-4 UUID.
- `MessageData.__post_init__` type-checks every field of every request and response, with
  `typing` introspection, only `if __debug__` (`python -O` drops it): a debugging aid that cost
  about 6 % of a call. The gateway's own code is checked statically (mypy --strict).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import time
import weakref
from typing import Any

from mitmproxy import flow as mitmproxy_flow
from mitmproxy import hooks, http, optmanager
from mitmproxy.proxy.context import Context
from mitmproxy.utils import asyncio_utils

_ORIGINAL_GET_ALL = http.Headers.get_all


def _key(name: object) -> bytes | None:
    if isinstance(name, bytes):
        return name.lower()
    if isinstance(name, str):
        return name.encode("utf-8", "surrogateescape").lower()
    return None  # anything else: mitmproxy's own code path (and its error)


def _index(headers: http.Headers) -> dict[bytes, list[bytes]]:
    """The header lines' values by lower-cased name, built once per `fields` tuple: a change to
    the headers replaces the tuple (`fields` is immutable), so a stale index is never used, and
    the index keeps the tuple it describes alive (its identity is not reused)."""
    fields = headers.fields
    cached = headers.__dict__.get("_gw_index")
    if cached is not None and cached[0] is fields:
        known: dict[bytes, list[bytes]] = cached[1]
        return known
    index: dict[bytes, list[bytes]] = {}
    for k, v in fields:
        found = index.get(k := k.lower())
        if found is None:
            index[k] = [v]
        else:
            found.append(v)
    headers.__dict__["_gw_index"] = (fields, index)
    return index


def _values(headers: http.Headers, name: str | bytes) -> list[str]:
    key = _key(name)
    if key is None:
        return _ORIGINAL_GET_ALL(headers, name)
    found = _index(headers).get(key)
    return [v.decode("utf-8", "surrogateescape") for v in found] if found else []


def _get(self: http.Headers, name: str | bytes, default: Any = None) -> Any:
    values = _values(self, name)
    return ", ".join(values) if values else default


def _getitem(self: http.Headers, name: str | bytes) -> str:
    values = _values(self, name)
    if not values:
        raise KeyError(name)
    return ", ".join(values)


def _contains(self: http.Headers, name: object) -> bool:
    key = _key(name)
    if key is None:
        return bool(_ORIGINAL_GET_ALL(self, name))  # type: ignore[arg-type]  # mitmproxy's error
    return key in _index(self)


def _fork(self: Context) -> Context:
    ret = Context.__new__(Context)
    ret.client, ret.options, ret.server = self.client, self.options, self.server
    ret.layers = self.layers.copy()
    return ret


_FIELDS: dict[type, tuple[str, ...]] = {}


def _hook_args(self: hooks.Hook) -> list[Any]:
    names = _FIELDS.get(type(self))
    if names is None:  # every Hook is a dataclass
        names = _FIELDS[type(self)] = tuple(f.name for f in dataclasses.fields(self))  # type: ignore[arg-type]
    return [getattr(self, name) for name in names]


_IMMUTABLE = frozenset({type(None), bool, int, float, str, bytes})


def _option_current(self: optmanager._Option) -> Any:
    value = self._default if self.value is optmanager.unset else self.value
    return value if type(value) in _IMMUTABLE else copy.deepcopy(value)


_ORIGINAL_OPTMANAGER_INIT = optmanager.OptManager.__init__


def _optmanager_init(self: optmanager.OptManager) -> None:
    """mitmproxy's, then: every option with an immutable value is also kept as an instance
    attribute, which Python finds before it falls back to `OptManager.__getattr__` (about twenty
    option reads a call, 1.3 µs each under load). Kept current by the first receiver of the
    `changed` signal, which every change of an option sends (update, reset, rollback, a new
    option) before any other receiver — addons' `configure`, subscribers — reads the value."""
    _ORIGINAL_OPTMANAGER_INIT(self)
    manager = weakref.ref(self)

    def remember(updated: set[str]) -> None:
        opts = manager()
        if opts is not None:
            _remember(opts, updated)

    attrs = self.__dict__  # OptManager.__setattr__ would take these for options
    attrs["_gw_remember"], attrs["_gw_remembered"] = remember, set()
    self.changed.receivers.insert(0, weakref.ref(remember))


def _remember(opts: optmanager.OptManager, updated: set[str]) -> None:
    attrs, remembered = opts.__dict__, opts.__dict__["_gw_remembered"]
    for name in updated:
        if name in attrs and name not in remembered or hasattr(type(opts), name):
            continue  # the manager's own attribute, or a class attribute: not ours to shadow
        option = opts._options.get(name)
        value = option.current() if option is not None else None
        if option is not None and type(value) in _IMMUTABLE:
            attrs[name] = value
            remembered.add(name)
        elif name in remembered:  # gone, or now a container (read through `current`, a copy)
            del attrs[name]
            remembered.discard(name)


class _FlowIds:
    """Stands in for the `uuid` module in `mitmproxy.flow`, whose only use of it is
    `str(uuid.uuid4())` for a new flow's id: the same random version-4 UUID text, from random
    bytes read 4 KiB at a time instead of one `getrandom` call and one `UUID` object per flow
    (6.8 µs a call under load)."""

    def __init__(self) -> None:
        self._pool, self._at = b"", 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)  # a worker never repeats its parent's

    def _forget(self) -> None:
        self._pool, self._at = b"", 0

    def uuid4(self) -> str:
        with self._lock:  # flows are made on the event loop; tests may make them anywhere
            if self._at >= len(self._pool):
                self._pool, self._at = os.urandom(4096), 0
            raw = self._pool[self._at:self._at + 16]
            self._at += 16
        h = raw.hex()
        variant = "89ab"[raw[8] >> 6]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def _set_task_debug_info(task: Any, *, name: str, client: tuple[str, int] | None = None) -> None:
    task.created = time.time()
    task.set_name(name)
    if client:
        task.client = client


def _no_field_checks(self: object) -> None:
    pass


def install() -> None:
    """Idempotent."""
    for name, function in (("get_all", _values), ("get", _get), ("__getitem__", _getitem),
                           ("__contains__", _contains)):
        setattr(http.Headers, name, function)
    setattr(Context, "fork", _fork)  # noqa: B010
    setattr(hooks.Hook, "args", _hook_args)  # noqa: B010
    setattr(optmanager._Option, "current", _option_current)  # noqa: B010
    setattr(optmanager.OptManager, "__init__", _optmanager_init)  # noqa: B010
    if not isinstance(mitmproxy_flow.uuid, _FlowIds):
        setattr(mitmproxy_flow, "uuid", _FlowIds())  # noqa: B010
    setattr(asyncio_utils, "set_task_debug_info", _set_task_debug_info)  # noqa: B010
    if __debug__ and hasattr(http.MessageData, "__post_init__"):
        setattr(http.MessageData, "__post_init__", _no_field_checks)  # noqa: B010
