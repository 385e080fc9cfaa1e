"""Feature toggles reach plugins through the principal (`call.principal.features`): a plugin that
changes its answer when its toggle is on, through a real gateway socket, as an admin switches it
on, a user opts in and out; the proxy's key cache is kept (no re-lookup, no revision bump)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import event, select

from admin_web import features as admin_features
from gateway import admin_ops, features
from gateway.call import Call
from gateway.db.engine import read_revision
from gateway.db.models import User
from gateway.pluginmanager import hookimpl

MSG = [{"role": "user", "content": "hi"}]
KEY = "beta-echo"


class BetaEcho:
    """The consumer: answers with `X-Beta-Echo: on` for callers who have the toggle on."""

    @hookimpl
    def gateway_response_headers(self, call: Call) -> dict[str, str] | None:
        principal = call.principal
        return {"X-Beta-Echo": "on"} if principal and KEY in principal.features else None


def beta_header(gw, key: str) -> str | None:
    reply = gw.openai(key).chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=MSG)
    return reply.headers.get("x-beta-echo")


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_plugin_reads_its_toggle_from_the_principal(gateway_factory, monkeypatch):
    gw = gateway_factory(plugins=[BetaEcho()])
    # The set-up's own writes (users, keys) drop the key cache once the watcher sees them: wait.
    assert eventually(lambda: gw.ctx.revision == read_revision(gw.ctx.engine))
    loaded: list[str] = []
    real_load = gw.ctx.keystore._load
    monkeypatch.setattr(gw.ctx.keystore, "_load", lambda k: loaded.append(k) or real_load(k))
    dev = gw.admin(lambda s: s.scalar(select(User.id).where(User.email == "dev@acme.test")))
    assert beta_header(gw, gw.user_key) is None and beta_header(gw, gw.app_key) is None
    revision = read_revision(gw.ctx.engine)

    gw.admin(admin_features.set_feature, KEY, "Beta echo", "", "opt_in")
    gw.admin(admin_features.set_optin, dev, KEY, True)
    assert eventually(lambda: beta_header(gw, gw.user_key) == "on")
    assert beta_header(gw, gw.app_key) is None  # an opt-in is one user's
    gw.admin(admin_features.set_feature, KEY, "Beta echo", "", "on")
    assert eventually(lambda: beta_header(gw, gw.app_key) == "on")  # "on": every key
    gw.admin(admin_features.set_feature, KEY, "Beta echo", "", "opt_in")
    gw.admin(admin_features.set_optin, dev, KEY, False)
    assert eventually(lambda: beta_header(gw, gw.user_key) is None)

    # Every change reached the cached principals: no key was looked up again, and the database
    # revision (which drops every process's key cache) never moved.
    assert sorted(loaded) == sorted([gw.user_key, gw.app_key])
    assert read_revision(gw.ctx.engine) == revision


def test_a_revision_bump_still_drops_the_cache_and_keeps_features(gateway_factory):
    gw = gateway_factory(plugins=[BetaEcho()])
    gw.admin(admin_features.set_feature, KEY, "Beta echo", "", "on")
    assert eventually(lambda: beta_header(gw, gw.user_key) == "on")
    gw.admin(admin_ops.create_org, "globex", "Globex")  # any admin write
    assert eventually(lambda: gw.ctx.revision == read_revision(gw.ctx.engine))
    assert beta_header(gw, gw.user_key) == "on"  # looked up afresh, with its features


def test_enabled_for_is_one_query_and_apps_get_the_on_ones(session, engine):
    user = admin_ops.create_user(session, "a@x.io", "A")
    for key, mode in (("always", "on"), ("chosen", "opt_in"), ("never", "off"), ("skip", "opt_in")):
        admin_features.set_feature(session, key, key.title(), "", mode)
    admin_features.set_optin(session, user.id, "chosen", True)
    session.commit()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert features.enabled_for(session, user.id) == {"always", "chosen"}
    assert len(statements) == 1
    assert features.enabled_for(session, None) == {"always"}
    state = features.load_state(session)
    assert state.enabled_for(user.id) == {"always", "chosen"} and state.enabled_for(None) == {"always"}


def test_feature_writes_change_the_stamp_not_the_revision(session, engine):
    user = admin_ops.create_user(session, "a@x.io", "A")
    session.commit()
    revision, stamp = read_revision(engine), features.read_stamp(session)
    admin_features.set_feature(session, KEY, "Beta", "", "opt_in")
    session.commit()
    first = features.read_stamp(session)
    admin_features.set_optin(session, user.id, KEY, True)
    session.commit()
    assert len({stamp, first, features.read_stamp(session)}) == 3
    assert read_revision(engine) == revision
