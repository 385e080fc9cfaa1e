"""A fake LLM provider for tests, benchmarks and `make run`: OpenAI (chat, responses, embeddings,
models), Anthropic (messages, count_tokens, models) and Ollama (`/api/tags`) on one aiohttp app.

Every answer echoes the last user text (or calls the first offered tool) with predictable token
counts; `X-Mock-*` headers, `mock-*` model names and `/_mock/*` endpoints switch on failures,
stalls, delays and garbage. See `_switches`, `_control` and `_echo` for the exact rules.

In a test: `with serve_in_thread() as mock: OpenAI(base_url=mock.url + "/v1", ...)`.
"""

from gateway.mock_provider._app import create_app
from gateway.mock_provider._server import RunningMock, run, serve_in_thread, start_server
from gateway.mock_provider._state import MockConfig, MockState

__all__ = [
    "MockConfig",
    "MockState",
    "RunningMock",
    "create_app",
    "run",
    "serve_in_thread",
    "start_server",
]
