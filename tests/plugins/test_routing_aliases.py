"""Model aliases: resolution rules (pure), admin operations on SQLite and PostgreSQL, the
`llm-gateway aliases` commands, and a running gateway (org vs global, hot reload, /v1/models)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from gateway import admin_ops, testing
from gateway.cli import build_parser
from gateway.config import load_config
from gateway.pluginmanager import make_plugin_manager
from plugins.routing._aliases import AliasLoop, AliasTable, delete_alias, follow, list_aliases, set_alias
from plugins.routing._models import ModelAlias

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "model_config.yaml")
MSG = [{"role": "user", "content": "hi"}]


# --- resolution (pure) -------------------------------------------------------------------------

def test_org_alias_beats_global_and_chains_follow_the_callers_org():
    table = AliasTable([(None, "fast", "openai/gpt-4o-mini"), (None, "smart", "fast"),
                        (7, "fast", "anthropic/claude-haiku-4-5")], CONFIG)
    assert table.resolve("fast", None).target == "openai/gpt-4o-mini"
    assert table.resolve("fast", 7).target == "anthropic/claude-haiku-4-5"
    assert table.resolve("smart", 7).chain == ("smart", "fast", "anthropic/claude-haiku-4-5")
    assert table.resolve("smart", 8).target == "openai/gpt-4o-mini"  # an org without aliases
    assert table.resolve("unknown", 7) is None


def test_an_alias_on_a_catalog_model_covers_both_spellings():
    table = AliasTable([(None, "openai/gpt-4o", "anthropic/claude-sonnet-4-5")], CONFIG)
    assert table.resolve("gpt-4o", None).target == "anthropic/claude-sonnet-4-5"
    table = AliasTable([(None, "gpt-4o", "anthropic/claude-sonnet-4-5")], CONFIG)
    assert table.resolve("openai/gpt-4o", None).target == "anthropic/claude-sonnet-4-5"


def test_spellings_count_at_every_step_and_the_org_still_wins():
    table = AliasTable([(None, "smart", "gpt-4o"), (None, "openai/gpt-4o", "gpt-4o-mini"),
                        (7, "gpt-4o", "anthropic/claude-haiku-4-5")], CONFIG)
    assert table.resolve("smart", None).chain == ("smart", "gpt-4o", "gpt-4o-mini")
    assert table.resolve("openai/gpt-4o", 7).target == "anthropic/claude-haiku-4-5"


def test_loops_are_detected():
    with pytest.raises(AliasLoop, match="a → b → a"):
        follow("a", [{"a": "b", "b": "a"}])
    table = AliasTable([(None, "a", "b"), (None, "b", "a"), (None, "c", "ollama/x")], CONFIG)
    assert table.resolve("a", None) is None and table.resolve("c", None).target == "ollama/x"


# --- admin operations (SQLite and PostgreSQL) --------------------------------------------------

@pytest.fixture
def orgs(session):
    admin_ops.create_org(session, "acme", "Acme")
    admin_ops.create_org(session, "beta", "Beta")
    session.commit()
    return session


def test_set_alias_validates_the_target_and_loops(orgs):
    row, res = set_alias(orgs, "team", "gpt-4o", CONFIG)
    assert (row.routed, res.target) == ("gpt-4o", "gpt-4o")
    with pytest.raises(ValueError, match="not in the model catalog"):
        set_alias(orgs, "bad", "openai/not-a-model", CONFIG)
    set_alias(orgs, "ollama-ok", "ollama/anything", CONFIG)
    set_alias(orgs, "x", "team", CONFIG, org_slug="acme")
    with pytest.raises(ValueError, match="alias loop: team → x → team"):
        set_alias(orgs, "team", "x", CONFIG, org_slug="acme")
    with pytest.raises(ValueError, match="agent/"):
        set_alias(orgs, "agent/planner", "gpt-4o", CONFIG)
    with pytest.raises(ValueError, match="no organization"):
        set_alias(orgs, "y", "gpt-4o", CONFIG, org_slug="nope")


def test_a_global_alias_may_not_close_a_loop_inside_an_organization(orgs):
    set_alias(orgs, "b", "gpt-4o", CONFIG)
    set_alias(orgs, "a", "b", CONFIG, org_slug="beta")
    with pytest.raises(ValueError, match="loop"):
        set_alias(orgs, "b", "a", CONFIG)


def test_set_updates_list_and_delete(orgs):
    set_alias(orgs, "team", "gpt-4o", CONFIG)
    set_alias(orgs, "team", "anthropic/claude-haiku-4-5", CONFIG)
    set_alias(orgs, "team", "gpt-4o-mini", CONFIG, org_slug="acme")
    set_alias(orgs, "other", "gpt-4o-mini", CONFIG, org_slug="beta")
    orgs.commit()
    assert [(a.requested, a.routed, a.org_id is None) for a in list_aliases(orgs, "acme")] == [
        ("team", "anthropic/claude-haiku-4-5", True), ("team", "gpt-4o-mini", False)]
    assert len(list_aliases(orgs)) == 3
    delete_alias(orgs, "team", org_slug="acme")
    with pytest.raises(ValueError, match="no alias 'team' in the organization 'acme'"):
        delete_alias(orgs, "team", org_slug="acme")
    assert [a.routed for a in list_aliases(orgs, "acme")] == ["anthropic/claude-haiku-4-5"]


def test_the_database_refuses_two_global_aliases_of_one_name(orgs):
    orgs.add_all([ModelAlias(requested="dup", routed="gpt-4o"),
                  ModelAlias(requested="dup", routed="gpt-4o-mini")])
    with pytest.raises(IntegrityError):
        orgs.flush()


# --- the commands ------------------------------------------------------------------------------

def test_gateway_register_commands_aliases(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", db_url)
    monkeypatch.setenv("GATEWAY_CONFIG", str(ROOT / "model_config.yaml"))
    parser = build_parser(make_plugin_manager())  # through the hook, as `llm-gateway` builds it

    def run(*argv):
        capsys.readouterr()
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    assert run("orgs", "create", "acme", "--name", "Acme")[0] == 0
    code, out, err = run("aliases", "set", "fast", "gpt-4o-mini", "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["resolves_to"] == "gpt-4o-mini" and json.loads(out)["org"] is None
    code, out, _ = run("aliases", "set", "smart", "fast", "--org", "acme")
    assert code == 0 and "resolves to gpt-4o-mini" in out
    code, out, _ = run("aliases", "list", "--json")
    assert [(a["requested"], a["org"]) for a in json.loads(out)] == [("fast", None), ("smart", "acme")]
    assert "SCOPE" in run("aliases", "list")[1]
    code, out, err = run("aliases", "set", "bad", "openai/nope")
    assert code == 1 and out == "" and err.count("\n") == 1 and "not in the model catalog" in err
    assert run("aliases", "delete", "smart", "--org", "acme")[0] == 0
    code, _, err = run("aliases", "delete", "smart", "--org", "acme")
    assert code == 1 and "no alias" in err and "Traceback" not in err


# --- a running gateway -------------------------------------------------------------------------

def _second_org_key(gw):
    gw.admin(admin_ops.create_org, "beta", "Beta")
    gw.admin(admin_ops.create_user, "dev@beta.test", "Beta Dev", org_slug="beta")
    return gw.admin(admin_ops.create_key, user_email="dev@beta.test")[0]


def test_gateway_resolve_model_org_alias_overrides_global_for_that_org_only(db_url):
    # Through the plugin-author test kit: the whole gateway in front of the mock provider.
    with testing.gateway(database_url=db_url) as gw:
        beta_key = _second_org_key(gw)
        gw.admin(set_alias, "team-model", "openai/gpt-4o-mini", gw.ctx.config)
        gw.admin(set_alias, "team-model", "anthropic/claude-haiku-4-5", gw.ctx.config,
                 org_slug="acme")
        gw.reload()
        for key in (gw.user_key, gw.app_key):  # a person and an app of acme
            raw = gw.openai(key=key).chat.completions.with_raw_response.create(
                model="team-model", messages=MSG)
            assert raw.headers["x-gateway-model"] == "anthropic/claude-haiku-4-5"
            assert raw.headers["x-gateway-requested-model"] == "team-model"
            assert raw.parse().choices[0].message.content == "echo: hi"
        raw = gw.openai(key=beta_key).chat.completions.with_raw_response.create(
            model="team-model", messages=MSG)
        assert raw.headers["x-gateway-model"] == "openai/gpt-4o-mini"
        assert gw.received[-1]["body"]["model"] == "gpt-4o-mini"


def test_gateway_resolve_model_alias_in_one_hook_call():
    # One hook of the installed routing plugin, no sockets (`gateway.testing.context`).
    with testing.context(entry_points=True) as tctx:
        with tctx.ctx.sessions() as session:
            set_alias(session, "team-model", "anthropic/claude-haiku-4-5", tctx.ctx.config)
            session.commit()
        tctx.ctx.poll_once()
        route = tctx.hooks.resolve_model(tctx.bind(testing.tcall("team-model")))
        assert (route.model, route.upstream_model, route.reason) == (
            "anthropic/claude-haiku-4-5", "claude-haiku-4-5", "alias")


def test_an_alias_change_is_seen_without_restart(gateway):
    """The real watcher thread, no forced poll: within 1.5 s of the committed change."""
    client = gateway.openai()
    model = lambda: client.chat.completions.with_raw_response.create(  # noqa: E731
        model="gpt-4o", messages=MSG).headers["x-gateway-model"]
    assert model() == "openai/gpt-4o"
    gateway.admin(set_alias, "gpt-4o", "anthropic/claude-sonnet-4-5", gateway.ctx.config)
    deadline = time.monotonic() + 1.5
    while model() != "anthropic/claude-sonnet-4-5":
        assert time.monotonic() < deadline, "alias not picked up within 1.5 s"
        time.sleep(0.05)
    gateway.admin(delete_alias, "gpt-4o")
    deadline = time.monotonic() + 1.5
    while model() != "openai/gpt-4o":
        assert time.monotonic() < deadline, "alias deletion not picked up within 1.5 s"
        time.sleep(0.05)


def test_gateway_list_models_shows_the_aliases_a_key_may_use(gateway):
    beta_key = _second_org_key(gateway)
    gateway.admin(set_alias, "everyone-fast", "gpt-4o-mini", gateway.ctx.config)
    gateway.admin(set_alias, "acme-smart", "anthropic/claude-opus-4-5", gateway.ctx.config,
                  org_slug="acme")
    gateway.ctx.poll_once()
    acme = {m.id for m in gateway.openai().models.list()}
    beta = {m.id for m in gateway.openai(key=beta_key).models.list()}
    assert {"everyone-fast", "acme-smart", "openai/gpt-4o"} <= acme
    assert "everyone-fast" in beta and "acme-smart" not in beta
    listing = httpx.get(gateway.url + "/v1/models", headers={
        "x-api-key": gateway.user_key, "anthropic-version": "2023-06-01"}).json()
    names = {m["id"]: m["display_name"] for m in listing["data"]}
    assert names["acme-smart"] == "acme-smart → anthropic/claude-opus-4-5"
