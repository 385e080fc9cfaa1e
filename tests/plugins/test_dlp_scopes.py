"""DLP scopes over real sockets: per organization and per app, rules per scope, the audited
bypass, fail-closed refusals, audit events and counters, the cache marker, start and shutdown."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import anthropic
import openai
import pytest

from gateway import admin_ops
from gateway.pluginmanager import hookimpl
from plugins.dlp import admin_api as _admin
from plugins.dlp._scanner import DETECTOR_VERSION
from plugins.dlp._state import ScanRefused
from tests.gateway_fixtures import ROOT
from tests.plugins.dlp_support import (
    EMAIL,
    PHONE,
    PROMPT,
    assert_no_leak,
    assert_placeholders_only,
    capture_all_logs,
    protect_org,
    provider_saw,
    state,
)


class ScopeSpy:
    """Records the cache marker DLP leaves for the response cache."""

    def __init__(self) -> None:
        self.markers: list[str] = []

    @hookimpl
    def gateway_call_complete(self, call):
        self.markers.append(call.dlp_scope)


def chat(gw, text=PROMPT, key=None, headers=None):
    return gw.openai(key=key).chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": text}],
        extra_headers=headers or {}).choices[0].message.content


def events(gw, kind=None):
    state(gw).writer.flush()
    with gw.ctx.sessions() as session:
        return _admin.recent_events(session, 100, kind=kind)


def test_org_scope_covers_user_keys_and_app_scope_covers_app_keys(gateway_factory):
    spy = ScopeSpy()
    gw = gateway_factory(plugins=[spy])
    assert chat(gw) == "echo: " + PROMPT and PROMPT in provider_saw(gw)
    protect_org(gw)
    assert chat(gw) == "echo: " + PROMPT
    assert_placeholders_only(gw)
    assert chat(gw, key=gw.app_key) == "echo: " + PROMPT and PROMPT in provider_saw(gw)
    gw.admin(_admin.set_enabled, True, app="bot")
    gw.admin(_admin.set_enabled, False, org="acme")
    state(gw).reload()
    assert chat(gw, key=gw.app_key) == "echo: " + PROMPT
    assert_placeholders_only(gw)
    assert chat(gw) == "echo: " + PROMPT and PROMPT in provider_saw(gw)
    org_id = gw.admin(admin_ops.get_org, "acme").id
    app_id = gw.admin(admin_ops.get_app, "bot").id
    assert spy.markers[0] == "off" and spy.markers[1].startswith(f"org:{org_id}:v{DETECTOR_VERSION}-")
    assert spy.markers[2] == "off" and spy.markers[3].startswith(f"app:{app_id}:v{DETECTOR_VERSION}-")


class EarlyTransform:
    """A third-party transform that asks to run first: it must still see the redacted body."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(tryfirst=True)
    def gateway_transform_request(self, call):
        self.seen.append(str(call.body["messages"]))


def test_dlp_redacts_before_any_other_transform_sees_the_body(gateway_factory):
    early = EarlyTransform()
    gw = gateway_factory(plugins=[early])
    protect_org(gw)
    state(gw).reload()
    assert chat(gw) == "echo: " + PROMPT
    assert len(early.seen) == 1
    assert EMAIL not in early.seen[0] and PHONE not in early.seen[0]
    assert_placeholders_only(gw)


def test_rules_per_scope(gateway_factory):
    spy = ScopeSpy()
    gw = gateway_factory(plugins=[spy])
    protect_org(gw)
    gw.admin(_admin.set_rules, org="acme", disable=["email"], enable=["person_name"])
    state(gw).reload()
    text = f"Dr. Ada Lovelace: {EMAIL}, {PHONE}"
    assert chat(gw, text) == "echo: " + text
    assert gw.mock.state.requests[-1]["body"]["messages"][0]["content"] == (
        f"Dr. [NAME_1]: {EMAIL}, [PHONE_1]")
    gw.admin(_admin.set_rules, disable=["phone"])  # gateway-wide: the org did not override it
    state(gw).reload()
    chat(gw, text)
    assert gw.mock.state.requests[-1]["body"]["messages"][0]["content"] == f"Dr. [NAME_1]: {EMAIL}, {PHONE}"
    assert spy.markers[0] != spy.markers[1]  # rules changed: the cache must not mix them


def test_bypass_needs_the_grant_and_is_always_audited(gateway_factory, caplog):
    capture_all_logs(caplog)
    spy = ScopeSpy()
    gw = gateway_factory(plugins=[spy])
    protect_org(gw)
    assert chat(gw, headers={"X-DLP-Bypass": "1"}) == "echo: " + PROMPT
    assert_placeholders_only(gw)  # no grant: the header changes nothing
    assert [e["kind"] for e in events(gw, "bypass_denied")] == ["bypass_denied"]
    gw.admin(_admin.grant_bypass, user="dev@acme.test")
    state(gw).reload()
    assert chat(gw, headers={"X-DLP-Bypass": "1"}) == "echo: " + PROMPT
    assert PROMPT in provider_saw(gw)
    assert chat(gw) == "echo: " + PROMPT  # without the header: redacted as usual
    assert_placeholders_only(gw)
    assert [m.split(":")[0] for m in spy.markers] == ["org", "bypass", "org"]
    bypass = events(gw, "bypass")
    assert len(bypass) == 1 and bypass[0]["scope_slug"] == "acme" and bypass[0]["request_id"]
    with gw.ctx.sessions() as session:
        assert _admin.counters(session)["bypasses_24h"] == 1
    gw.admin(_admin.revoke_bypass, user="dev@acme.test")
    state(gw).reload()
    chat(gw, headers={"X-DLP-Bypass": "1"})
    assert_placeholders_only(gw)
    assert_no_leak(gw, caplog)


def _config_with(tmp_path: Path, **dlp) -> str:
    path = tmp_path / "model_config.yaml"
    lines = "".join(f"  {k}: {v:f}\n" if isinstance(v, float) else f"  {k}: {v}\n"
                    for k, v in dlp.items())
    path.write_text((ROOT / "model_config.yaml").read_text() + "\ndlp:\n" + lines)
    return str(path)


def test_fail_closed_when_the_scan_exceeds_its_budget(gateway_factory, tmp_path, caplog):
    capture_all_logs(caplog)
    gw = gateway_factory(GATEWAY_CONFIG=_config_with(tmp_path, time_budget_ms=0.000001))
    protect_org(gw)
    before = len(gw.mock.state.requests)
    with pytest.raises(openai.UnprocessableEntityError) as err:
        chat(gw)
    assert "DLP" in err.value.message and "not sent to the provider" in err.value.message
    with pytest.raises(anthropic.UnprocessableEntityError):
        gw.anthropic().messages.create(model="claude-sonnet-4-5", max_tokens=50,
                                       messages=[{"role": "user", "content": PROMPT}])
    assert len(gw.mock.state.requests) == before  # never forwarded unscanned
    assert chat(gw, key=gw.app_key) == "echo: " + PROMPT  # unprotected scopes are not scanned
    assert_no_leak(gw, caplog)


def test_fail_closed_when_the_text_is_too_large_to_scan(gateway_factory, tmp_path):
    gw = gateway_factory(GATEWAY_CONFIG=_config_with(tmp_path, max_scan_chars=100))
    protect_org(gw)
    assert chat(gw, "short " + EMAIL) == "echo: short " + EMAIL
    with pytest.raises(openai.UnprocessableEntityError) as err:
        chat(gw, PROMPT * 2)
    assert "more than the sensitive-data (DLP) scan accepts (100" in err.value.message
    assert gw.mock.state.requests[-1]["body"]["messages"][0]["content"] == "short [EMAIL_1]"


def test_fail_closed_when_scanning_raises(gateway, monkeypatch, caplog):
    capture_all_logs(caplog)
    protect_org(gateway)

    def broken(*args):
        raise RuntimeError(f"detector bug while reading {EMAIL}")

    monkeypatch.setattr("plugins.dlp._state.redact_slots", broken)
    before = len(gateway.mock.state.requests)
    with pytest.raises(openai.UnprocessableEntityError) as err:
        chat(gateway)
    assert err.value.status_code == ScanRefused.status == 422
    assert len(gateway.mock.state.requests) == before
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)
    assert_no_leak(gateway, caplog)


def test_events_counters_and_last_activity(gateway):
    protect_org(gateway)
    gateway.admin(_admin.set_enabled, True, app="bot")
    state(gateway).reload()
    chat(gateway, f"{EMAIL} {EMAIL} {PHONE}")
    chat(gateway, EMAIL, key=gateway.app_key)
    found = events(gateway, "redaction")
    by_rule = {(e["scope_kind"], e["rule"]): e for e in found}
    assert by_rule[("org", "email")]["match_count"] == 2
    assert len(by_rule[("org", "email")]["value_hashes"]) == 1  # one distinct value
    assert by_rule[("org", "phone")]["request_size"] > 0
    assert by_rule[("app", "email")]["value_hashes"] == by_rule[("org", "email")]["value_hashes"]
    with gateway.ctx.sessions() as session:
        counts = _admin.counters(session)
        activity = {a["scope_slug"]: a for a in _admin.last_activity(session)}
    assert counts == {"redactions_24h": 4, "redacted_calls_24h": 2, "bypasses_24h": 0,
                      "orgs_protected": 1, "apps_protected": 1}
    assert activity["acme"]["last_event_at"] is not None and activity["bot"]["protected"]


def test_gateway_startup_loads_and_gateway_shutdown_flushes(gateway_factory):
    gw = gateway_factory()
    protect_org(gw)
    writer = state(gw).writer
    writer.put([{**events_row(), "request_id": f"req_{i}"} for i in range(50)])
    gw.stop()  # gateway_shutdown stops the writer after draining its queue
    assert writer.written >= 50 and not writer.running
    with gw.ctx.sessions() as session:
        assert len(_admin.recent_events(session, 100)) == 50


def events_row() -> dict:
    from datetime import datetime
    return {"created_at": datetime.now(UTC), "kind": "redaction", "scope_kind": "org",
            "scope_id": 1, "scope_slug": "acme", "org_id": 1, "rule": "email", "match_count": 1,
            "request_size": 10, "request_id": "req_x", "key_prefix": None, "value_hashes": []}
