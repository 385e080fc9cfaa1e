"""What one gateway process knows about routing: snapshots of the aliases (database) and the
agent configurations (model_config.yaml), rebuilt by `reload` in the watcher thread after every
change and read by the hooks without any I/O."""

from __future__ import annotations

import logging
from dataclasses import replace

from gateway.call import Call, Endpoint, ModelInfo, Principal, Route
from gateway.config import ModelConfig
from gateway.core_hooks import resolve_name
from gateway.errors import ConfigError, NotFound
from gateway.host import PluginHost
from gateway.stash import StashKey
from plugins.routing._agents import AgentsConfig, agents_of
from plugins.routing._aliases import AliasTable, load_table

log = logging.getLogger("gateway.routing")
KEY = "routing"
ALIAS_CHAIN = StashKey[tuple[str, ...]]()  # the names an alias chain passed, requested first


class RoutingState:
    def __init__(self, ctx: PluginHost) -> None:
        self.ctx = ctx
        self.aliases = AliasTable((), ctx.config)
        self.agents = AgentsConfig()
        self._agents_of: ModelConfig | None = None

    def start(self) -> None:
        """First load: a bad `roles:`/`agents:` section stops the start, naming the key."""
        self.agents = agents_of(self.ctx.config)
        self._agents_of = self.ctx.config
        self.aliases = self._load_aliases()

    def reload(self) -> None:
        config = self.ctx.config
        if config is not self._agents_of:
            self._agents_of = config
            try:
                self.agents = agents_of(config)
            except ConfigError as exc:
                log.error("agent configuration not reloaded, keeping the last good one: %s", exc)
        self.aliases = self._load_aliases()

    def _load_aliases(self) -> AliasTable:
        with self.ctx.sessions() as session:
            return load_table(session, self.ctx.config)

    # -- per call -------------------------------------------------------------------------------

    def resolve(self, call: Call) -> Route | None:
        route = self._agent_route(call)
        if route is not None:
            return route
        org_id = call.principal.org_id if call.principal else None
        hit = self.aliases.resolve(call.requested_model, org_id)
        if hit is None:
            return None
        call.stash[ALIAS_CHAIN] = hit.chain
        route = self._resolve_name(hit.target, call.endpoint)
        return replace(route, reason="alias")

    def _agent_route(self, call: Call) -> Route | None:
        explicit = call.requested_model.startswith("agent/")
        # Agents pick chat models; an embeddings call from an agent keeps the model it named.
        if not call.agent_id or (call.endpoint is Endpoint.EMBEDDINGS and not explicit):
            return None
        agent = self.agents.find(call.agent_id)
        if agent is None:
            if explicit:
                raise NotFound(f"unknown agent {call.agent_id!r} (model {call.requested_model!r})")
            return None  # X-Agent-Id of an agent without configuration: route the model asked for
        effective = self.agents.effective(agent, call.cost_mode)
        route = self._resolve_name(effective.model, call.endpoint)
        return replace(route, reason="agent")

    def _resolve_name(self, name: str, endpoint: Endpoint) -> Route:
        # until gateway/core_hooks.resolve_name takes a PluginHost (it reads only `config`)
        return resolve_name(self.ctx, name, endpoint)

    def list_models(self, principal: Principal | None) -> list[ModelInfo]:
        org_id = principal.org_id if principal else None
        infos = [ModelInfo(id=name, owned_by="gateway", kind="alias",
                           display_name=f"{name} → {hit.target}")
                 for name, hit in sorted(self.aliases.visible(org_id).items())]
        infos += [ModelInfo(id=f"agent/{agent.key}", owned_by="gateway", kind="agent",
                            display_name=agent.name)
                  for agent in self.agents.agents.values()]
        return infos
