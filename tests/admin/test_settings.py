"""Gateway settings, agent configurations, DLP rules, features and the activity export, through
the admin site's forms."""

from __future__ import annotations

import csv
import io
import time

import yaml
from sqlalchemy import func, select

from admin_web import features
from admin_web.db import database
from gateway.config import parse_config
from gateway.db.models import RequestLog
from plugins.dlp import admin_api as dlp
from plugins.fallback import _credentials, _ops
from plugins.routing import admin_api as routing
from plugins.routing._agents import parse_agents
from tests.admin.conftest import make_site, post


def agents_of(site):
    return {row["key"]: row for row in routing.agent_overview(
        routing.load_agents(site.seeded.settings.config_path))}


def test_agent_override_is_written_and_cleared(site):
    client = site.as_role("super_admin")
    path = site.seeded.settings.config_path
    before = path.read_text()
    row = agents_of(site)["reviewer"]["modes"]
    post(client, "/agents/reviewer", {"normal": row["normal"]["model"],
                                      "heavy": "anthropic/claude-opus-4-5",
                                      "max": row["max"]["model"]})
    heavy = agents_of(site)["reviewer"]["modes"]["heavy"]
    assert (heavy["model"], heavy["override"]) == ("anthropic/claude-opus-4-5", True)
    assert agents_of(site)["reviewer"]["modes"]["normal"]["override"] is False
    text = path.read_text()
    config = parse_config(yaml.safe_load(text))
    parse_agents(config.raw, config)  # still a valid file, as a gateway loads it
    assert "# Prices are USD per million tokens" in text  # unrelated content kept
    html = client.get("/agents/").get_data(as_text=True)
    assert 'value="anthropic/claude-opus-4-5" list="catalog"\n                   class="override"' \
        in html
    post(client, "/agents/reviewer", {"normal": row["normal"]["model"], "heavy": "x",
                                      "max": row["max"]["model"], "clear": "heavy"})
    assert agents_of(site)["reviewer"]["modes"]["heavy"]["override"] is False
    assert path.read_text() == before


def test_agent_save_refuses_an_unknown_model_and_keeps_the_file(site):
    client = site.as_role("super_admin")
    path = site.seeded.settings.config_path
    before = path.read_text()
    page = post(client, "/agents/planner", {"normal": "nope/nothing", "heavy": "",
                                            "max": "anthropic/claude-opus-4-1"},
                follow_redirects=True).get_data(as_text=True)
    assert "not in the catalog" in page
    assert path.read_text() == before


def test_routing_strategy_chains_and_credentials(site):
    client = site.as_role("super_admin")
    post(client, "/settings/routing", {"strategy": "least-busy"})
    post(client, "/settings/chains", {"primary": "openai/gpt-4.1",
                                      "models": "openai/gpt-4o-mini, anthropic/claude-haiku-4-5",
                                      "scope": "acme"})
    secret = "sk-ant-VERYSECRET-abcd1234wxyz"
    post(client, "/settings/credentials", {"provider": "anthropic", "api_key": secret})
    page = client.get("/settings/").get_data(as_text=True)
    assert secret not in page and "…wxyz" in page
    key = site.seeded.settings.secret_key()
    with site.session() as session:
        assert _ops.get_settings(session)[_ops.ROUTING_STRATEGY] == "least-busy"
        chains = {(c.primary_model, slug): c.models for c, slug in _ops.list_chains(session)}
        creds = {c.provider: c.api_key for c in _credentials.list_credentials(session, key)}
    assert chains[("openai/gpt-4.1", "acme")] == ["openai/gpt-4o-mini",
                                                  "anthropic/claude-haiku-4-5"]
    assert creds["anthropic"] == secret
    # Replacing other fields keeps the stored key.
    post(client, "/settings/credentials", {"provider": "anthropic", "api_key": "",
                                           "organization": "team-1"})
    with site.session() as session:
        creds = {c.provider: c for c in _credentials.list_credentials(session, key)}
    assert (creds["anthropic"].api_key, creds["anthropic"].organization) == (secret, "team-1")
    post(client, "/settings/credentials/delete", {"provider": "anthropic"})
    post(client, "/settings/chains/delete", {"primary": "openai/gpt-4.1", "scope": "acme"})
    bad = post(client, "/settings/routing", {"strategy": "random"}, follow_redirects=True)
    assert "invalid routing_strategy &#39;random&#39;" in bad.get_data(as_text=True)
    with site.session() as session:
        assert "anthropic" not in {c.provider for c in
                                   _credentials.list_credentials(session, key)}
        assert ("openai/gpt-4.1", "acme") not in {(c.primary_model, s)
                                                  for c, s in _ops.list_chains(session)}


def test_ollama_test_connection_lists_the_models(db_url, tmp_path, mock_provider):
    site = make_site(db_url, tmp_path, OLLAMA_BASE_URL=mock_provider.url)
    client = site.as_role("super_admin")
    page = post(client, "/settings/ollama/test").get_data(as_text=True)
    assert "Connected: 2 models found" in page and "ollama/llama3.2:latest" in page
    # Saving a URL is validated by the credentials store; loopback needs the checkbox.
    refused = post(client, "/settings/ollama", {"url": "http://127.0.0.1:9"},
                   follow_redirects=True).get_data(as_text=True)
    assert "points at a private address (127.0.0.1)" in refused
    post(client, "/settings/ollama", {"url": "http://127.0.0.1:9", "allow_private": "on"})
    down = post(client, "/settings/ollama/test").get_data(as_text=True)
    assert "Cannot connect" in down and "http://127.0.0.1:9/api/tags" in down
    database(site.app).engine.dispose()


def test_features_offered_and_opted_into(site):
    root, member = site.as_role("super_admin"), site.as_role("member")
    post(root, "/settings/features", {"key": "web-search", "label": "Web search",
                                      "description": "Let agents search", "mode": "opt_in"})
    assert "Web search" in member.get("/me/").get_data(as_text=True)
    post(member, "/me/features", {"feature": "web-search", "on": "1"})
    dev = site.ids["dev@acme.test"]
    with site.session() as session:
        # beta-ui is on for everyone; long-context is offered but dev did not opt in.
        assert features.enabled_for(session, dev) == {"web-search", "beta-ui"}
    refused = post(member, "/me/features", {"feature": "beta-ui"}, follow_redirects=True)
    assert "not open for opting in" in refused.get_data(as_text=True)
    post(root, "/settings/features", {"key": "web-search", "label": "Web search", "mode": "off"})
    assert "Web search" not in member.get("/me/").get_data(as_text=True)


def test_dlp_rules_of_a_scope(site):
    client = site.as_role("org_admin")
    with site.session() as session:
        rules = {r["rule"]: r["enabled"] for r in dlp.list_rules(session, app="bot")}
    wanted = [r for r, on in rules.items() if on and r != "email"]
    post(client, "/dlp/app/bot/rules", {"rule": wanted})
    with site.session() as session:
        after = {r["rule"]: r for r in dlp.list_rules(session, app="bot")}
    assert after["email"]["enabled"] is False and after["email"]["source"] == "scope"
    assert sum(r["enabled"] for r in after.values()) == len(wanted)


def test_activity_export_with_progress(site):
    client = site.as_role("super_admin")
    dev = site.ids["dev@acme.test"]
    started = post(client, "/exports/", {"user": str(dev)})
    assert started.status_code == 302
    job_url = started.headers["Location"]
    assert "export-progress" in client.get(job_url).get_data(as_text=True)
    deadline = time.monotonic() + 20
    while (status := client.get(job_url + "/status").get_json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with site.session() as session:
        calls = session.scalar(select(func.count()).select_from(RequestLog)
                               .where(RequestLog.user_id == dev))
    assert status == {"status": "done", "done": calls, "total": calls, "progress": 1.0,
                      "error": None}
    download = client.get(job_url + "/download")
    assert download.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert len(rows) == calls and {r["requested_model"] for r in rows} >= {"gpt-4o-mini"}
    # Only the admin who started it may fetch it.
    assert site.as_role("org_admin").get(job_url + "/download").status_code == 404
