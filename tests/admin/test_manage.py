"""Managing organizations, users, apps, keys and aliases from the admin site: what the forms
write, what they refuse (with a message naming the value), and keys shown exactly once."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway import admin_ops
from gateway.db.models import ApiKey, Organization, User
from gateway.keys import hash_key, lookup_principal
from plugins.routing import admin_api as routing
from tests.admin.conftest import post

KEY_RE = re.compile(r'<code class="secret" id="new-key">(sk-gw-[A-Za-z0-9_-]{40})</code>')


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+" role="status">([^<]*)</p>', html)


def test_create_org_then_refuse_the_duplicate(site):
    client = site.as_role("super_admin")
    data = {"name": "Initech", "slug": "initech", "spend_cap": "120.5", "rollover": "on"}
    post(client, "/orgs/", data)
    again = post(client, "/orgs/", data, follow_redirects=True).get_data(as_text=True)
    assert "organization &#39;initech&#39; already exists" in again
    with site.session() as session:
        org = admin_ops.get_org(session, "initech")
        assert (org.name, str(org.spend_cap_usd), org.rollover) == ("Initech", "120.500000", True)
    edited = post(client, "/orgs/initech", {"name": "Initech Ltd", "spend_cap": "",
                                            "owner": "dev@acme.test"}, follow_redirects=True)
    assert "is not a member of organization" in edited.get_data(as_text=True)


def test_create_user_who_can_then_sign_in(site):
    client = site.as_role("super_admin")
    post(client, "/users/", {"name": "Neo", "email": "Neo@Acme.test", "role": "org_admin",
                             "org": "acme", "weekly_cap": "15", "password": "a" * 14})
    with site.session() as session:
        neo = admin_ops.get_user(session, "neo@acme.test")
        assert (neo.role, neo.org.slug, str(neo.weekly_cap_usd)) == ("org_admin", "acme",
                                                                     "15.000000")
    neo_client = site.client("neo@acme.test", "a" * 14)  # signs in (asserted inside)
    assert "Boss of Acme" in neo_client.get("/users/").get_data(as_text=True)
    bad = post(client, "/users/", {"name": "X", "email": "not-an-email"}, follow_redirects=True)
    assert "invalid email &#39;not-an-email&#39;" in bad.get_data(as_text=True)
    short = post(client, "/users/", {"name": "X", "email": "x@x.test", "password": "short"},
                 follow_redirects=True)
    assert "at least 12 characters" in short.get_data(as_text=True)


def test_edit_suspend_and_reset_password(site):
    client = site.as_role("org_admin")
    target = site.ids["tgt@acme.test"]
    post(client, f"/users/{target}", {"name": "Renamed", "role": "member", "weekly_cap": "7"})
    post(client, f"/users/{target}/status", {"status": "suspended"})
    with site.session() as session:
        user = session.get(User, target)
        assert (user.name, user.status, str(user.weekly_cap_usd)) == ("Renamed", "suspended",
                                                                      "7.000000")
    post(client, f"/users/{target}/status", {"status": "active"})
    page = post(client, f"/users/{target}/password").get_data(as_text=True)
    password = re.search(r'id="new-password">([^<]+)</code>', page).group(1)
    site.client("tgt@acme.test", password)  # the new password signs in (asserted inside)
    assert password not in client.get(f"/users/{target}").get_data(as_text=True)
    me = site.ids["boss@acme.test"]
    own = post(client, f"/users/{me}/status", {"status": "suspended"}, follow_redirects=True)
    assert "You cannot suspend yourself." in own.get_data(as_text=True)


def test_app_key_is_shown_once_and_works_until_revoked(site):
    client = site.as_role("org_admin")
    created = post(client, "/apps/", {"name": "Pipeline", "slug": "pipeline", "org": "globex"})
    assert created.headers["Location"] == "/apps/pipeline"
    html = post(client, "/apps/pipeline/keys", {"name": "ci"}).get_data(as_text=True)
    key = KEY_RE.search(html).group(1)
    assert "shown only this once" in html
    assert key not in client.get("/apps/pipeline").get_data(as_text=True)
    with site.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
        assert row.app.org.slug == "acme"  # an org admin's app is in their org, whatever asked
        assert lookup_principal(session, key).app_slug == "pipeline"
    post(client, "/apps/pipeline/keys/revoke", {"prefix": key[:14]})
    with site.session() as session:
        assert lookup_principal(session, key) is None
    post(client, "/apps/pipeline/active", {})
    with site.session() as session:
        assert admin_ops.get_app(session, "pipeline").active is False


def test_member_manages_own_keys_only(site):
    client = site.as_role("member")
    html = post(client, "/me/keys", {"name": "second"}).get_data(as_text=True)
    key = KEY_RE.search(html).group(1)
    with site.session() as session:
        assert lookup_principal(session, key).user_email == "dev@acme.test"
        eves = session.scalar(select(ApiKey.prefix).where(
            ApiKey.user_id == site.ids["eve@globex.test"]))
    refused = post(client, "/me/keys/revoke", {"prefix": eves}, follow_redirects=True)
    assert "does not belong to user" in refused.get_data(as_text=True)
    with site.session() as session:
        assert session.scalar(select(ApiKey.revoked_at).where(ApiKey.prefix == eves)) is None


def test_aliases(site):
    client = site.as_role("super_admin")
    post(client, "/router/", {"requested": "smart", "routed": "anthropic/claude-opus-4-5",
                              "scope": "globex"})
    bad = post(client, "/router/", {"requested": "oops", "routed": "nope/model", "scope": ""},
               follow_redirects=True).get_data(as_text=True)
    assert "not in the model catalog" in bad
    with site.session() as session:
        rows = {(a.requested, a.routed, a.org_id) for a in routing.list_aliases(session)}
    assert ("smart", "anthropic/claude-opus-4-5", site.ids["globex"]) in rows
    assert not any(r[0] == "oops" for r in rows)
    post(client, "/router/delete", {"requested": "smart", "scope": "globex"})
    with site.session() as session:
        assert "smart" not in {a.requested for a in routing.list_aliases(session)}


def test_org_dlp_switch(site):
    client = site.as_role("org_admin")
    post(client, "/orgs/acme/dlp", {})
    with site.session() as session:
        assert session.scalar(select(Organization.dlp_enabled)
                              .where(Organization.slug == "acme")) is False
    post(client, "/dlp/org/acme/protect", {"on": "1"})
    with site.session() as session:
        assert admin_ops.get_org(session, "acme").dlp_enabled is True
