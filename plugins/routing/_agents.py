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

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.config import ModelConfig
from gateway.config_schema import validate
from plugins.routing._sections import MODES, AgentSpec, RoutingSections

__all__ = ["MODES", "Agent", "AgentsConfig", "Effective", "agents_of", "build_agents",
           "overview", "parse_agents"]


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


def parse_agents(raw: Mapping[str, Any], config: ModelConfig) -> AgentsConfig:
    """Validate `roles:` and `agents:` of the raw file against the catalog in `config`."""
    data = {k: raw[k] for k in RoutingSections.model_fields if raw.get(k) is not None}
    return build_agents(validate(RoutingSections, data, context=config))


def agents_of(config: ModelConfig) -> AgentsConfig:
    """The agent configurations of a loaded, validated model_config.yaml."""
    return build_agents(config.sections_of(RoutingSections))


def build_agents(sections: RoutingSections) -> AgentsConfig:
    roles = {name: MappingProxyType({m: getattr(role, m) for m in MODES})
             for name, role in sections.roles.items()}
    agents: dict[str, Agent] = {}
    for _, spec, parent_spec in sections.walk():
        parent = agents[parent_spec.id] if parent_spec is not None else None
        agent = _agent(spec, parent)
        agents[agent.key] = agent
    counts: dict[str, list[str]] = {}
    for agent in agents.values():
        if agent.parent is not None:
            counts.setdefault(agent.id, []).append(agent.key)
    short = {i: keys[0] for i, keys in counts.items() if len(keys) == 1 and i not in agents}
    return AgentsConfig(MappingProxyType(roles), MappingProxyType(agents), MappingProxyType(short))


def _agent(spec: AgentSpec, parent: Agent | None) -> Agent:
    role = spec.role or (parent.role if parent is not None else "")
    overrides = spec.overrides.set() if spec.overrides is not None else {}
    return Agent(key=f"{parent.key}/{spec.id}" if parent else spec.id, id=spec.id,
                 name=(spec.name or spec.id).strip(), role=role, own_role=spec.role,
                 overrides=MappingProxyType(overrides),
                 parent=parent.key if parent else None)


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
