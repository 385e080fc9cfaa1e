"""Admin sub-commands: `orgs`, `users`, `apps`, `keys` (see README "Commands").

Every command migrates the database first (so a fresh data dir works), runs one transaction and
prints either text or, with `--json`, one JSON document on one line (money as decimal strings,
times as ISO 8601 UTC). `keys create` is the one exception: after the text or the JSON line it
prints the new key alone on the last line of stdout, so `tail -n 1` always yields the key; the
JSON object also carries it as `"key"`. Errors go to stderr with exit code 1 (2 for a
configuration error), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import admin_ops as ops
from gateway.db.engine import make_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import ROLES, ApiKey, App, Organization, User
from gateway.errors import ConfigError
from gateway.settings import Settings


@dataclass
class Output:
    doc: Any  # the --json document
    text: str  # the human-readable form
    last_line: str | None = None  # printed alone after either form (the new key)


Handler = Callable[[Session, argparse.Namespace], Output]


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_orgs(_group(subparsers, "orgs", "manage organizations"))
    _register_users(_group(subparsers, "users", "manage users"))
    _register_apps(_group(subparsers, "apps", "manage apps (keys that belong to no person)"))
    _register_keys(_group(subparsers, "keys", "manage gateway keys"))


def _group(subparsers: argparse._SubParsersAction, name: str,
           help: str) -> argparse._SubParsersAction:
    parser = subparsers.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _command(sub: argparse._SubParsersAction, name: str, help: str,
             handler: Handler) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=lambda args: run(handler, args))
    return parser


def _register_orgs(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "create", "create an organization", _orgs_create)
    p.add_argument("slug", metavar="SLUG")
    p.add_argument("--name", required=True)
    p.add_argument("--spend-cap", metavar="USD", help="spending cap per period in US dollars")
    p.add_argument("--rollover", action="store_true", help="unspent budget rolls over")
    p.add_argument("--dlp", action="store_true", help="redact sensitive values for this org")
    _command(sub, "list", "list organizations", _orgs_list)


def _register_users(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "create", "create a user", _users_create)
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--name", required=True)
    p.add_argument("--org", metavar="SLUG")
    p.add_argument("--role", choices=ROLES, default="member")
    p.add_argument("--weekly-cap", metavar="USD", help="weekly spending cap in US dollars")
    p.add_argument("--password-stdin", action="store_true",
                   help="read an admin-site password from stdin")
    _command(sub, "list", "list users", _users_list)
    for action, status in (("suspend", "suspended"), ("activate", "active")):
        p = _command(sub, action, f"{action} a user", _user_status(status))
        p.add_argument("email", metavar="EMAIL")
    p = _command(sub, "reset-password", "set a new admin-site password (e.g. a lost "
                 "super-admin's); it is printed once, alone on the last line", _users_reset_password)
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the new password from stdin instead of generating one")


def _register_apps(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "create", "create an app", _apps_create)
    p.add_argument("slug", metavar="SLUG")
    p.add_argument("--name", required=True)
    p.add_argument("--org", metavar="SLUG", required=True)
    p.add_argument("--contact", metavar="EMAIL")
    p.add_argument("--dlp", action="store_true", help="redact sensitive values for this app")
    _command(sub, "list", "list apps", _apps_list)
    for action, active in (("deactivate", False), ("activate", True)):
        p = _command(sub, action, f"{action} an app", _app_active(active))
        p.add_argument("slug", metavar="SLUG")


def _register_keys(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "create", "create a key; it is printed once, alone on the last line",
                 _keys_create)
    owner = p.add_mutually_exclusive_group(required=True)
    owner.add_argument("--user", metavar="EMAIL")
    owner.add_argument("--app", metavar="SLUG")
    p.add_argument("--name", help="a label for the key (default: default)")
    p = _command(sub, "revoke", "revoke a key", _keys_revoke)
    p.add_argument("prefix", metavar="PREFIX", help="the visible prefix, sk-gw- + 8 characters")
    _command(sub, "list", "list keys (prefixes only; keys are never stored)", _keys_list)


def run(handler: Handler, args: argparse.Namespace) -> int:
    """Migrate, run `handler` in one committed transaction, print its output."""
    try:
        output = _in_session(handler, args)
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}", 2)
    except (ValueError, LookupError, CommandError) as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        return _fail(f"database error: {getattr(exc, 'orig', None) or exc}")
    except OSError as exc:
        return _fail(f"cannot open the database: {exc}")
    print(json.dumps(output.doc, ensure_ascii=False) if args.json else output.text)
    if output.last_line is not None:
        print(output.last_line)
    return 0


def _in_session(handler: Handler, args: argparse.Namespace) -> Output:
    url = Settings.from_env().database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            output = handler(session, args)
            session.commit()
            return output
    finally:
        engine.dispose()


def _fail(message: str, code: int = 1) -> int:
    print(f"llm-gateway: {message}", file=sys.stderr)
    return code


# --- handlers ---------------------------------------------------------------------------------

def _orgs_create(session: Session, args: argparse.Namespace) -> Output:
    org = ops.create_org(session, args.slug, args.name, spend_cap_usd=args.spend_cap,
                         rollover=args.rollover, dlp_enabled=args.dlp)
    return Output(org_doc(org), f"created organization {org.slug} ({org.name})")


def _orgs_list(session: Session, args: argparse.Namespace) -> Output:
    orgs = ops.list_orgs(session)
    rows = [(o.slug, o.name, _cell(o.spend_cap_usd), _yes(o.rollover), _yes(o.dlp_enabled))
            for o in orgs]
    return Output([org_doc(o) for o in orgs],
                  _table(("SLUG", "NAME", "SPEND_CAP", "ROLLOVER", "DLP"), rows))


def _users_create(session: Session, args: argparse.Namespace) -> Output:
    password = _read_password() if args.password_stdin else None
    user = ops.create_user(session, args.email, args.name, org_slug=args.org, role=args.role,
                           weekly_cap_usd=args.weekly_cap, password=password)
    return Output(user_doc(user), f"created user {user.email} ({user.role})")


def _users_list(session: Session, args: argparse.Namespace) -> Output:
    users = ops.list_users(session)
    rows = [(u.email, u.name, u.org.slug if u.org else "-", u.role, u.status,
             _cell(u.weekly_cap_usd)) for u in users]
    return Output([user_doc(u) for u in users],
                  _table(("EMAIL", "NAME", "ORG", "ROLE", "STATUS", "WEEKLY_CAP"), rows))


def _users_reset_password(session: Session, args: argparse.Namespace) -> Output:
    chosen = _read_password() if args.password_stdin else None
    password, user = ops.reset_password(session, args.email, chosen)
    if chosen is not None:
        return Output(user_doc(user), f"set a new password for {user.email}")
    return Output({**user_doc(user), "password": password},
                  f"new password for {user.email}; it is shown once, on the next line",
                  last_line=password)


def _user_status(status: str) -> Handler:
    def handler(session: Session, args: argparse.Namespace) -> Output:
        user = ops.set_user_status(session, args.email, status)
        return Output(user_doc(user), f"user {user.email} is {status}")
    return handler


def _apps_create(session: Session, args: argparse.Namespace) -> Output:
    app = ops.create_app(session, args.slug, args.name, org_slug=args.org,
                         contact_email=args.contact, dlp_enabled=args.dlp)
    return Output(app_doc(app), f"created app {app.slug} in organization {app.org.slug}")


def _apps_list(session: Session, args: argparse.Namespace) -> Output:
    apps = ops.list_apps(session)
    rows = [(a.slug, a.name, a.org.slug, _yes(a.active), _yes(a.dlp_enabled),
             a.contact_email or "-") for a in apps]
    return Output([app_doc(a) for a in apps],
                  _table(("SLUG", "NAME", "ORG", "ACTIVE", "DLP", "CONTACT"), rows))


def _app_active(active: bool) -> Handler:
    def handler(session: Session, args: argparse.Namespace) -> Output:
        app = ops.set_app_active(session, args.slug, active)
        return Output(app_doc(app), f"app {app.slug} is {'active' if active else 'inactive'}")
    return handler


def _keys_create(session: Session, args: argparse.Namespace) -> Output:
    full, key = ops.create_key(session, user_email=args.user, app_slug=args.app, name=args.name)
    text = (f"created key {key.prefix} ({key.name}) for {_owner(key)}; "
            f"it is shown once, on the next line")
    return Output({**key_doc(key), "key": full}, text, last_line=full)


def _keys_revoke(session: Session, args: argparse.Namespace) -> Output:
    key = ops.revoke_key(session, args.prefix)
    return Output(key_doc(key), f"revoked key {key.prefix} ({key.name}) of {_owner(key)}")


def _keys_list(session: Session, args: argparse.Namespace) -> Output:
    keys = ops.list_keys(session)
    rows = [(k.prefix, k.name, _owner(k), _cell(k.created_at), _cell(k.revoked_at),
             _cell(k.last_used_at)) for k in keys]
    return Output([key_doc(k) for k in keys],
                  _table(("PREFIX", "NAME", "OWNER", "CREATED", "REVOKED", "LAST_USED"), rows))


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ValueError("--password-stdin: no password on stdin")
    return password


# --- JSON documents ---------------------------------------------------------------------------

def org_doc(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "slug": org.slug, "name": org.name,
            "spend_cap_usd": _json(org.spend_cap_usd), "rollover": org.rollover,
            "dlp_enabled": org.dlp_enabled, "owner_user_id": org.owner_user_id,
            "created_at": _json(org.created_at)}


def user_doc(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name,
            "org": user.org.slug if user.org else None, "role": user.role, "status": user.status,
            "weekly_cap_usd": _json(user.weekly_cap_usd),
            "has_password": user.password_hash is not None, "created_at": _json(user.created_at)}


def app_doc(app: App) -> dict[str, Any]:
    return {"id": app.id, "slug": app.slug, "name": app.name, "org": app.org.slug,
            "contact_email": app.contact_email, "active": app.active,
            "dlp_enabled": app.dlp_enabled, "created_at": _json(app.created_at)}


def key_doc(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "prefix": key.prefix, "name": key.name,
            "user": key.user.email if key.user else None, "app": key.app.slug if key.app else None,
            "created_at": _json(key.created_at), "revoked_at": _json(key.revoked_at),
            "last_used_at": _json(key.last_used_at)}


def _json(value: Decimal | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _cell(value: Decimal | datetime | None) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    return "-" if value is None else str(value)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _owner(key: ApiKey) -> str:
    return f"user {key.user.email}" if key.user else f"app {key.app.slug if key.app else '?'}"


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = [headers, *rows]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)
