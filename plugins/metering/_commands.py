"""`llm-gateway` commands of the metering plugin:

    usage --user EMAIL [--json]                 caps, spend this period, calls and cost by model
    export-user EMAIL [--out FILE]              the user's activity as CSV (stdout without --out)
    caps show (--user EMAIL | --org SLUG | --app SLUG) [--json]
    caps set --user EMAIL --usd USD|none        weekly cap
    caps set --org SLUG [--usd USD|none] [--rollover | --no-rollover]
    caps set --app SLUG --usd USD|none
    metering set (--org SLUG | --app SLUG) [--cache-ttl SECONDS | --no-cache]
                 [--store-bodies | --no-store-bodies] [--retention-days N] [--json]

Same conventions as the core's admin commands (`gateway.cli.admin_cmds`): migrate first, one
transaction, `--json` prints one document, errors are one line on stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import admin_ops as ops
from gateway.call import Principal
from gateway.cli.admin_cmds import Handler, Output, run
from gateway.config import load_config
from gateway.settings import Settings
from plugins.metering import _admin, _export, _periods
from plugins.metering._caps import CapRule, period_of
from plugins.metering._config import MeteringConfig, MeteringSections
from plugins.metering._snapshot import load_snapshot
from plugins.metering._state import utcnow


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(subparsers, "usage", "a user's caps, spend and usage", _usage)
    p.add_argument("--user", required=True, metavar="EMAIL")
    p = subparsers.add_parser("export-user", help="a user's activity as CSV",
                              description="a user's activity as CSV")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=_export_cmd)
    caps = _group(subparsers, "caps", "spending caps of users, organizations and apps")
    _scope_args(_command(caps, "show", "where a cap stands this period", _caps_show), user=True)
    p = _command(caps, "set", "set or remove a cap (USD, or 'none')", _caps_set)
    _scope_args(p, user=True)
    p.add_argument("--usd", metavar="USD|none")
    p.add_argument("--rollover", action=argparse.BooleanOptionalAction, default=None,
                   help="organizations: unspent budget carries into the next period")
    metering = _group(subparsers, "metering", "per organization/app response cache and stored "
                                              "conversations")
    p = _command(metering, "set", "change an organization's or app's metering settings",
                 _settings_set)
    _scope_args(p, user=False)
    p.add_argument("--cache-ttl", type=int, metavar="SECONDS", help="turn the response cache on")
    p.add_argument("--no-cache", action="store_true", help="turn the response cache off")
    p.add_argument("--store-bodies", action=argparse.BooleanOptionalAction, default=None,
                   help="keep conversations for the activity export")
    p.add_argument("--retention-days", type=int, metavar="N")


def _group(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
           help: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    parser = sub.add_parser(name, help=help, description=help)
    group: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest=f"{name}_command", required=True, metavar="ACTION")
    return group


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str,
             handler: Handler) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=lambda args: run(handler, args))
    return parser


def _scope_args(parser: argparse.ArgumentParser, user: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    if user:
        group.add_argument("--user", metavar="EMAIL")
    group.add_argument("--org", metavar="SLUG")
    group.add_argument("--app", metavar="SLUG")


def _config() -> MeteringConfig:
    return load_config(Settings.from_env().config_path).sections_of(MeteringSections).metering


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# -- usage and caps ----------------------------------------------------------------------------

def _rules_for(session: Session, config: MeteringConfig, *, email: str | None = None,
               org: str | None = None, app: str | None = None) -> list[CapRule]:
    """The caps a user's calls meet (their own and their organization's), or one org's or app's."""
    bind = session.get_bind()
    snapshot = load_snapshot(bind if isinstance(bind, Engine) else bind.engine)
    if email:
        user = ops.get_user(session, email)
        who = Principal(0, "-", "-", user_id=user.id, user_email=user.email, org_id=user.org_id)
        return snapshot.rules(who, config.org_period)
    if org:
        who = Principal(0, "-", "-", org_id=ops.get_org(session, org).id)
        return [r for r in snapshot.rules(who, config.org_period) if r.scope == "org"]
    if app is None:
        raise ValueError("name a user (email), an organization or an app")
    found = ops.get_app(session, app)
    who = Principal(0, "-", "-", app_id=found.id, app_slug=found.slug, org_id=found.org_id)
    return [r for r in snapshot.rules(who, config.org_period) if r.scope == "app"]


def _status_lines(statuses: list[dict[str, Any]]) -> list[str]:
    return [f"{s['cap']}: ${s['spent_usd']:.2f} spent, ${s['reserved_usd']:.2f} in flight, "
            f"${s['remaining_usd']:.2f} left of ${s['cap_usd']:.2f}; "
            f"resets {s['resets_at']:%Y-%m-%d %H:%M} UTC" for s in statuses] or ["no cap applies"]


def _usage(session: Session, args: argparse.Namespace) -> Output:
    config, now = _config(), utcnow()
    user = ops.get_user(session, args.user)
    statuses = [_admin.cap_status(session, r, config, now)
                for r in _rules_for(session, config, email=user.email)]
    week = period_of("week", now, config.week_start)
    used = _periods.user_usage(session, user.id, week.start, now + timedelta(minutes=1), now)
    doc = {"user": user.email, "week_start": week.start, "caps": statuses, "this_week": used}
    lines = [f"{user.email}", *_status_lines(statuses),
             f"this week since {week.start:%Y-%m-%d}: {used['requests']} calls, "
             f"{used['input_tokens']} tokens in, {used['output_tokens']} out, "
             f"${used['cost_usd']:.4f}"]
    lines += [f"  {m['model'] or '-'}: {m['requests']} calls, ${m['cost_usd']:.4f}"
              for m in used["by_model"]]
    return Output(_plain(doc), "\n".join(lines))


def _caps_show(session: Session, args: argparse.Namespace) -> Output:
    config, now = _config(), utcnow()
    rules = _rules_for(session, config, email=args.user, org=args.org, app=args.app)
    statuses = [_admin.cap_status(session, r, config, now) for r in rules]
    return Output(_plain(statuses), "\n".join(_status_lines(statuses)))


def _usd_arg(value: str | None) -> str | None:
    return None if value is None or value.strip().lower() in ("none", "off", "") else value


def _caps_set(session: Session, args: argparse.Namespace) -> Output:
    if args.usd is None and args.rollover is None:
        raise ValueError("give --usd USD|none (and for organizations --rollover/--no-rollover)")
    if args.user:
        user = _admin.set_user_cap(session, args.user, _usd_arg(args.usd))
        return Output(_plain({"user": user.email, "weekly_cap_usd": user.weekly_cap_usd}),
                      f"weekly cap of {user.email}: {_show(user.weekly_cap_usd)}")
    if args.org:
        usd = _admin.UNSET if args.usd is None else _usd_arg(args.usd)
        org = _admin.set_org_cap(session, args.org, usd, args.rollover)
        return Output(_plain({"org": org.slug, "spend_cap_usd": org.spend_cap_usd,
                              "rollover": org.rollover}),
                      f"spend cap of {org.slug}: {_show(org.spend_cap_usd)}, rollover "
                      f"{'on' if org.rollover else 'off'}")
    row = _admin.set_scope_settings(session, app_slug=args.app, cap_usd=_usd_arg(args.usd))
    return Output(_plain({"app": args.app, "cap_usd": row.cap_usd}),
                  f"spend cap of app {args.app}: {_show(row.cap_usd)}")


def _show(usd: Decimal | None) -> str:
    return "none" if usd is None else f"${usd:f}"


def _settings_set(session: Session, args: argparse.Namespace) -> Output:
    changes: dict[str, Any] = {}
    if args.cache_ttl is not None and args.no_cache:
        raise ValueError("give either --cache-ttl SECONDS or --no-cache, not both")
    if args.cache_ttl is not None or args.no_cache:
        changes["cache_ttl_seconds"] = None if args.no_cache else args.cache_ttl
    if args.store_bodies is not None:
        changes["store_bodies"] = args.store_bodies
    if args.retention_days is not None:
        changes["retention_days"] = args.retention_days
    row = _admin.set_scope_settings(session, org_slug=args.org, app_slug=args.app, **changes)
    doc = {"scope": row.scope, "slug": args.org or args.app,
           "cache_ttl_seconds": row.cache_ttl_seconds, "store_bodies": row.store_bodies,
           "retention_days": row.retention_days, "cap_usd": row.cap_usd}
    text = (f"{row.scope} {args.org or args.app}: cache "
            f"{'off' if not row.cache_ttl_seconds else f'{row.cache_ttl_seconds}s'}, conversations "
            f"{'kept ' + str(row.retention_days) + ' days' if row.store_bodies else 'not kept'}")
    return Output(_plain(doc), text)


# -- export ------------------------------------------------------------------------------------

def _export_cmd(args: argparse.Namespace) -> int:
    """CSV to --out (with a one-line summary) or to stdout (nothing else printed there)."""
    def handler(session: Session, _args: argparse.Namespace) -> Output:
        user = ops.get_user(session, args.email)
        if args.out is None:
            count = _export.write_user_csv(session, user.id, sys.stdout)
            return Output({"user": user.email, "calls": count}, "")
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            count = _export.write_user_csv(session, user.id, fh)
        return Output({"user": user.email, "calls": count, "out": args.out},
                      f"wrote {count} calls of {user.email} to {args.out}")

    args.json = False
    if args.out is not None:
        return run(handler, args)
    try:
        _stdout_export(handler, args)
        return 0
    except (ValueError, LookupError) as exc:
        print(f"llm-gateway: {exc}", file=sys.stderr)
        return 1
    except (SQLAlchemyError, OSError) as exc:
        print(f"llm-gateway: database error: {getattr(exc, 'orig', None) or exc}", file=sys.stderr)
        return 1


def _stdout_export(handler: Handler, args: argparse.Namespace) -> None:
    """`run` minus its trailing text line: stdout carries the CSV alone."""
    from gateway.db.engine import make_engine, session_factory
    from gateway.db.migrate import upgrade

    url = Settings.from_env().database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            handler(session, args)
    finally:
        engine.dispose()
