"""The routing plugin's sections of model_config.yaml, `roles:` and `agents:`, as models. Models
they name must be in the catalog (the core's config, passed as the validation context) or be
`ollama/<name>`; agents refer to roles, so both are validated together."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo, model_validator

from gateway.config_schema import ConfigSection, SchemaError

MODES = ("normal", "heavy", "max")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _known_model(name: str, info: ValidationInfo) -> str:
    if not name:
        raise ValueError("must be a model name like 'anthropic/claude-sonnet-4-5'")
    config = info.context
    if config is None or config.knows(name):
        return name
    raise ValueError(f"model {name!r} is not in the catalog (models:) and is not an "
                     f"ollama/<name> model")


def _role_name(name: str) -> str:
    if not _ID_RE.match(name):
        raise ValueError("role names are lower-case letters, digits, . _ -")
    return name


def _agent_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError("must be lower-case letters, digits, . _ - (no '/')")
    return value


ModelName = Annotated[str, AfterValidator(_known_model)]
RoleName = Annotated[str, AfterValidator(_role_name)]


class Role(ConfigSection):
    """A model for every cost mode."""

    normal: ModelName
    heavy: ModelName
    max: ModelName


class Overrides(ConfigSection):
    normal: ModelName | None = None
    heavy: ModelName | None = None
    max: ModelName | None = None

    def set(self) -> dict[str, str]:
        return {m: v for m in MODES if (v := getattr(self, m)) is not None}


class AgentSpec(ConfigSection):
    id: Annotated[str, AfterValidator(_agent_id)]
    name: str | None = None
    role: str | None = None  # a subagent without one uses its parent's
    overrides: Overrides | None = None
    subagents: tuple[AgentSpec, ...] = ()


class RoutingSections(ConfigSection):
    roles: dict[RoleName, Role] = {}
    agents: tuple[AgentSpec, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> RoutingSections:
        seen: set[str] = set()
        for where, spec, parent in self.walk():
            self._check(where, spec, parent, seen)
        return self

    def walk(self) -> Iterator[tuple[str, AgentSpec, AgentSpec | None]]:
        """(where, agent, its parent) for every agent and subagent, parents first."""
        for i, agent in enumerate(self.agents):
            yield f"agents[{i}]", agent, None
            for j, sub in enumerate(agent.subagents):
                yield f"agents[{i}].subagents[{j}]", sub, agent

    def _check(self, where: str, spec: AgentSpec, parent: AgentSpec | None,
               seen: set[str]) -> None:
        key = f"{parent.id}/{spec.id}" if parent else spec.id
        if key in seen:
            raise SchemaError(f"{where}.id", f"{key!r} is already defined")
        seen.add(key)
        if spec.name is not None and not spec.name.strip():
            raise SchemaError(f"{where}.name", "must be a non-empty string")
        if spec.role is None and parent is None:
            known = ", ".join(sorted(self.roles)) or "no roles defined"
            raise SchemaError(f"{where}.role", f"required (one of {known})")
        if spec.role is not None and spec.role not in self.roles:
            raise SchemaError(f"{where}.role",
                              f"unknown role {spec.role!r} (define it under roles:)")
        if parent is not None and spec.subagents:
            raise SchemaError(f"{where}.subagents",
                              "subagents cannot have subagents of their own")
