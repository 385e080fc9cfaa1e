"""Fixtures for the admin site: a seeded database (SQLite, and PostgreSQL when
GATEWAY_TEST_PG_URL is set), the Flask app over it, and signed-in test clients per role.

`seeded_site` is shared by the tests of a module that only read; `site` is fresh per test, for
tests that write."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from admin_web import create_app
from admin_web.db import database
from tests.admin.seed import PASSWORD, Seeded, seed
from tests.db_fixtures import PG_ENV, _fresh_pg_database

CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
ROLE_USERS = {"super_admin": "root@example.com", "org_admin": "boss@acme.test",
              "member": "dev@acme.test"}


@dataclass
class Site:
    app: Flask
    seeded: Seeded
    directory: Path

    @property
    def ids(self) -> dict[str, int]:
        return self.seeded.ids

    def client(self, email: str | None = None, password: str = PASSWORD) -> FlaskClient:
        client = self.app.test_client()
        if email is not None:
            response = client.post("/login", data={"email": email, "password": password,
                                                   "csrf_token": csrf_token(client, "/login")})
            assert response.status_code == 302, response.get_data(as_text=True)
        return client

    def as_role(self, role: str) -> FlaskClient:
        return self.client(ROLE_USERS[role])

    def session(self) -> Session:
        """A session on the site's database (use it in a `with` block)."""
        return database(self.app).sessions()


def csrf_token(client: FlaskClient, path: str = "/me/") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, page[:500]
    return match.group(1)


def post(client: FlaskClient, path: str, data: dict | None = None, **kwargs):
    """A form post with a valid CSRF token (taken from My dashboard, open to every role)."""
    return client.post(path, data={"csrf_token": csrf_token(client), **(data or {})}, **kwargs)


def make_site(url: str, directory: Path, **env: str) -> Site:
    seeded = seed(url, directory, **env)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret",
                      "EXPORT_DIR": str(directory / "exports"), "OLLAMA_TIMEOUT": 2.0},
                     settings=seeded.settings)
    return Site(app, seeded, directory)


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    built = make_site(db_url, tmp_path)
    yield built
    database(built.app).engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def seeded_site(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("admin")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{directory / 'data' / 'gateway.db'}"])
    else:
        server = os.environ.get(PG_ENV)
        if not server:
            pytest.skip(f"{PG_ENV} is not set")
        urls = _fresh_pg_database(server)
    url = next(urls)
    built = make_site(url, directory)
    yield built
    database(built.app).engine.dispose()
    next(urls, None)  # drops the PostgreSQL database
