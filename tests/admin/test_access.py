"""Who may use what: every route of the admin site × every role, collected from `app.url_map`
(a new route without an entry in EXPECTED fails here), and the organization boundary of an org
admin on the records of another organization."""

from __future__ import annotations

import pytest
from flask import url_for

from admin_web.access import ADMINS, EVERYONE, PUBLIC, SUPER
from plugins.routing import admin_api as routing
from tests.admin.conftest import ROLE_USERS, csrf_token, post

SUPER_ONLY = frozenset({SUPER})
# Blueprint (or endpoint) → who may use it; written out here, independently of the decorators.
EXPECTED = {
    "static": PUBLIC, "auth": PUBLIC, "home.healthz": PUBLIC,
    "home.index": EVERYONE, "me": EVERYONE,
    "dashboard": ADMINS, "users": ADMINS, "orgs": ADMINS, "apps": ADMINS, "router": ADMINS,
    "catalog": ADMINS, "logs": ADMINS, "usage": ADMINS, "reports": ADMINS, "dlp": ADMINS,
    "exports": ADMINS,
    "orgs.create": SUPER_ONLY, "orgs.update": SUPER_ONLY,
    "agents": SUPER_ONLY, "settings": SUPER_ONLY,
}
SKIP = {("auth.logout", "POST")}  # signing out would end the walk; tested in test_admin_web


def expected(endpoint: str) -> frozenset[str]:
    found = EXPECTED.get(endpoint) or EXPECTED.get(endpoint.partition(".")[0])
    assert found is not None, f"route {endpoint!r} has no expected roles in this test"
    return found


def sample_values(site, endpoint: str, arguments: set[str]) -> dict[str, object]:
    ids = site.ids
    blueprint = endpoint.partition(".")[0]
    values = {"user_id": ids["tgt@acme.test"], "kind": "org", "key": "planner",
              "job_id": "no-such-job", "filename": "admin.css",
              "slug": {"apps": "bot", "orgs": "acme", "dlp": "acme"}.get(blueprint)}
    return {name: values[name] for name in arguments}


def walk(site):
    """(endpoint, method, url) for every route and method."""
    with site.app.test_request_context():
        for rule in sorted(site.app.url_map.iter_rules(), key=lambda r: r.rule):
            url = url_for(rule.endpoint, **sample_values(site, rule.endpoint, rule.arguments))
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if (rule.endpoint, method) not in SKIP:
                    yield rule.endpoint, method, url


def request(client, method: str, url: str, token: str):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": token})


def test_every_route_for_every_role(site):
    routes = list(walk(site))
    assert len(routes) > 50
    # Least privileged first: an allowed write (e.g. suspending the target member) must not
    # change what a later, weaker role sees.
    for role in ("anonymous", "member", "org_admin", "super_admin"):
        client = site.client(None if role == "anonymous" else ROLE_USERS[role])
        token = csrf_token(client, "/login" if role == "anonymous" else "/me/")
        for endpoint, method, url in routes:
            allowed = expected(endpoint)
            response = request(client, method, url, token)
            where = f"{role} {method} {url} ({endpoint}) → {response.status_code}"
            assert response.status_code < 500, where
            if allowed is PUBLIC:
                assert response.status_code != 403, where
            elif role == "anonymous":
                assert response.status_code == 302, where
                assert response.headers["Location"].startswith("/login"), where
            elif role in allowed:
                assert response.status_code not in (401, 403), where
            else:
                assert response.status_code == 403, where


def test_an_undeclared_view_is_closed(site):
    site.app.add_url_rule("/undeclared", "undeclared", lambda: "open")
    client = site.as_role("super_admin")
    assert client.get("/undeclared").status_code == 403


@pytest.mark.parametrize("path", [
    "/users/{eve}", "/orgs/globex", "/apps/gx-app", "/dlp/org/globex", "/dlp/app/gx-app",
    "/usage/?user={eve}", "/exports/new?user={eve}", "/users/{root}", "/dlp/global/defaults",
])
def test_org_admin_cannot_reach_another_organization(seeded_site, path):
    site = seeded_site
    client = site.as_role("org_admin")
    url = path.format(eve=site.ids["eve@globex.test"], root=site.ids["root@example.com"])
    assert client.get(url).status_code == 404


def test_org_admin_writes_stay_inside_their_organization(site):
    client = site.as_role("org_admin")
    eve = site.ids["eve@globex.test"]
    assert post(client, f"/users/{eve}/status", {"status": "suspended"}).status_code == 404
    assert post(client, "/apps/gx-app/keys", {"name": "x"}).status_code == 404
    # The global alias "fast" is not theirs: without a scope the form means their own org's.
    post(client, "/router/delete", {"requested": "fast", "scope": ""})
    post(client, "/router/delete", {"requested": "fast", "scope": ""})
    with site.session() as session:
        left = {(a.org_id, a.requested, a.routed) for a in routing.list_aliases(session)}
    assert (None, "fast", "openai/gpt-4.1-mini") in left
    assert (site.ids["acme"], "fast", "openai/gpt-4o-mini") not in left
    assert post(client, "/router/", {"requested": "a", "routed": "openai/gpt-4o",
                                     "scope": "globex"}).status_code == 403
    created = post(client, "/users/", {"email": "new@x.test", "name": "New", "role": "super_admin"})
    assert created.status_code == 403
    # A user created by an org admin lands in the admin's organization, whatever the form says.
    post(client, "/users/", {"email": "new@acme.test", "name": "New", "org": "globex"})
    page = site.as_role("super_admin").get("/orgs/acme").get_data(as_text=True)
    assert "new@acme.test" in page


def test_org_admin_lists_show_only_their_organization(seeded_site):
    site = seeded_site
    client = site.as_role("org_admin")
    users = client.get("/users/").get_data(as_text=True)
    assert "dev@acme.test" in users and "eve@globex.test" not in users
    assert "root@example.com" not in users
    apps = client.get("/apps/").get_data(as_text=True)
    assert "Support Bot" in apps and "Globex App" not in apps
    logs = client.get("/logs/").get_data(as_text=True)
    assert "dev@acme.test" in logs and "eve@globex.test" not in logs
    reports = client.get("/error-reports/").get_data(as_text=True)
    assert "overloaded" in reports and "editor plugin crashed" not in reports
    router = client.get("/router/").get_data(as_text=True)
    assert "gx-smart" not in router and "fast" in router
    dashboard = client.get("/dashboard/").get_data(as_text=True)
    assert "Eve Globex" not in dashboard and "dev@acme.test" in dashboard
    dlp = client.get("/dlp/").get_data(as_text=True)
    assert "Support Bot" in dlp


def test_member_sees_only_their_own_dashboard(seeded_site):
    site = seeded_site
    client = site.as_role("member")
    home = client.get("/").get_data(as_text=True)
    assert "My usage this week" in home
    nav = home.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert "My dashboard" in nav and "Users" not in nav and "Gateway Settings" not in nav
    assert client.get("/dashboard/live").status_code == 403
