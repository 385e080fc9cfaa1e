"""Admin sessions are revocable: signing out, a password reset, a suspension or a role change ends
every session of that user — including a session cookie copied before it happened."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from gateway import admin_ops
from gateway.db.models import User
from tests.admin.conftest import ROLE_USERS, Site, post

COOKIE = "llmgw_admin"


def copy_of(site: Site, client: FlaskClient) -> FlaskClient:
    """A second browser holding the same session cookie (a stolen or copied cookie)."""
    other = site.app.test_client()
    other.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return other


def signed_in(client: FlaskClient) -> bool:
    return client.get("/me/").status_code == 200


def test_a_cookie_copied_before_sign_out_no_longer_works(site: Site):
    browser = site.as_role("member")
    stolen = copy_of(site, browser)
    assert signed_in(stolen)
    other_device = site.as_role("member")
    post(browser, "/logout")
    assert not signed_in(browser) and not signed_in(stolen) and not signed_in(other_device)
    assert signed_in(site.as_role("member"))  # signing in again works


@pytest.mark.parametrize("change", ["password", "suspension", "role"])
def test_a_password_reset_suspension_or_role_change_ends_every_session(site: Site, change):
    email = ROLE_USERS["org_admin"]
    browser = site.as_role("org_admin")
    stolen = copy_of(site, browser)
    bystander = site.as_role("member")
    with site.session() as session:
        user = session.query(User).filter_by(email=email).one()
        if change == "password":
            user.password_hash = "pbkdf2:sha256:1$x$y"
        elif change == "suspension":
            admin_ops.suspend_user(session, email)
        else:
            user.role = "member"
        session.commit()
    assert not signed_in(browser) and not signed_in(stolen)
    assert signed_in(bystander)  # other users' sessions are untouched


def test_editing_a_users_name_keeps_their_session(site: Site):
    browser = site.as_role("member")
    with site.session() as session:
        session.query(User).filter_by(email=ROLE_USERS["member"]).one().name = "New Name"
        session.commit()
    assert signed_in(browser)
