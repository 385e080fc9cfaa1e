"""Claude Code and Codex CLI (their own npm packages) through a real gateway to the mock provider,
on every route: each agent against an Anthropic, an OpenAI and an Ollama model, each run with a
tool round trip that really executes a shell command on this machine.

The prompt carries a mock directive that makes the model call the agent's shell tool with
`echo gw-roundtrip-$((6*7))`; only a command that really ran prints `gw-roundtrip-42`, and the
mock echoes that tool result back as the final answer. Claude Code is configured only by its base
URL and key; Codex only by its documented base-URL setting (`openai_base_url`) and its API key,
so it opens its Responses WebSocket first, as it does for real users.
"""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import select

from gateway.db.models import RequestLog
from tests.agents.conftest import claude_result

pytestmark = pytest.mark.slow
MARKER = "gw-roundtrip-42"
CLAUDE_PROMPT = ('Run the marker command. [[mock-tool Bash {"command": "echo gw-roundtrip-$((6*7))",'
                 ' "description": "Print the marker"}]]')
CODEX_PROMPT = 'Run the marker command. [[mock-tool exec_command {"cmd": "echo gw-roundtrip-$((6*7))"}]]'
ROUTES = ["anthropic/claude-sonnet-4-5", "openai/gpt-4o", "ollama/llama3.2"]


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


def served(gw) -> list[tuple[str, str | None, int]]:
    gw.ctx.extensions["metering"].writer.flush()
    with gw.ctx.sessions() as session:
        rows = session.scalars(select(RequestLog).where(RequestLog.endpoint != "unknown")
                               .order_by(RequestLog.id)).all()
        return [(r.endpoint, r.actual_model, r.status) for r in rows
                if r.endpoint.startswith("/v1/")]


def run_claude(agents, env, gw, model: str | None, extra_env=None):
    env = {**env, "ANTHROPIC_BASE_URL": gw.url, "ANTHROPIC_API_KEY": gw.user_key,
           **(extra_env or {})}
    command = [str(agents.claude), "-p", CLAUDE_PROMPT, "--output-format", "json",
               "--allowedTools", "Bash"]
    if model:
        command += ["--model", model]
    done = subprocess.run(command, env=env, cwd=env["HOME"], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return claude_result(done.stdout)


@pytest.mark.parametrize("model", ROUTES)
def test_claude_code_completes_a_tool_round_trip_on_every_route(agents, agent_home, gateway,
                                                                 model):
    result = run_claude(agents, agent_home, gateway, model)
    assert result["is_error"] is False and result.get("api_error_status") is None, result
    assert result["num_turns"] == 2, result["result"][-300:]
    assert result["result"].startswith(f"echo: {MARKER}"), result["result"][-300:]
    calls = served(gateway)
    assert calls == [("/v1/messages", model, 200)] * 2, calls


def write_codex_config(env, gw) -> None:
    with open(f"{env['CODEX_HOME']}/config.toml", "w") as config:
        config.write(f'openai_base_url = "{gw.url}/v1"\n')


def run_codex(agents, env, gw, model: str):
    env = {**env, "CODEX_API_KEY": gw.user_key}
    command = [str(agents.codex), "exec", "--skip-git-repo-check",
               "--dangerously-bypass-approvals-and-sandbox", "-m", model, CODEX_PROMPT]
    return subprocess.run(command, env=env, cwd=env["HOME"], capture_output=True, text=True,
                          timeout=180)


@pytest.mark.parametrize("model", ROUTES)
def test_codex_completes_a_tool_round_trip_on_every_route_over_its_websocket(
        agents, agent_home, gateway, model):
    write_codex_config(agent_home, gateway)
    done = run_codex(agents, agent_home, gateway, model)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert MARKER in done.stdout, output[-3000:]
    assert "Falling back from WebSockets" not in output and "ERROR" not in output, output[-3000:]
    assert served(gateway) == [("/v1/responses", model, 200)] * 2


def test_codex_over_an_http_only_custom_provider(agents, agent_home, gateway):
    """The other documented set-up: a `model_providers` entry (HTTP and SSE, no WebSocket)."""
    with open(f"{agent_home['CODEX_HOME']}/config.toml", "w") as config:
        config.write(f'model_provider = "gateway"\n[model_providers.gateway]\nname = "gateway"\n'
                     f'base_url = "{gateway.url}/v1"\nenv_key = "GATEWAY_KEY"\n'
                     f'wire_api = "responses"\n')
    env = {**agent_home, "GATEWAY_KEY": gateway.user_key}
    command = [str(agents.codex), "exec", "--skip-git-repo-check",
               "--dangerously-bypass-approvals-and-sandbox", "-m", "anthropic/claude-sonnet-4-5",
               CODEX_PROMPT]
    done = subprocess.run(command, env=env, cwd=env["HOME"], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0 and MARKER in done.stdout, (done.stdout + done.stderr)[-3000:]
    assert served(gateway) == [("/v1/responses", "anthropic/claude-sonnet-4-5", 200)] * 2


AGENT_CONFIG = """
roles:
  coder:
    normal: anthropic/claude-sonnet-4-5
    heavy: anthropic/claude-opus-4-5
    max: anthropic/claude-opus-4-1
agents:
  - id: claude-code
    name: Claude Code
    role: coder
    overrides: {heavy: openai/gpt-4o}
"""


def test_an_agents_heavy_mode_on_another_provider_serves_claude_code(agents, agent_home, tmp_path,
                                                                     gateway_factory):
    from tests.gateway_fixtures import ROOT

    shipped = (ROOT / "model_config.yaml").read_text()
    config = tmp_path / "model_config.yaml"
    config.write_text(shipped.split("\nroles:")[0] + AGENT_CONFIG)
    gw = gateway_factory(GATEWAY_CONFIG=str(config))
    headers = {"ANTHROPIC_CUSTOM_HEADERS": "X-Agent-Id: claude-code\nX-Cost-Mode: heavy"}
    result = run_claude(agents, agent_home, gw, None, headers)  # Claude Code's default model
    assert result["is_error"] is False and result["result"].startswith(f"echo: {MARKER}"), result
    assert served(gw) == [("/v1/messages", "openai/gpt-4o", 200)] * 2


# --- interception: HTTPS_PROXY, the CA and a gateway key; no base URL at all --------------------

@pytest.fixture
def intercepting(gateway_factory):
    from gateway.intercept import InterceptConfig, ca_cert_path

    gw = gateway_factory(intercept=InterceptConfig(port=0))
    return gw, str(ca_cert_path(gw.ctx.settings.data_dir))


def test_claude_code_through_https_proxy(agents, agent_home, intercepting):
    gw, ca = intercepting
    env = {**agent_home, "HTTPS_PROXY": gw.extra["proxy_url"], "NODE_EXTRA_CA_CERTS": ca,
           "ANTHROPIC_API_KEY": gw.user_key}
    done = subprocess.run([str(agents.claude), "-p", CLAUDE_PROMPT, "--output-format", "json",
                           "--allowedTools", "Bash", "--model", "anthropic/claude-sonnet-4-5"],
                          env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = claude_result(done.stdout)
    assert result["is_error"] is False and result["result"].startswith(f"echo: {MARKER}"), result
    assert served(gw) == [("/v1/messages", "anthropic/claude-sonnet-4-5", 200)] * 2


def test_codex_through_https_proxy(agents, agent_home, intercepting):
    gw, ca = intercepting
    env = {**agent_home, "HTTPS_PROXY": gw.extra["proxy_url"], "SSL_CERT_FILE": ca,
           "CODEX_API_KEY": gw.user_key}
    command = [str(agents.codex), "exec", "--skip-git-repo-check",
               "--dangerously-bypass-approvals-and-sandbox", "-m", "openai/gpt-4o", CODEX_PROMPT]
    done = subprocess.run(command, env=env, cwd=env["HOME"], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0 and MARKER in done.stdout, (done.stdout + done.stderr)[-3000:]
    assert served(gw) == [("/v1/responses", "openai/gpt-4o", 200)] * 2
