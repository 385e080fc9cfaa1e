"""Response headers, the session cookie's Secure flag, safe redirects and the sign-in throttle."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from urllib.parse import urlsplit

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.after_request(add_security_headers)


class SessionInterface(SecureCookieSessionInterface):
    """Secure cookies when configured, and whenever the request came over HTTPS anyway."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = super().get_cookie_secure(app)
        return configured or (has_request_context() and request.is_secure)


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/static/"):
        # Admin pages show private data: keep them out of shared and back-button caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None. Rejects absolute and
    scheme-relative URLs (`//evil`, `/\\evil`, which browsers treat as `//evil`)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


class LoginThrottle:
    """Counts failed sign-ins per key (email + client IP) in a sliding window, in memory.

    Per process: with several admin processes an attacker gets `max_failures` per process, which
    is still a hard ceiling. Thread-safe (the WSGI server runs requests on several threads).
    """

    MAX_KEYS = 10_000

    def __init__(self, max_failures: int = 5, window_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: Hashable) -> int:
        """Seconds until `key` may try again; 0 when it may try now."""
        with self._lock:
            recent = self._recent(key, self.clock())
            if len(recent) < self.max_failures:
                return 0
            return max(1, int(recent[0] + self.window - self.clock()) + 1)

    def record_failure(self, key: Hashable) -> None:
        with self._lock:
            now = self.clock()
            if len(self._failures) >= self.MAX_KEYS:
                self._prune(now)
            self._recent(key, now).append(now)

    def reset(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        if len(self._failures) >= self.MAX_KEYS:
            # Still full of live entries (a spray of emails): forget the oldest half rather than
            # grow without bound.
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in oldest[: len(oldest) // 2]:
                del self._failures[key]
