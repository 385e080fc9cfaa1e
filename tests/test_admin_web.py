"""The admin site's foundation: sign-in, sessions, CSRF, headers; and the first-start bootstrap."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from admin_web import create_app, flask_secret_key
from admin_web.auth import BAD_LOGIN
from admin_web.db import database
from admin_web.security import LoginThrottle, safe_next
from gateway import admin_ops
from gateway.bootstrap import ADMIN_EMAIL, bootstrap, print_welcome
from gateway.settings import Settings

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"'
                     r'|name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(migrated_url: str, session: Session) -> Iterator[Flask]:
    admin_ops.create_user(session, "ada@example.com", "Ada <Lovelace>", role="super_admin",
                          password=PASSWORD)
    admin_ops.create_user(session, "sam@example.com", "Sam Suspended", password=PASSWORD)
    admin_ops.suspend_user(session, "sam@example.com")
    session.commit()
    app = create_app({"TESTING": True, "DATABASE_URL": migrated_url, "SECRET_KEY": "test-key"})
    yield app
    database(app).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, page
    return match.group(1) or match.group(2)


def login(client: FlaskClient, email: str, password: str, next_url: str = ""):
    return client.post("/login", data={"email": email, "password": password, "next": next_url,
                                       "csrf_token": csrf_token(client)})


def test_login_page_renders_with_csrf_token(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert CSRF_RE.search(response.get_data(as_text=True))


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert "_user_id" not in _session(client)


def test_wrong_password_and_unknown_email_get_the_same_message(client):
    wrong = login(client, "ada@example.com", "not the password")
    unknown = login(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert BAD_LOGIN in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_correct_login_redirects_home_which_shows_the_name(client):
    response = login(client, "ADA@example.com", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Ada &lt;Lovelace&gt;" in page  # escaped, never marked safe
    assert "Super admin" in page


def test_home_requires_login_and_remembers_where_to_return(client):
    response = client.get("/?tab=keys")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    target = "/?tab=keys"
    assert login(client, "ada@example.com", PASSWORD, target).headers["Location"] == target


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "evil.example"])
def test_external_next_is_ignored(client, target):
    response = login(client, "ada@example.com", PASSWORD, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_suspended_user_cannot_log_in(client):
    response = login(client, "sam@example.com", PASSWORD)
    assert response.status_code == 403
    assert "suspended" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_suspending_ends_an_open_session(client, session):
    login(client, "ada@example.com", PASSWORD)
    assert client.get("/").status_code == 200
    admin_ops.suspend_user(session, "ada@example.com")
    session.commit()
    assert client.get("/").status_code == 302


def test_rate_limit_kicks_in_even_for_the_right_password(client):
    for _ in range(5):
        assert login(client, "ada@example.com", "wrong").status_code == 200
    blocked = login(client, "ada@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.get_data(as_text=True)
    # Another email from the same address is counted separately.
    assert login(client, "nobody@example.com", "wrong").status_code == 200


def test_throttle_window_slides():
    now = [0.0]
    throttle = LoginThrottle(2, 60, clock=lambda: now[0])
    throttle.record_failure("k")
    throttle.record_failure("k")
    assert throttle.retry_after("k") > 0
    now[0] = 61.0
    assert throttle.retry_after("k") == 0


def test_security_headers_on_every_response(client):
    for response in (client.get("/login"), client.get("/healthz"), client.get("/nope"),
                     client.get("/static/admin.css")):
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_flags(client, app):
    cookie = login(client, "ada@example.com", PASSWORD).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    app.config["SESSION_COOKIE_SECURE"] = True
    secure = app.test_client()
    assert "Secure" in login(secure, "ada@example.com", PASSWORD).headers["Set-Cookie"]


def test_logout_requires_post(client):
    login(client, "ada@example.com", PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 400  # no CSRF token
    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("target,expected", [
    ("/keys?x=1", "/keys?x=1"), ("", None), (None, None), ("//evil", None),
    ("/\\evil", None), ("https://evil.example/", None), ("/ok\nSet-Cookie: x", None),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_secret_key_is_derived_not_raw():
    master = bytes(range(32))
    derived = flask_secret_key(master)
    assert derived == flask_secret_key(master) and master.hex() != derived
    assert derived != flask_secret_key(bytes(32))


def _session(client: FlaskClient) -> dict:
    with client.session_transaction() as sess:
        return dict(sess)


# --- bootstrap ----------------------------------------------------------------------------------

@pytest.fixture
def settings(migrated_url: str, tmp_path) -> Settings:
    return Settings.from_env({"GATEWAY_DATA_DIR": str(tmp_path / "data"),
                              "GATEWAY_DATABASE_URL": migrated_url})


def test_bootstrap_creates_a_super_admin_once(settings):
    password = bootstrap(settings)
    assert password and len(password) >= 16
    assert bootstrap(settings) is None
    assert (settings.data_dir / "secret.key").exists()
    app = create_app(settings=settings)
    try:
        client = app.test_client()
        response = login(client, ADMIN_EMAIL, password)
        assert response.headers["Location"] == "/"
        page = client.get("/").get_data(as_text=True)
        assert "Administrator" in page and "Super admin" in page
    finally:
        database(app).engine.dispose()


def test_bootstrap_on_an_empty_database(tmp_path):
    settings = Settings.from_env({"GATEWAY_DATA_DIR": str(tmp_path / "fresh")})
    assert bootstrap(settings)
    assert bootstrap(settings) is None


def test_print_welcome(settings, capsys):
    args = argparse.Namespace(host="127.0.0.1", port=8080, admin_host="0.0.0.0", admin_port=8081)
    print_welcome(settings, args, "pw-shown-once")
    out = capsys.readouterr().out
    assert "pw-shown-once" in out and "shown once" in out
    assert "http://127.0.0.1:8081" in out and "http://127.0.0.1:8080" in out
    assert "llm-gateway keys create --user admin@localhost" in out
    assert "http://127.0.0.1:8080/v1/chat/completions" in out
    assert 'base_url="http://127.0.0.1:8080/v1"' in out and "openai/gpt-4o-mini" in out
    print_welcome(settings, args, None)
    assert "pw-shown-once" not in capsys.readouterr().out
