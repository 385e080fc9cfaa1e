"""Agent configurations: validation, resolution order, the admin page's view, the writer that
keeps model_config.yaml valid and intact, and agents routing calls on a running gateway."""

from __future__ import annotations

import types
from pathlib import Path

import openai
import pytest
import yaml

from gateway.config import parse_config
from gateway.errors import ConfigError
from plugins.routing import admin_api
from plugins.routing._agents import parse_agents
from plugins.routing._state import RoutingState

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "model_config.yaml").read_text()
AGENTS = """
agents:
  - id: planner
    name: Planner
    role: coder
    overrides: {heavy: anthropic/claude-opus-4-1}
    subagents:
      - id: researcher
        name: Researcher
        overrides: {normal: ollama/llama3.2}
      - id: writer
        name: Writer
        role: assistant
  - id: reviewer
    name: Reviewer
    role: assistant
"""
MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture
def db_url(tmp_path):
    """Nothing here depends on the database backend: SQLite only (the shared fixture
    would run every test on PostgreSQL too)."""
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


def config_text(agents: str = AGENTS) -> str:
    return SHIPPED.replace("\nagents: []\n", agents)


def parse(text: str):
    config = parse_config(yaml.safe_load(text))
    return parse_agents(config.raw, config)


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "model_config.yaml"
    path.write_text(config_text())
    return path


# --- validation and resolution -----------------------------------------------------------------

def test_resolution_order_override_then_role_and_subagents_inherit_the_role():
    agents = parse(config_text())
    planner, researcher = agents.find("planner"), agents.find("planner/researcher")
    assert agents.effective(planner, "heavy").model == "anthropic/claude-opus-4-1"
    assert agents.effective(planner, "heavy").source == "override"
    assert agents.effective(planner, "normal").model == "anthropic/claude-sonnet-4-5"
    assert agents.effective(planner, "normal").source == "role"
    assert agents.effective(researcher, "normal").model == "ollama/llama3.2"
    # the parent's role, not the parent's override
    assert agents.effective(researcher, "heavy").model == "anthropic/claude-opus-4-5"
    assert agents.effective(agents.find("writer"), "max").model == "openai/gpt-5"
    assert agents.find("researcher") is researcher  # unique subagent id works alone
    assert agents.find("nobody") is None


@pytest.mark.parametrize("agents, where", [
    ("agents:\n  - id: x\n    name: X\n", r"agents\[0\]\.role: required \(one of assistant, coder\)"),
    ("agents:\n  - {id: x, role: nope}\n", r"agents\[0\]\.role: unknown role 'nope'"),
    ("agents:\n  - {id: x, role: coder, overrides: {heavy: openai/nope}}\n",
     r"agents\[0\]\.overrides\.heavy: model 'openai/nope' is not in the catalog"),
    ("agents:\n  - {id: x, role: coder, overrides: {turbo: openai/gpt-4o}}\n",
     r"agents\[0\]\.overrides: unknown key\(s\) turbo"),
    ("agents:\n  - {id: x, role: coder}\n  - {id: x, role: coder}\n",
     r"agents\[1\]\.id: 'x' is already defined"),
    ("agents:\n  - {id: x, role: coder, subagents: [{id: y, subagents: [{id: z}]}]}\n",
     r"agents\[0\]\.subagents\[0\]\.subagents"),
    ("agents:\n  - {id: X/Y, role: coder}\n", r"agents\[0\]\.id"),
    ("agents:\n  - {id: x, role: coder, colour: red}\n", r"agents\[0\]: unknown key\(s\) colour"),
])
def test_invalid_agents_name_the_key_at_fault(agents, where):
    with pytest.raises(ConfigError, match=where):
        parse(config_text("\n" + agents))


def test_a_role_needs_every_mode_and_catalog_models():
    with pytest.raises(ConfigError, match=r"roles\.coder\.max: required"):
        parse(SHIPPED.replace("    max: anthropic/claude-opus-4-1\n", ""))
    with pytest.raises(ConfigError, match=r"roles\.assistant\.heavy: model 'openai/gpt-99'"):
        parse(SHIPPED.replace("heavy: openai/gpt-4.1", "heavy: openai/gpt-99"))


def test_gateway_startup_refuses_a_bad_agent_section():
    data = yaml.safe_load(config_text("\nagents:\n  - {id: x, role: nope}\n"))
    with pytest.raises(ConfigError, match=r"model_config\.yaml: agents\[0\]\.role: unknown role"):
        RoutingState(types.SimpleNamespace(config=parse_config(data))).start()


# --- the admin page's API ----------------------------------------------------------------------

def test_overview_says_which_values_are_overrides(config_file):
    rows = {r["key"]: r for r in admin_api.agent_overview(admin_api.load_agents(config_file))}
    assert list(rows) == ["planner", "planner/researcher", "planner/writer", "reviewer"]
    heavy = rows["planner"]["modes"]["heavy"]
    assert heavy == {"model": "anthropic/claude-opus-4-1", "source": "override", "override": True,
                     "role_model": "anthropic/claude-opus-4-5"}
    assert rows["planner"]["modes"]["normal"]["override"] is False
    assert rows["planner/researcher"]["role"] == "coder"
    assert rows["planner/researcher"]["role_inherited"] is True
    assert rows["planner/writer"]["role_inherited"] is False
    assert rows["planner/researcher"]["model_name"] == "agent/planner/researcher"


def test_writer_keeps_every_unrelated_line_and_comment(config_file):
    before = config_file.read_text()
    admin_api.set_override(config_file, "reviewer", "max", "anthropic/claude-opus-4-5")
    admin_api.set_agent(config_file, "planner/critic", name="Critic")
    admin_api.set_role_model(config_file, "assistant", "normal", "openai/gpt-4.1-nano")
    after = config_file.read_text()
    head = before.split("\nroles:")[0]
    assert after.startswith(head)  # providers, catalog (aligned columns) and comments untouched
    assert "# Agent configurations (used by the routing plugin)" in after
    agents = admin_api.load_agents(config_file)
    assert agents.effective(agents.find("reviewer"), "max").source == "override"
    assert agents.find("planner/critic").role == "coder"
    assert agents.roles["assistant"]["normal"] == "openai/gpt-4.1-nano"
    admin_api.set_override(config_file, "reviewer", "max", None)
    agents = admin_api.load_agents(config_file)
    assert agents.effective(agents.find("reviewer"), "max").source == "role"
    admin_api.delete_agent(config_file, "planner/critic")
    assert "critic" not in config_file.read_text()


def test_writer_refuses_an_invalid_result_and_leaves_the_file_alone(config_file):
    before = config_file.read_text()
    with pytest.raises(ConfigError, match=r"agents\[1\]\.overrides\.max: model 'openai/nope'"):
        admin_api.set_override(config_file, "reviewer", "max", "openai/nope")
    with pytest.raises(ConfigError, match="unknown role 'ghost'"):
        admin_api.set_agent(config_file, "newbie", name="New", role="ghost")
    with pytest.raises(ConfigError, match=r"agents\[0\]\.role: unknown role 'coder'"):
        admin_api.delete_role(config_file, "coder")
    with pytest.raises(ConfigError, match="unknown cost mode"):
        admin_api.set_override(config_file, "reviewer", "turbo", "openai/gpt-4o")
    assert config_file.read_text() == before


def test_writer_grows_an_empty_agents_list_in_block_style(tmp_path):
    path = tmp_path / "model_config.yaml"
    path.write_text(SHIPPED)
    admin_api.set_agent(path, "solo", name="Solo", role="assistant")
    admin_api.set_override(path, "solo", "heavy", "openai/o3")
    assert path.read_text().endswith(
        "agents:\n  - id: solo\n    name: Solo\n    role: assistant\n    overrides: {heavy: openai/o3}\n")
    assert path.read_text().startswith(SHIPPED.split("\nagents:")[0])


# --- a running gateway -------------------------------------------------------------------------

def chat(gw, model="gpt-4o", **headers):
    raw = gw.openai().chat.completions.with_raw_response.create(
        model=model, messages=MSG, extra_headers=headers)
    return raw.headers["x-gateway-model"]


def test_gateway_resolve_model_agents_and_subagents_by_cost_mode(gateway_factory, config_file):
    gw = gateway_factory(GATEWAY_CONFIG=str(config_file))
    assert chat(gw, **{"X-Agent-Id": "planner", "X-Cost-Mode": "heavy"}) == "anthropic/claude-opus-4-1"
    assert chat(gw, **{"X-Agent-Id": "planner"}) == "anthropic/claude-sonnet-4-5"
    assert chat(gw, model="agent/planner/researcher") == "ollama/llama3.2"
    assert gw.mock.state.requests[-1]["path"] == "/v1/chat/completions"
    assert chat(gw, model="agent/researcher", **{"X-Cost-Mode": "heavy"}) == \
        "anthropic/claude-opus-4-5"
    assert chat(gw, model="agent/reviewer", **{"X-Cost-Mode": "max"}) == "openai/gpt-5"
    # an agent the file does not configure: the model asked for is served
    assert chat(gw, **{"X-Agent-Id": "someone-else"}) == "openai/gpt-4o"
    # agents choose chat models; their embeddings calls keep the model they name
    raw = gw.openai().embeddings.with_raw_response.create(
        model="text-embedding-3-small", input="x", extra_headers={"X-Agent-Id": "planner"})
    assert raw.headers["x-gateway-model"] == "openai/text-embedding-3-small"
    with pytest.raises(openai.NotFoundError, match="unknown agent 'ghost'"):
        chat(gw, model="agent/ghost")
    ids = {m.id for m in gw.openai().models.list()}
    assert {"agent/planner", "agent/planner/researcher", "agent/reviewer"} <= ids


def test_agent_edits_reach_a_running_gateway_and_bad_edits_keep_the_last_good(gateway_factory,
                                                                              config_file, caplog):
    gw = gateway_factory(GATEWAY_CONFIG=str(config_file))
    headers = {"X-Agent-Id": "reviewer", "X-Cost-Mode": "heavy"}
    assert chat(gw, **headers) == "openai/gpt-4.1"
    admin_api.set_override(config_file, "reviewer", "heavy", "anthropic/claude-haiku-4-5")
    gw.ctx.poll_once()
    assert chat(gw, **headers) == "anthropic/claude-haiku-4-5"
    config_file.write_text(config_text(AGENTS.replace("role: assistant\n", "role: ghost\n", 1)
                                       + "  - {id: extra, role: coder}\n"))
    gw.ctx.poll_once()
    assert chat(gw, **headers) == "anthropic/claude-haiku-4-5"
    assert chat(gw, **{"X-Agent-Id": "extra"}) == "openai/gpt-4o"  # not in the last good config
    assert "model config reload failed, keeping the last good one" in caplog.text
    assert "agents[0].subagents[1].role: unknown role 'ghost'" in caplog.text
