"""The model allow-list example: lists edited on its admin page (by an org admin, behind CSRF)
are enforced by a running gateway on the same database; as a file and as a package."""

from __future__ import annotations

import re

import openai
import pytest

from admin_web import create_app
from gateway import admin_ops, testing
from gateway.pluginmanager import load_file, make_plugin_manager
from tests.examples.conftest import example_file, installed

MSG = [{"role": "user", "content": "hi"}]
ALLOWLIST = example_file("model_allowlist")


def assert_enforced(gw: testing.TestGateway, set_list) -> None:
    gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG)  # no list yet
    gw.admin(set_list, "acme", ["openai/gpt-4o-mini"])
    gw.reload()
    assert gw.openai().chat.completions.create(model="openai/gpt-4o-mini", messages=MSG).choices
    gw.provider.state.clear()
    with pytest.raises(openai.PermissionDeniedError) as err:
        gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG)
    assert err.value.body["message"] == "model 'openai/gpt-4o' is not on the allow-list of team 'acme'"
    assert gw.received == []


def test_gateway_admit_enforces_the_list_as_a_dropped_in_file(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "model_allowlist.py").write_text(ALLOWLIST.read_text())
    with testing.gateway(plugins_dir=folder) as gw:
        module = gw.ctx.hooks.pm.get_plugin("model_allowlist")
        assert_enforced(gw, module.set_list)
        gw.configure("model_allowlist", {"deny_unlisted": True})
        gw.admin(admin_ops.create_org, "globex", "Globex")
        gw.admin(admin_ops.create_user, "g@globex.test", "G", org_slug="globex")
        key = gw.admin(admin_ops.create_key, user_email="g@globex.test")[0]
        with pytest.raises(openai.PermissionDeniedError, match="has no model allow-list"):
            gw.openai(key=key).chat.completions.create(model="openai/gpt-4o-mini", messages=MSG)


def test_as_an_installed_package(tmp_path):
    with installed("model_allowlist", tmp_path / "site"):
        import model_allowlist

        with testing.gateway() as gw:
            assert_enforced(gw, model_allowlist.set_list)


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def test_gateway_admin_pages_of_the_example_edit_what_the_gateway_enforces(tmp_path):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    with testing.gateway(ALLOWLIST, database_url=db) as gw:
        gw.admin(admin_ops.create_user, "boss@acme.test", "Boss", org_slug="acme",
                 role="org_admin", password="boss-password-1")
        gw.admin(admin_ops.create_org, "globex", "Globex")
        # The admin process loads the file on its own, as `llm-gateway admin --plugins-dir` does.
        pm = make_plugin_manager(extra=[("model_allowlist", load_file(ALLOWLIST))])
        app = create_app({"TESTING": True, "DATABASE_URL": db, "SECRET_KEY": "s",
                          "PLUGIN_MANAGER": pm})
        boss = app.test_client()
        boss.post("/login", data={"email": "boss@acme.test", "password": "boss-password-1",
                                  "csrf_token": csrf(boss.get("/login").get_data(as_text=True))})
        page = boss.get("/plugins/model-allowlist/").get_data(as_text=True)
        assert "Model allow-list" in page and "acme" in page and "globex" not in page
        assert boss.post("/plugins/model-allowlist/",
                         data={"org": "acme", "models": "openai/gpt-4o-mini"}).status_code == 400
        assert boss.post("/plugins/model-allowlist/", data={
            "org": "globex", "models": "x/y", "csrf_token": csrf(page)}).status_code == 404
        saved = boss.post("/plugins/model-allowlist/", data={
            "org": "acme", "models": "openai/gpt-4o-mini", "csrf_token": csrf(page)})
        assert saved.status_code == 302
        gw.reload()
        with pytest.raises(openai.PermissionDeniedError):
            gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG)
        assert gw.openai().chat.completions.create(model="openai/gpt-4o-mini", messages=MSG)
        assert '<a href="/plugins/model-allowlist/"' in boss.get("/me/").get_data(as_text=True)
