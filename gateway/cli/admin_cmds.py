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
from typing import Any, TypeAlias

from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import admin_ops as ops
from gateway.cli.render import app_doc, cell, key_doc, org_doc, owner, table, user_doc, yes
from gateway.db.engine import make_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import ROLES, USER_STATUSES
from gateway.errors import ConfigError
from gateway.settings import Settings


@dataclass
class Output:
    doc: Any  # the --json document
    text: str  # the human-readable form
    last_line: str | None = None  # printed alone after either form (the new key)


Handler = Callable[[Session, argparse.Namespace], Output]
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
NONE = "none"  # the value of an edit option that clears the field (no cap, no org, no owner)


def register(subparsers: SubParsers) -> None:
    _register_orgs(_group(subparsers, "orgs", "manage organizations"))
    _register_users(_group(subparsers, "users", "manage users"))
    _register_apps(_group(subparsers, "apps", "manage apps (keys that belong to no person)"))
    _register_keys(_group(subparsers, "keys", "manage gateway keys"))


def _group(subparsers: SubParsers, name: str,
           help: str) -> SubParsers:
    parser = subparsers.add_parser(name, help=help, description=help)
    group: SubParsers = parser.add_subparsers(dest=f"{name}_command", required=True,
                                              metavar="ACTION")
    return group


def _command(sub: SubParsers, name: str, help: str,
             handler: Handler) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=lambda args: run(handler, args))
    return parser


def _register_orgs(sub: SubParsers) -> None:
    p = _command(sub, "create", "create an organization", _orgs_create)
    p.add_argument("slug", metavar="SLUG")
    p.add_argument("--name", required=True)
    p.add_argument("--spend-cap", metavar="USD", help="spending cap per period in US dollars")
    p.add_argument("--rollover", action="store_true", help="unspent budget rolls over")
    p.add_argument("--dlp", action="store_true", help="redact sensitive values for this org")
    _command(sub, "list", "list organizations", _orgs_list)
    p = _command(sub, "edit", "change an organization (only the options given)", _orgs_edit)
    p.add_argument("slug", metavar="SLUG")
    p.add_argument("--name")
    p.add_argument("--spend-cap", metavar="USD", help=f"spending cap per period ({NONE}: no cap)")
    p.add_argument("--rollover", action=argparse.BooleanOptionalAction,
                   help="unspent budget rolls over")
    p.add_argument("--dlp", action=argparse.BooleanOptionalAction,
                   help="redact sensitive values for this org")
    p.add_argument("--owner", metavar="EMAIL", help=f"a member who owns it ({NONE}: no owner)")


def _register_users(sub: SubParsers) -> None:
    p = _command(sub, "create", "create a user", _users_create)
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--name", required=True)
    p.add_argument("--org", metavar="SLUG")
    p.add_argument("--role", choices=ROLES, default="member")
    p.add_argument("--weekly-cap", metavar="USD", help="weekly spending cap in US dollars")
    p.add_argument("--password-stdin", action="store_true",
                   help=f"read an admin-site password from stdin (at least "
                        f"{ops.MIN_PASSWORD_LENGTH} characters)")
    _command(sub, "list", "list users", _users_list)
    p = _command(sub, "edit", "change a user (only the options given)", _users_edit)
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--name")
    p.add_argument("--role", choices=ROLES)
    p.add_argument("--org", metavar="SLUG", help=f"move to this organization ({NONE}: none)")
    p.add_argument("--weekly-cap", metavar="USD", help=f"weekly spending cap ({NONE}: no cap)")
    p.add_argument("--status", choices=USER_STATUSES)
    for action, status in (("suspend", "suspended"), ("activate", "active")):
        p = _command(sub, action, f"{action} a user", _user_status(status))
        p.add_argument("email", metavar="EMAIL")
    p = _command(sub, "reset-password", "set a new admin-site password (e.g. a lost "
                 "super-admin's); it is printed once, alone on the last line", _users_reset_password)
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the new password from stdin instead of generating one")


def _register_apps(sub: SubParsers) -> None:
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


def _register_keys(sub: SubParsers) -> None:
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
    rows = [(o.slug, o.name, cell(o.spend_cap_usd), yes(o.rollover), yes(o.dlp_enabled))
            for o in orgs]
    return Output([org_doc(o) for o in orgs],
                  table(("SLUG", "NAME", "SPEND_CAP", "ROLLOVER", "DLP"), rows))


def _orgs_edit(session: Session, args: argparse.Namespace) -> Output:
    changes = _changes(args, {"name": "name", "spend_cap_usd": "spend_cap", "rollover": "rollover",
                              "dlp_enabled": "dlp", "owner_email": "owner"},
                       clearable=("spend_cap_usd", "owner_email"))
    org = ops.update_org(session, args.slug, **changes)
    return Output(org_doc(org), f"updated organization {org.slug}: {', '.join(changes)}")


def _users_edit(session: Session, args: argparse.Namespace) -> Output:
    changes = _changes(args, {"name": "name", "role": "role", "org_slug": "org",
                              "weekly_cap_usd": "weekly_cap", "status": "status"},
                       clearable=("org_slug", "weekly_cap_usd"))
    user = ops.update_user(session, args.email, **changes)
    return Output(user_doc(user), f"updated user {user.email}: {', '.join(changes)}")


def _changes(args: argparse.Namespace, fields: dict[str, str],
             clearable: tuple[str, ...]) -> dict[str, Any]:
    """The edit's keyword arguments from the options given (`none` clears a clearable one)."""
    changes = {param: getattr(args, option) for param, option in fields.items()
               if getattr(args, option) is not None}
    if not changes:
        raise ValueError(f"nothing to change: give at least one of "
                         f"{', '.join('--' + o.replace('_', '-') for o in fields.values())}")
    return {param: None if param in clearable and str(value).lower() == NONE else value
            for param, value in changes.items()}


def _users_create(session: Session, args: argparse.Namespace) -> Output:
    password = _read_password() if args.password_stdin else None
    user = ops.create_user(session, args.email, args.name, org_slug=args.org, role=args.role,
                           weekly_cap_usd=args.weekly_cap, password=password)
    return Output(user_doc(user), f"created user {user.email} ({user.role})")


def _users_list(session: Session, args: argparse.Namespace) -> Output:
    users = ops.list_users(session)
    rows = [(u.email, u.name, u.org.slug if u.org else "-", u.role, u.status,
             cell(u.weekly_cap_usd)) for u in users]
    return Output([user_doc(u) for u in users],
                  table(("EMAIL", "NAME", "ORG", "ROLE", "STATUS", "WEEKLY_CAP"), rows))


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
    rows = [(a.slug, a.name, a.org.slug, yes(a.active), yes(a.dlp_enabled),
             a.contact_email or "-") for a in apps]
    return Output([app_doc(a) for a in apps],
                  table(("SLUG", "NAME", "ORG", "ACTIVE", "DLP", "CONTACT"), rows))


def _app_active(active: bool) -> Handler:
    def handler(session: Session, args: argparse.Namespace) -> Output:
        app = ops.set_app_active(session, args.slug, active)
        return Output(app_doc(app), f"app {app.slug} is {'active' if active else 'inactive'}")
    return handler


def _keys_create(session: Session, args: argparse.Namespace) -> Output:
    full, key = ops.create_key(session, user_email=args.user, app_slug=args.app, name=args.name)
    text = (f"created key {key.prefix} ({key.name}) for {owner(key)}; "
            f"it is shown once, on the next line")
    return Output({**key_doc(key), "key": full}, text, last_line=full)


def _keys_revoke(session: Session, args: argparse.Namespace) -> Output:
    key = ops.revoke_key(session, args.prefix)
    return Output(key_doc(key), f"revoked key {key.prefix} ({key.name}) of {owner(key)}")


def _keys_list(session: Session, args: argparse.Namespace) -> Output:
    keys = ops.list_keys(session)
    rows = [(k.prefix, k.name, owner(k), cell(k.created_at), cell(k.revoked_at),
             cell(k.last_used_at)) for k in keys]
    return Output([key_doc(k) for k in keys],
                  table(("PREFIX", "NAME", "OWNER", "CREATED", "REVOKED", "LAST_USED"), rows))


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ValueError("--password-stdin: no password on stdin")
    return password
