"""`llm-gateway dlp …` (gateway_register_commands): switch scopes and rules, grant and revoke the
bypass, read counters and events; a running gateway picks every change up by itself (on_change)."""

from __future__ import annotations

import json

import pytest

from gateway.cli import build_parser, main
from gateway.pluginmanager import make_plugin_manager
from tests.plugins.dlp_support import PROMPT, SENSITIVE, assert_no_leak, provider_saw, wait_for


@pytest.fixture
def cli(gateway, monkeypatch, capsys):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway.ctx.settings.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(gateway.ctx.settings.data_dir))
    pm = make_plugin_manager()

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), pm=pm)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def chat(gw) -> str:
    return gw.openai().chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": PROMPT}]
    ).choices[0].message.content


def redacted(gw) -> bool:
    assert chat(gw) == "echo: " + PROMPT
    return PROMPT not in provider_saw(gw)


def test_gateway_register_commands_dlp_enable_rules_and_hot_reload(gateway, cli, caplog):
    assert "dlp" in build_parser(make_plugin_manager()).format_help()
    assert not redacted(gateway)
    code, out, _ = cli("dlp", "enable", "--org", "acme", "--json")
    assert code == 0 and json.loads(out) == {"scope": "org", "slug": "acme", "dlp_enabled": True}
    wait_for(lambda: redacted(gateway))  # the watcher thread reloaded (ctx.on_change)
    code, out, _ = cli("dlp", "rules", "--org", "acme", "--disable", "email", "--enable",
                       "postal_address", "--json")
    rules = {r["rule"]: r for r in json.loads(out)["rules"]}
    assert code == 0 and rules["email"]["enabled"] is False and rules["email"]["source"] == "scope"
    assert rules["postal_address"]["enabled"] and rules["phone"]["source"] == "default"
    wait_for(lambda: "[EMAIL_1]" not in (chat(gateway) and provider_saw(gateway)))
    assert "[PHONE_1]" in provider_saw(gateway)
    code, out, _ = cli("dlp", "rules")
    assert code == 0 and "rules for gateway" in out and "person_name" in out
    code, out, _ = cli("dlp", "disable", "--org", "acme")
    assert code == 0 and out.strip() == "DLP disabled for organization acme"
    wait_for(lambda: not redacted(gateway))
    code, out, _ = cli("dlp", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["counters"]["redactions_24h"] >= 5
    assert status["counters"]["orgs_protected"] == 0
    code, events_out, _ = cli("dlp", "events", "--json", "--limit", "500")
    assert code == 0 and {e["kind"] for e in json.loads(events_out)} == {"redaction"}
    assert_no_leak(gateway, caplog, extra_text=out + events_out)
    assert not any(value in out + events_out for value in SENSITIVE)


def test_bypass_grants_from_the_command_line(gateway, cli):
    code, out, _ = cli("dlp", "grant-bypass", "--app", "bot", "--json")
    assert code == 0 and json.loads(out)["app"] == "bot"
    code, _, err = cli("dlp", "grant-bypass", "--app", "bot")
    assert code == 1 and err.strip() == "llm-gateway: 'bot' already holds the DLP bypass grant"
    assert cli("dlp", "grant-bypass", "--user", "dev@acme.test")[0] == 0
    wait_for(lambda: gateway.ctx.extensions["dlp"].snapshot.bypass_users)
    assert cli("dlp", "revoke-bypass", "--user", "dev@acme.test")[0] == 0
    code, _, err = cli("dlp", "revoke-bypass", "--user", "dev@acme.test")
    assert code == 1 and "holds no DLP bypass grant" in err


@pytest.mark.parametrize("argv, message", [
    (("dlp", "enable", "--org", "nope"), "no organization with slug 'nope'"),
    (("dlp", "rules", "--enable", "nope"), "unknown DLP rule 'nope'"),
    (("dlp", "rules", "--enable", "email", "--disable", "email"), "both enabled and disabled"),
    (("dlp", "events", "--limit", "0"), "--limit must be a positive number"),
])
def test_errors_are_one_line_without_a_traceback(cli, argv, message):
    code, out, err = cli(*argv)
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_dlp_allow_list_by_cli_leaves_values_and_records_no_event(gateway, cli):
    from tests.plugins.dlp_support import EMAIL

    assert cli("dlp", "enable", "--org", "acme")[0] == 0
    code, out, _ = cli("dlp", "allow", "--org", "acme", "--add", EMAIL, "--add-pattern",
                       r"\+1 415-555-\d{4}", "--json")
    assert code == 0 and json.loads(out)["values"] == [EMAIL]
    code, _, err = cli("dlp", "allow", "--org", "acme", "--add-pattern", "(unclosed")
    assert code == 1 and "not a valid regex" in err
    wait_for(lambda: EMAIL in (chat(gateway) and provider_saw(gateway)))
    gateway.ctx.extensions["dlp"].writer.flush()
    code, out, _ = cli("dlp", "events", "--json")
    assert code == 0 and not any(e["rule"] == "email" for e in json.loads(out))
    code, out, _ = cli("dlp", "allow", "--org", "acme", "--remove", EMAIL)
    assert code == 0 and EMAIL not in out
    wait_for(lambda: EMAIL not in (chat(gateway) and provider_saw(gateway)))
