"""Refuse calls that do not name their team in an `X-Team` header, with an error in the shape of
the API that was called (OpenAI, Anthropic or Ollama) and a status the SDKs understand.

Drop this file into a plugins folder (`llm-gateway up --plugins-dir DIR`) or `pip install` its
folder; either way it is the plugin `team_header`. Optional settings, in model_config.yaml:

    plugins:
      team_header:
        header: X-Team          # the header to require
        teams: [red, blue]      # only these teams (default: any non-empty value)
"""

from __future__ import annotations

from gateway.errors import BadRequest, Forbidden
from gateway.pluginmanager import ConfigSection, hookimpl, plugin_config
from gateway.stash import StashKey

NAME = "team_header"
TEAM = StashKey[str]()  # the caller's team, from gateway_admit to gateway_response_headers


class Config(ConfigSection):  # a pydantic model: unknown keys and wrong types are refused
    header: str = "X-Team"
    teams: tuple[str, ...] = ()


@hookimpl
def gateway_plugin_config_schema() -> type[ConfigSection]:
    return Config


@hookimpl(tryfirst=True)  # before metering reserves money for a call we are going to refuse
def gateway_admit(call) -> None:
    config: Config = plugin_config(call.ctx, NAME)
    team = (call.headers.get(config.header) or "").strip()
    if not team:
        raise BadRequest(f"missing {config.header} header: every call must name its team")
    if config.teams and team not in config.teams:
        raise Forbidden(f"team {team!r} may not use this gateway "
                        f"(allowed: {', '.join(config.teams)})")
    call.stash[TEAM] = team


@hookimpl
def gateway_response_headers(call) -> dict[str, str] | None:
    team = call.stash.get(TEAM)
    return {"X-Team": team} if team else None
