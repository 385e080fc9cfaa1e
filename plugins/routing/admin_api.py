"""What the admin site calls (it imports this module; the hooks live in the package itself).

Aliases (database; each write validates, flushes and bumps the change counter, the caller
commits):
    list_aliases(session, org_slug=None), set_alias(session, requested, routed, config,
    org_slug=None) → (row, Resolution), delete_alias(session, requested, org_slug=None)

Agent configurations (model_config.yaml):
    load_agents(path) → AgentsConfig; agent_overview(agents) → one row per agent and subagent
    with, for each mode, the effective model and whether it is an override or inherited from
    the role; set_role, set_role_model, delete_role, set_agent, set_override, delete_agent
    rewrite the file (comments and unrelated content kept; invalid results refused with a
    `ConfigError` naming the key; running gateways reload within about a second).
"""

from __future__ import annotations

from pathlib import Path

from plugins.routing._agents import MODES, AgentsConfig, Effective
from plugins.routing._agents import overview as agent_overview
from plugins.routing._aliases import Resolution, delete_alias, list_aliases, set_alias
from plugins.routing._config_writer import (
    delete_agent,
    delete_role,
    set_agent,
    set_override,
    set_role,
    set_role_model,
    validate_text,
)


def load_agents(path: Path) -> AgentsConfig:
    """The agent configuration of the file at `path`, validated like a gateway loads it."""
    return validate_text(Path(path).read_text(encoding="utf-8"))


__all__ = ["MODES", "AgentsConfig", "Effective", "Resolution", "agent_overview", "delete_agent",
           "delete_alias", "delete_role", "list_aliases", "load_agents", "set_agent",
           "set_alias", "set_override", "set_role", "set_role_model"]
