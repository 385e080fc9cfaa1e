"""The Ollama section of Gateway Settings: which URL is in force, and a connection test.

The test only ever fetches `<configured URL>/api/tags`: the URL comes from the stored setting or
the environment, never from the request, so the admin site cannot be used to probe other hosts.
Redirects are not followed, the wait is short and the answer is read up to 1 MiB.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from admin_web.sources import api

MAX_ANSWER = 1024 * 1024


@dataclass(frozen=True)
class TestResult:
    ok: bool
    url: str
    message: str
    models: list[dict[str, Any]] = field(default_factory=list)


def stored_url(session: Session) -> str | None:
    """The base URL saved in the fallback plugin's credential row (kept in clear there)."""
    creds = api("credentials")
    return creds.stored_base_url(session, "ollama") if creds is not None else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is reported as the HTTP error it is


def test_connection(base_url: str, timeout: float) -> TestResult:
    url = base_url.rstrip("/") + "/api/tags"
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers={"Accept": "application/json"}),
                         timeout=timeout) as answer:
            body = answer.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        return TestResult(False, url, f"Ollama answered HTTP {exc.code}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return TestResult(False, url, f"Cannot connect: {reason}")
    if len(body) > MAX_ANSWER:
        return TestResult(False, url, "The answer is larger than 1 MiB; is this Ollama?")
    try:
        models = json.loads(body).get("models") or []
    except (ValueError, AttributeError):
        return TestResult(False, url, "The answer is not Ollama's JSON model list")
    found = [{"name": str(m.get("name") or m.get("model") or "?"), "size": m.get("size"),
              "modified_at": str(m.get("modified_at") or "")[:19]}
             for m in models if isinstance(m, dict)]
    return TestResult(True, url, f"Connected: {len(found)} model{'s' * (len(found) != 1)} "
                                 f"found", found)
