"""Typed per-call slots: a plugin's private facts about one call travel in `call.stash`.

The pattern is pytest's `Stash`: the key object carries the value's type, so a typo is a NameError
and a type checker sees every reader and writer. Facts one plugin leaves for *another* are typed
fields of `Call`/`Attempt` instead (see gateway/call.py); the stash is for a plugin's own state
between its hooks.

    HOLD = StashKey[Reservation]()
    call.stash[HOLD] = reservation
    hold = call.stash.get(HOLD)        # Reservation | None
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast, overload

__all__ = ["Stash", "StashKey"]

T = TypeVar("T")
D = TypeVar("D")


class StashKey(Generic[T]):
    """A key for `Stash`; compare by identity. Make one per fact, at module level."""

    __slots__ = ()


class Stash:
    """A map from `StashKey[T]` to `T`."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[StashKey[Any], object] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._data[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        return cast(T, self._data[key])

    @overload
    def get(self, key: StashKey[T]) -> T | None: ...
    @overload
    def get(self, key: StashKey[T], default: D) -> T | D: ...
    def get(self, key: StashKey[T], default: object = None) -> object:
        return self._data.get(key, default)

    def setdefault(self, key: StashKey[T], default: T) -> T:
        return cast(T, self._data.setdefault(key, default))

    def pop(self, key: StashKey[T], default: T | None = None) -> T | None:
        return cast("T | None", self._data.pop(key, default))

    def __delitem__(self, key: StashKey[T]) -> None:
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()
