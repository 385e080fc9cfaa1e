"""The DLP allow-list on the admin's DLP pages: super-admins edit the gateway-wide list and any
scope's, org admins their own organization's (and its apps'), members nothing; a bad pattern is an
error on the page and saves nothing; what the page saves, a running gateway honours."""

from __future__ import annotations

import html

from admin_web import create_app
from admin_web.db import database
from gateway import admin_ops
from plugins.dlp import admin_api as dlp
from tests.admin.conftest import csrf_token, post
from tests.plugins.dlp_support import EMAIL, PHONE, protect_org, provider_saw, state

PASSWORD = "correct horse battery staple"
SUPPORT = "support@acme.example"
PATTERN = r".*@dlp-test\.example"


def page(client, url: str) -> str:
    return html.unescape(client.get(url).get_data(as_text=True))


def allowlist(site, **scope) -> dict[str, list[str]]:
    with site.session() as session:
        return dlp.get_allowlist(session, **scope)


def test_org_admin_adds_a_value_and_a_pattern_and_sees_them_listed(site):
    client = site.as_role("org_admin")
    response = post(client, "/dlp/org/acme/allowlist", {"value": f"  {SUPPORT} "})
    assert response.status_code == 302 and response.headers["Location"].endswith("#allowlist")
    post(client, "/dlp/org/acme/allowlist", {"pattern": PATTERN})
    text = page(client, "/dlp/org/acme")
    assert "Allow-list saved." in text
    assert f"<code>{SUPPORT}</code>" in text and f"<code>{PATTERN}</code>" in text
    assert allowlist(site, org="acme") == {"values": [SUPPORT], "patterns": [PATTERN]}
    post(client, "/dlp/org/acme/allowlist", {"remove_value": SUPPORT})
    assert allowlist(site, org="acme") == {"values": [], "patterns": [PATTERN]}
    assert f"<code>{SUPPORT}</code>" not in page(client, "/dlp/org/acme")


def test_a_bad_pattern_is_an_error_on_the_page_and_nothing_is_saved(site):
    client = site.as_role("super_admin")
    post(client, "/dlp/app/bot/allowlist", {"value": SUPPORT, "pattern": "(unclosed"})
    text = page(client, "/dlp/app/bot")
    assert "allow-list pattern '(unclosed' is not a valid regex" in text
    assert allowlist(site, app="bot") == {"values": [], "patterns": []}
    post(client, "/dlp/app/bot/allowlist", {})
    assert "Enter a value or a pattern to allow." in page(client, "/dlp/app/bot")


def test_super_admin_edits_the_gateway_wide_list_which_scopes_mention(site):
    client = site.as_role("super_admin")
    post(client, "/dlp/global/defaults/allowlist", {"value": SUPPORT, "pattern": PATTERN})
    assert allowlist(site) == {"values": [SUPPORT], "patterns": [PATTERN]}
    assert f"<code>{SUPPORT}</code>" in page(client, "/dlp/global/defaults")
    text = page(site.as_role("org_admin"), "/dlp/org/acme")
    assert "also honour the gateway-wide allow-list (2 entries)" in text
    assert SUPPORT not in text  # the gateway-wide entries are listed on their own page only


def test_roles_and_the_organization_boundary(site):
    member = site.as_role("member")
    assert post(member, "/dlp/org/acme/allowlist", {"value": SUPPORT}).status_code == 403
    boss = site.as_role("org_admin")  # another organization's scopes do not exist for them
    for other in ("org/globex", "app/gx-app", "global/defaults"):
        assert post(boss, f"/dlp/{other}/allowlist", {"value": SUPPORT}).status_code == 404
    assert post(boss, "/dlp/app/bot/allowlist", {"value": SUPPORT}).status_code == 302
    anonymous = site.client()
    token = csrf_token(anonymous, "/login")
    response = anonymous.post("/dlp/org/acme/allowlist", data={"csrf_token": token,
                                                               "value": SUPPORT})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert site.as_role("org_admin").post("/dlp/org/acme/allowlist",
                                          data={"value": SUPPORT}).status_code == 400  # no CSRF
    with site.session() as session:
        assert dlp.get_allowlist(session, org="globex")["values"] == []
        assert dlp.get_allowlist(session)["values"] == []
        assert dlp.get_allowlist(session, app="bot")["values"] == [SUPPORT]


def test_what_the_page_saves_a_running_gateway_honours(gateway):
    """The admin site over the gateway's own database: the allow-listed value reaches the
    provider as written and is no event; the rest of the prompt is still redacted."""
    protect_org(gateway)
    gateway.admin(admin_ops.create_user, "root@acme.test", "Root", role="super_admin",
                  password=PASSWORD)
    app = create_app({"TESTING": True, "DATABASE_URL": gateway.ctx.settings.database_url,
                      "SECRET_KEY": "test-key"}, settings=gateway.ctx.settings)
    try:
        client = app.test_client()
        client.post("/login", data={"email": "root@acme.test", "password": PASSWORD,
                                    "csrf_token": csrf_token(client, "/login")})
        post(client, "/dlp/org/acme/allowlist", {"pattern": PATTERN})
        post(client, "/dlp/global/defaults/allowlist", {"value": SUPPORT})
        assert PATTERN in page(client, "/dlp/org/acme")
    finally:
        database(app).engine.dispose()
    state(gateway).reload()
    text = f"write {EMAIL} or {SUPPORT}, call {PHONE}"
    resp = gateway.openai().chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": text}])
    assert resp.choices[0].message.content == "echo: " + text
    assert gateway.mock.state.requests[-1]["body"]["messages"][0]["content"] == (
        f"write {EMAIL} or {SUPPORT}, call [PHONE_1]")
    state(gateway).writer.flush()
    with gateway.ctx.sessions() as session:
        events = dlp.recent_events(session, 50, kind="redaction")
    assert [(e["rule"], e["match_count"]) for e in events] == [("phone", 1)]
    assert EMAIL in provider_saw(gateway)
