"""Agent configurations from model_config.yaml: `roles:` (a model per cost mode) and `agents:`.

    roles:
      coder: {normal: anthropic/claude-sonnet-4-5, heavy: anthropic/claude-opus-4-5, max: …}
    agents:
      - id: planner
        name: Planner
        role: coder
        overrides: {heavy: anthropic/claude-opus-4-1}    # optional, per mode
        subagents:
          - id: researcher
            name: Researcher
            role: assistant                               # optional: defaults to the parent's
            overrides: {normal: ollama/llama3.2}

Resolution for (agent, mode): the agent's own override for that mode, else its role's model for
that mode (a subagent without a role of its own uses its parent's role; it does not inherit the
parent's overrides). A subagent is addressed as `parent/child`, or by its own id when no other
subagent shares it. Models must be catalog entries (`models:`) or `ollama/<name>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.config import ModelConfig
from gateway.errors import ConfigError

MODES = ("normal", "heavy", "max")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_AGENT_KEYS = {"id", "name", "role", "overrides", "subagents"}


@dataclass(frozen=True)
class Agent:
    key: str  # "planner" or "planner/researcher"
    id: str
    name: str
    role: str  # the role in force (own or inherited from the parent)
    own_role: str | None  # as written in the file
    overrides: Mapping[str, str]
    parent: str | None = None

    @property
    def role_inherited(self) -> bool:
        return self.parent is not None and self.own_role is None


@dataclass(frozen=True)
class Effective:
    """The model an agent uses in one mode, and where it comes from (for the admin page)."""

    model: str
    source: str  # "override" (set on this agent) or "role" (inherited from `role`)
    role: str


@dataclass(frozen=True)
class AgentsConfig:
    roles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    agents: Mapping[str, Agent] = field(default_factory=dict)
    short_ids: Mapping[str, str] = field(default_factory=dict)  # unique subagent id → key

    def find(self, agent_id: str) -> Agent | None:
        agent = self.agents.get(agent_id)
        if agent is None and agent_id in self.short_ids:
            agent = self.agents[self.short_ids[agent_id]]
        return agent

    def effective(self, agent: Agent, mode: str) -> Effective:
        if mode in agent.overrides:
            return Effective(agent.overrides[mode], "override", agent.role)
        return Effective(self.roles[agent.role][mode], "role", agent.role)


def check_model(name: Any, config: ModelConfig, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: must be a model name like 'anthropic/claude-sonnet-4-5'")
    if name in config.models or (name.startswith("ollama/") and len(name) > len("ollama/")):
        return name
    raise ConfigError(f"{where}: model {name!r} is not in the catalog (models:) and is not "
                      f"an ollama/<name> model")


def parse_agents(raw: Mapping[str, Any], config: ModelConfig) -> AgentsConfig:
    """Validate `roles:` and `agents:` of the raw file against the catalog in `config`."""
    roles = _parse_roles(raw.get("roles"), config)
    items = raw.get("agents") or []
    if not isinstance(items, list):
        raise ConfigError("agents: must be a list of agents (id, name, role, …)")
    agents: dict[str, Agent] = {}
    for i, item in enumerate(items):
        _parse_agent(item, f"agents[{i}]", roles, config, agents, parent=None)
    counts: dict[str, list[str]] = {}
    for agent in agents.values():
        if agent.parent is not None:
            counts.setdefault(agent.id, []).append(agent.key)
    short = {i: keys[0] for i, keys in counts.items() if len(keys) == 1 and i not in agents}
    return AgentsConfig(MappingProxyType(roles), MappingProxyType(agents), MappingProxyType(short))


def _parse_roles(raw: Any, config: ModelConfig) -> dict[str, Mapping[str, str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("roles: must be a mapping of role name to {normal, heavy, max}")
    roles = {}
    for name, spec in raw.items():
        where = f"roles.{name}"
        if not isinstance(name, str) or not _ID_RE.match(name):
            raise ConfigError(f"{where}: role names are lower-case letters, digits, . _ -")
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: must be a mapping with normal, heavy and max")
        _no_unknown(spec, set(MODES), where)
        for mode in MODES:
            if mode not in spec:
                raise ConfigError(f"{where}.{mode}: missing (a role names a model for every mode)")
        roles[name] = MappingProxyType({m: check_model(spec[m], config, f"{where}.{m}")
                                        for m in MODES})
    return roles


def _parse_agent(item: Any, where: str, roles: Mapping[str, Any], config: ModelConfig,
                 agents: dict[str, Agent], parent: Agent | None) -> None:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a mapping with id, name and role")
    _no_unknown(item, _AGENT_KEYS, where)
    agent_id = item.get("id")
    if not isinstance(agent_id, str) or not _ID_RE.match(agent_id):
        raise ConfigError(f"{where}.id: must be lower-case letters, digits, . _ - (no '/'), "
                          f"got {agent_id!r}")
    key = f"{parent.key}/{agent_id}" if parent else agent_id
    if key in agents:
        raise ConfigError(f"{where}.id: {key!r} is already defined")
    name = item.get("name", agent_id)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: must be a non-empty string")
    own_role = item.get("role")
    if own_role is None and parent is None:
        known = ", ".join(sorted(roles)) or "no roles defined"
        raise ConfigError(f"{where}.role: missing (one of {known})")
    if own_role is not None and own_role not in roles:
        raise ConfigError(f"{where}.role: unknown role {own_role!r} (define it under roles:)")
    agent = Agent(key=key, id=agent_id, name=name.strip(), role=own_role or parent.role,
                  own_role=own_role, overrides=_overrides(item.get("overrides"), where, config),
                  parent=parent.key if parent else None)
    agents[key] = agent
    subs = item.get("subagents") or []
    if subs and parent is not None:
        raise ConfigError(f"{where}.subagents: subagents cannot have subagents of their own")
    if not isinstance(subs, list):
        raise ConfigError(f"{where}.subagents: must be a list")
    for j, sub in enumerate(subs):
        _parse_agent(sub, f"{where}.subagents[{j}]", roles, config, agents, parent=agent)


def _overrides(raw: Any, where: str, config: ModelConfig) -> Mapping[str, str]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}.overrides: must be a mapping of mode (normal, heavy, max) "
                          f"to model")
    _no_unknown(raw, set(MODES), f"{where}.overrides")
    return MappingProxyType({m: check_model(v, config, f"{where}.overrides.{m}")
                             for m, v in raw.items() if v is not None})


def _no_unknown(mapping: dict, allowed: set[str], where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                          f"(allowed: {', '.join(sorted(allowed))})")


# --- the admin page's view ---------------------------------------------------------------------

def overview(agents: AgentsConfig) -> list[dict[str, Any]]:
    """One row per agent and subagent (parents first, in file order): for every mode the
    effective model and whether it is an override set on the row or inherited from the role."""
    rows = []
    for agent in agents.agents.values():
        modes = {}
        for mode in MODES:
            eff = agents.effective(agent, mode)
            modes[mode] = {"model": eff.model, "source": eff.source,
                           "override": eff.source == "override",
                           "role_model": agents.roles[agent.role][mode]}
        rows.append({"key": agent.key, "id": agent.id, "name": agent.name, "parent": agent.parent,
                     "role": agent.role, "role_inherited": agent.role_inherited,
                     "model_name": f"agent/{agent.key}", "modes": modes})
    return rows
