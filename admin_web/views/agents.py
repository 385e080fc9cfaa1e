"""Agent Configurations: the model of every agent and subagent per cost mode, from
model_config.yaml. An input that holds a per-agent override is marked; clearing it goes back to
the role's model. Saving rewrites model_config.yaml through the routing plugin (validated, other
content kept); running gateways pick the file up within about a second."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin_web.access import SUPER, allow
from admin_web.sources import api, config_path, model_config
from admin_web.writes import field
from gateway.errors import ConfigError

bp = Blueprint("agents", __name__, url_prefix="/agents")


@bp.get("/")
@allow(SUPER)
def index() -> str:
    routing = api("routing")
    if routing is None:
        return render_template("agents.html", available=False)
    error, rows, roles = None, [], {}
    try:
        agents = routing.load_agents(config_path())
        rows, roles = routing.agent_overview(agents), agents.roles
    except (ConfigError, OSError) as exc:
        error = str(exc)
    return render_template("agents.html", available=True, rows=rows, roles=roles,
                           modes=routing.MODES, error=error, path=config_path(),
                           catalog=sorted(model_config().models))


@bp.post("/<path:key>")
@allow(SUPER)
def save(key: str) -> Response:
    routing = api("routing")
    if routing is None:
        abort(404)
    try:
        agents = routing.load_agents(config_path())
        current = next((r for r in routing.agent_overview(agents) if r["key"] == key), None)
        if current is None:
            abort(404)
        changes = planned_changes(current, routing.MODES)
        for mode, model in changes:
            routing.set_override(config_path(), key, mode, model)
    except ConfigError as exc:
        flash(str(exc), "error")
        return redirect(url_for("agents.index"))
    if changes:
        flash(f"Saved {current['name']}: " + ", ".join(
            f"{mode} → {model or 'inherited from ' + current['role']}" for mode, model in changes),
            "success")
    return redirect(url_for("agents.index"))


def planned_changes(current: dict, modes: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(mode, model or None to clear) for every mode the form changed. An input left at the
    inherited model stays inherited; an emptied input or the Clear button removes an override."""
    cleared = request.form.get("clear")
    changes: list[tuple[str, str | None]] = []
    for mode in modes:
        now = current["modes"][mode]
        wanted = field(mode, 200)
        if mode == cleared or not wanted:
            if now["override"]:
                changes.append((mode, None))
        elif wanted != now["model"]:
            changes.append((mode, wanted))
    return changes
