"""A plugin's admin pages, navigation links and Settings section: behind the same sign-in, role
guard, CSRF protection and CSP as the built-in areas; the loaded plugins listed in Settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Blueprint, request

from admin_web import create_app
from admin_web.access import ORG_ADMIN, SUPER, allow
from admin_web.db import database
from gateway.errors import ConfigError
from gateway.pluginmanager import (
    AdminPages,
    NavLink,
    SettingsSection,
    hookimpl,
    make_plugin_manager,
)
from tests.admin.conftest import Site, csrf_token
from tests.admin.seed import seed


class Notes:
    """A plugin with one page for admins, one action for super admins, and one view that
    forgot to declare roles."""

    def __init__(self, link: str = "notes.index", section_fails: bool = False) -> None:
        self.link, self.section_fails = link, section_fails
        self.saved: list[str] = []

    @hookimpl
    def gateway_plugin_config_schema(self):
        return {"greeting": (str, "hello <admins>")}

    @hookimpl
    def gateway_admin_pages(self):
        bp = Blueprint("notes", __name__, url_prefix="/notes")

        @bp.get("/")
        @allow(SUPER, ORG_ADMIN)
        def index():
            return "notes page"

        @bp.post("/save")
        @allow(SUPER)
        def save():
            self.saved.append(request.form["text"])
            return "saved"

        @bp.get("/secret")
        def secret():
            return "never shown"

        return AdminPages(bp, links=(NavLink(self.link, "Team notes", roles=("super_admin",)),))

    @hookimpl
    def gateway_admin_settings_section(self, config):
        if self.section_fails:
            raise RuntimeError("boom")
        return SettingsSection("Team notes", rows=(("Greeting", config["greeting"]),),
                               link="notes.index", link_label="Open notes")


def plugin_site(db_url: str, tmp_path: Path, plugin: object) -> Site:
    seeded = seed(db_url, tmp_path, calls=10)
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test-secret",
                      "PLUGIN_MANAGER": make_plugin_manager(extra=[("notes", plugin)])},
                     settings=seeded.settings)
    return Site(app, seeded, tmp_path)


@pytest.fixture
def notes_site(db_url, tmp_path):
    plugin = Notes()
    site = plugin_site(db_url, tmp_path, plugin)
    site.plugin = plugin
    yield site
    database(site.app).engine.dispose()


def test_gateway_admin_pages_are_behind_sign_in_roles_csrf_and_csp(notes_site):
    assert notes_site.client().get("/notes/").status_code == 302  # to the sign-in page
    root = notes_site.as_role("super_admin")
    page = root.get("/notes/")
    assert page.status_code == 200 and page.get_data(as_text=True) == "notes page"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert notes_site.as_role("org_admin").get("/notes/").status_code == 200
    assert notes_site.as_role("member").get("/notes/").status_code == 403
    assert root.get("/notes/secret").status_code == 403  # no roles declared: closed
    assert root.post("/notes/save", data={"text": "x"}).status_code == 400  # no CSRF token
    boss = notes_site.as_role("org_admin")
    assert boss.post("/notes/save", data={"text": "x", "csrf_token": csrf_token(boss)}
                     ).status_code == 403
    assert root.post("/notes/save", data={"text": "kept", "csrf_token": csrf_token(root)}
                     ).status_code == 200
    assert notes_site.plugin.saved == ["kept"]


def test_gateway_admin_pages_links_show_for_the_roles_named(notes_site):
    link = 'href="/notes/"'
    root_page = notes_site.as_role("super_admin").get("/me/").get_data(as_text=True)
    assert link in root_page and "Team notes" in root_page
    assert link not in notes_site.as_role("org_admin").get("/me/").get_data(as_text=True)


def test_gateway_admin_settings_section_and_the_plugin_list(notes_site):
    page = notes_site.as_role("super_admin").get("/settings/").get_data(as_text=True)
    assert 'id="plugins"' in page
    for listed in ("<span class=\"strong\">notes</span>", "<span class=\"strong\">routing</span>",
                   "<code>gateway_admin_pages</code>", "<code>gateway_resolve_model</code>"):
        assert listed in page
    assert "<h3>Team notes</h3>" in page
    assert "hello &lt;admins&gt;" in page  # plugin text is escaped, never markup
    assert 'href="/notes/">Open notes</a>' in page


def test_a_failing_section_does_not_take_the_settings_page_down(db_url, tmp_path):
    site = plugin_site(db_url, tmp_path, Notes(section_fails=True))
    page = site.as_role("super_admin").get("/settings/")
    assert page.status_code == 200
    assert "settings section failed" in page.get_data(as_text=True)
    database(site.app).engine.dispose()


def test_a_link_to_a_page_the_plugin_lacks_stops_the_start(db_url, tmp_path):
    with pytest.raises(ConfigError, match="plugin notes: navigation link 'Team notes' points "
                                          "to 'notes.missing'"):
        plugin_site(db_url, tmp_path, Notes(link="notes.missing"))
