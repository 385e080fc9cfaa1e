"""What a running mock provider remembers: the requests it received and the switches tests set."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_RECORDED = 1000


@dataclass
class MockConfig:
    """Global switches set through `POST /_mock/config`. A missing `fail_count` means "fail every
    request until the config is replaced"; a number counts down one per failed request."""

    fail_status: int | None = None
    fail_count: int | None = None
    delay_ms: int = 0
    chunk_delay_ms: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MockConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown mock config keys: {sorted(unknown)}")
        fail_status = _opt_int(data, "fail_status")
        if fail_status is not None and not 400 <= fail_status <= 599:
            raise ValueError(f"mock config 'fail_status' must be an HTTP error status, got {fail_status}")
        return cls(
            fail_status=fail_status,
            fail_count=_opt_int(data, "fail_count"),
            delay_ms=_opt_int(data, "delay_ms") or 0,
            chunk_delay_ms=_opt_int(data, "chunk_delay_ms") or 0,
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"mock config {key!r} must be an integer, got {value!r}")
    return value


@dataclass
class MockState:
    """Shared by every handler of one app. In-process tests may read `requests` directly; each entry is
    a dict with `method`, `path`, `query`, `headers` (lower-case names) and `body` (parsed JSON or
    None), oldest first."""

    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_RECORDED))
    config: MockConfig = field(default_factory=MockConfig)
    # Set when the app shuts down so stalled handlers let go instead of holding the shutdown up.
    closing: bool = False

    def record(self, entry: dict[str, Any]) -> None:
        self.requests.append(entry)

    def clear(self) -> None:
        self.requests.clear()

    def take_global_failure(self) -> int | None:
        """The status the next request must fail with, if the global switch is armed; consumes one."""
        cfg = self.config
        if cfg.fail_status is None:
            return None
        if cfg.fail_count is None:
            return cfg.fail_status
        if cfg.fail_count <= 0:
            return None
        cfg.fail_count -= 1
        return cfg.fail_status
