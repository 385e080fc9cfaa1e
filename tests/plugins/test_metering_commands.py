"""The metering commands against a running gateway's database: `usage`, `export-user` (CSV with
the stored conversation, spreadsheet-safe), `caps`, `metering set`."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest

import plugins.metering as metering
from plugins.metering._export import neutralise
from tests.plugins._metering_util import logs


@pytest.fixture
def cli(gateway, monkeypatch, capsys):
    settings = gateway.ctx.settings
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GATEWAY_CONFIG", str(settings.config_path))
    parser = argparse.ArgumentParser(prog="llm-gateway")
    metering.gateway_register_commands(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_gateway_register_commands_caps_and_usage(gateway, cli):
    code, out, err = cli("caps", "set", "--user", "dev@acme.test", "--usd", "5", "--json")
    assert (code, err) == (0, "") and json.loads(out)["weekly_cap_usd"] == "5.000000"
    assert cli("caps", "set", "--org", "acme", "--usd", "100", "--rollover")[0] == 0
    gateway.ctx.poll_once()
    gateway.openai().chat.completions.create(model="openai/gpt-4o",
                                             messages=[{"role": "user", "content": "hello"}])
    row = logs(gateway, 1)[0]
    code, out, _ = cli("usage", "--user", "dev@acme.test", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["this_week"]["requests"] == 1
    assert Decimal(doc["this_week"]["cost_usd"]) == row.cost_usd
    caps = {c["cap"]: c for c in doc["caps"]}
    weekly = caps["weekly cap for user dev@acme.test"]
    assert Decimal(weekly["spent_usd"]) == row.cost_usd and Decimal(weekly["reserved_usd"]) == 0
    assert "monthly spend cap for organization acme" in caps
    code, out, _ = cli("usage", "--user", "dev@acme.test")
    assert "resets" in out and "openai/gpt-4o: 1 calls" in out
    code, _, err = cli("usage", "--user", "nobody@acme.test")
    assert code == 1 and err.startswith("llm-gateway: no user with email")
    code, _, err = cli("caps", "set", "--org", "acme", "--usd", "-3")
    assert code == 1 and "invalid spend cap" in err and "Traceback" not in err


def test_export_user_csv_with_conversations_and_neutralised_cells(gateway, cli, tmp_path):
    code, out, _ = cli("metering", "set", "--org", "acme", "--store-bodies", "--retention-days", "7",
                       "--json")
    assert code == 0 and json.loads(out)["store_bodies"] is True
    gateway.ctx.poll_once()
    client = gateway.openai()
    client.chat.completions.create(model="openai/gpt-4o-mini", extra_headers={
        "X-Agent-Id": "=HYPERLINK(\"http://evil\")"}, messages=[{"role": "user", "content": "first"}])
    stream = client.chat.completions.create(model="openai/gpt-4o-mini", stream=True, messages=[
        {"role": "user", "content": "second, streamed"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    logs(gateway, 2)
    out_file = tmp_path / "dev.csv"
    code, out, err = cli("export-user", "dev@acme.test", "--out", str(out_file))
    assert (code, err) == (0, "") and "wrote 2 calls" in out
    rows = list(csv.DictReader(out_file.open(encoding="utf-8")))
    assert [r["requested_model"] for r in rows] == ["openai/gpt-4o-mini"] * 2
    assert rows[0]["agent"] == "'=HYPERLINK(\"http://evil\")"  # inert in a spreadsheet
    assert json.loads(rows[0]["request"])["messages"][0]["content"] == "first"
    assert rows[0]["response"] == "echo: first" and rows[1]["response"] == "echo: second, streamed"
    assert int(rows[0]["input_tokens"]) > 0 and Decimal(rows[0]["cost_usd"]) > 0
    code, out, err = cli("export-user", "dev@acme.test")  # to stdout: the CSV alone
    assert code == 0 and list(csv.DictReader(io.StringIO(out)))[1]["endpoint"] == "/v1/chat/completions"


def test_neutralise_spreadsheet_formulas():
    for cell in ("=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("echo: hi") == "echo: hi" and neutralise(-5) == -5


def test_conversations_under_dlp_keep_only_what_the_provider_saw(gateway_factory):
    import pluggy
    from sqlalchemy import select

    from plugins.metering import _admin
    from plugins.metering._models import StoredBodies

    class Scope:  # stands in for the DLP plugin's verdict on each call
        @pluggy.HookimplMarker("llm_gateway")
        def gateway_transform_request(self, call):
            call.dlp_scope = call.headers.get("x-test-dlp-scope", "off")

    gw = gateway_factory(plugins=[Scope()])
    gw.admin(_admin.set_scope_settings, org_slug="acme", store_bodies=True, retention_days=3)
    gw.ctx.poll_once()
    for scope in ("off", "org:1:email", "bypass"):
        gw.openai().chat.completions.create(model="gpt-4o-mini", extra_headers={
            "X-Test-DLP-Scope": scope}, messages=[{"role": "user", "content": f"hi {scope}"}])
    rows = logs(gw, 3)
    with gw.ctx.sessions() as session:
        kept = {b.request_id: b for b in session.scalars(select(StoredBodies))}
    plain, redacted, bypassed = (kept[r.request_id] for r in rows)
    assert plain.response_body == "echo: hi off" and "hi off" in plain.request_body
    assert redacted.request_body and redacted.response_body is None  # restored answer: not kept
    assert bypassed.request_body is None and bypassed.response_body is None
    assert plain.expires_at - plain.created_at == timedelta(days=3)


def test_retention_days_cannot_be_cleared(session):
    """The column always holds a number of days: None is refused by name, not left to the
    database's NOT NULL."""
    from gateway import admin_ops
    from plugins.metering import _admin

    admin_ops.create_org(session, "acme", "Acme")
    with pytest.raises(ValueError, match="retention days None"):
        _admin.set_scope_settings(session, org_slug="acme", retention_days=None)
    assert _admin.set_scope_settings(session, org_slug="acme", retention_days=7).retention_days == 7
