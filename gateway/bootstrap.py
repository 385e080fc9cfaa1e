"""First start: the data dir, the master key, the schema and a super-admin.

`bootstrap(settings)` is idempotent and safe to run from several processes at once: migrations
serialise on their own lock, and when two processes both find no super-admin, the unique email
makes one insert fail; that one rolls back and finds the other's super-admin.
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import admin_ops
from gateway.cli import command_name
from gateway.db.engine import make_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import User
from gateway.errors import ConfigError
from gateway.settings import Settings

ADMIN_EMAIL = "admin@localhost"
ADMIN_NAME = "Administrator"
EXAMPLE_MODEL = "openai/gpt-4o-mini"


def bootstrap(settings: Settings) -> str | None:
    """Prepare everything a first start needs. Returns the new super-admin's password (the only
    time it exists in clear text), or None when a super-admin already existed."""
    settings.ensure_data_dir()
    _ensure_secret_key(settings)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            return _ensure_super_admin(session)
    finally:
        engine.dispose()


def _ensure_secret_key(settings: Settings, attempts: int = 20) -> None:
    """Create the master key file now, before proxy and admin processes start. Another process
    may be creating it at this very moment: then the exclusive create fails, or the file is still
    empty; wait for the other to finish writing."""
    for attempt in range(attempts):
        try:
            settings.secret_key()
            return
        except (FileExistsError, ConfigError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _has_super_admin(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.role == "super_admin").limit(1)) is not None


def _ensure_super_admin(session: Session) -> str | None:
    if _has_super_admin(session):
        return None
    password = admin_ops.new_password()  # the one password policy, like any other
    try:
        admin_ops.create_user(session, ADMIN_EMAIL, ADMIN_NAME, role="super_admin",
                              password=password)
        session.commit()
    except ValueError:
        session.rollback()
        if _has_super_admin(session):  # another process won the race
            return None
        raise ValueError(
            f"no super-admin exists and {ADMIN_EMAIL!r} is taken by a user who is not one; create "
            f"a super-admin with: {command_name()} users create EMAIL --name NAME --role "
            f"super_admin --password-stdin") from None
    return password


def first_key(settings: Settings) -> str:
    """A key for the super-admin, made on the very first start so the example works at once."""
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            key, _ = admin_ops.create_key(session, user_email=ADMIN_EMAIL, name="first-start")
            session.commit()
            return key
    finally:
        engine.dispose()


def print_welcome(settings: Settings, args: argparse.Namespace, password: str | None,
                  key: str | None = None) -> None:
    """Print where everything listens, the super-admin login and a first call to try."""
    admin_url = _url(args.admin_host, args.admin_port)
    proxy_url = _url(args.host, args.port)
    if password:
        login = (f"  Login     {ADMIN_EMAIL}\n"
                 f"  Password  {password}\n"
                 f"            (shown once: save it now, it is stored only as a hash)")
    else:
        login = (f"  Login     super-admin already set up (password not shown again; lost it?\n"
                 f"            {command_name()} users reset-password {ADMIN_EMAIL})")
    print(f"""
llm-gateway is up.

  Admin     {admin_url}
  Proxy     {proxy_url}
{login}

{_key_lines(key)}
Call a model through the proxy:
  curl {proxy_url}/v1/chat/completions \\
    -H "Authorization: Bearer $GATEWAY_KEY" -H "Content-Type: application/json" \\
    -d '{{"model": "{EXAMPLE_MODEL}", "messages": [{{"role": "user", "content": "Hello"}}]}}'

  import os
  from openai import OpenAI
  client = OpenAI(base_url="{proxy_url}/v1", api_key=os.environ["GATEWAY_KEY"])
  reply = client.chat.completions.create(
      model="{EXAMPLE_MODEL}", messages=[{{"role": "user", "content": "Hello"}}])
  print(reply.choices[0].message.content)
""", flush=True)


def _key_lines(key: str | None) -> str:
    if key:
        return (f"A key for {ADMIN_EMAIL} (shown once; only its hash is stored):\n"
                f"  export GATEWAY_KEY={key}\n")
    return (f"Make a key (it is printed alone on the last line):\n"
            f"  {command_name()} keys create --user {ADMIN_EMAIL}\n"
            f"  export GATEWAY_KEY=sk-gw-...\n")


def _url(host: str, port: int) -> str:
    # A wildcard bind address is not something a client can connect to.
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
