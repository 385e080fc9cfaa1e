"""`llm-gateway dlp …`: switch DLP per organization or app, list and toggle rules, edit the
allow-list, grant or revoke the bypass, show the counters and recent events. Every command takes
`--json`; errors are one line on stderr with exit code 1 (the core's `admin_cmds.run` does the
migrate/commit/print part)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from gateway.cli.admin_cmds import Handler, Output, run
from plugins.dlp import admin_api as ops


class _GrantChange(Protocol):
    """`ops.grant_bypass` or `ops.revoke_bypass`."""

    def __call__(self, session: Session, *, user: str | None = None,
                 app: str | None = None) -> None: ...


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dlp", help="data loss prevention: redact sensitive values",
                                   description="data loss prevention: redact sensitive values")
    sub = parser.add_subparsers(dest="dlp_command", required=True, metavar="ACTION")
    for action, on in (("enable", True), ("disable", False)):
        p = _command(sub, action, f"{action} DLP for an organization's users or an app",
                     _switch(on))
        _scope_args(p, required=True)
    p = _command(sub, "rules", "list rules, or turn some on or off (gateway-wide without a scope)",
                 _rules)
    _scope_args(p, required=False)
    p.add_argument("--enable", action="append", default=[], metavar="RULE")
    p.add_argument("--disable", action="append", default=[], metavar="RULE")
    for action, fn in (("grant-bypass", ops.grant_bypass), ("revoke-bypass", ops.revoke_bypass)):
        p = _command(sub, action, f"{action.split('-')[0]} the right to send X-DLP-Bypass: 1",
                     _bypass(action, fn))
        owner = p.add_mutually_exclusive_group(required=True)
        owner.add_argument("--user", metavar="EMAIL")
        owner.add_argument("--app", metavar="SLUG")
    p = _command(sub, "allow", "show or edit the allow-list (values and regex patterns that are "
                 "never redacted; gateway-wide without a scope)", _allow)
    _scope_args(p, required=False)
    p.add_argument("--add", action="append", default=[], metavar="VALUE")
    p.add_argument("--remove", action="append", default=[], metavar="VALUE")
    p.add_argument("--add-pattern", action="append", default=[], metavar="REGEX")
    p.add_argument("--remove-pattern", action="append", default=[], metavar="REGEX")
    _command(sub, "status", "counters of the last 24 hours and last activity per scope", _status)
    p = _command(sub, "events", "recent DLP events (hashes of values, never values)", _events)
    p.add_argument("--limit", type=int, default=50)


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str,
             handler: Handler) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=lambda args: run(handler, args))
    return parser


def _scope_args(parser: argparse.ArgumentParser, required: bool) -> None:
    scope = parser.add_mutually_exclusive_group(required=required)
    scope.add_argument("--org", metavar="SLUG")
    scope.add_argument("--app", metavar="SLUG")


def _scope_name(args: argparse.Namespace) -> str:
    return f"organization {args.org}" if args.org else f"app {args.app}" if args.app else "gateway"


def _switch(on: bool) -> Handler:
    def handler(session: Session, args: argparse.Namespace) -> Output:
        row = ops.set_enabled(session, on, org=args.org, app=args.app)
        doc = {"scope": "org" if args.org else "app", "slug": row.slug, "dlp_enabled": on}
        return Output(doc, f"DLP {'enabled' if on else 'disabled'} for {_scope_name(args)}")
    return handler


def _rules(session: Session, args: argparse.Namespace) -> Output:
    rules = ops.set_rules(session, org=args.org, app=args.app, enable=args.enable,
                          disable=args.disable)
    rows = [(r["rule"], r["label"], "on" if r["enabled"] else "off", r["source"])
            for r in rules]
    text = f"rules for {_scope_name(args)}\n" + _table(("RULE", "LABEL", "STATE", "SET_BY"), rows)
    return Output({"scope": _scope_name(args), "rules": rules}, text)


def _allow(session: Session, args: argparse.Namespace) -> Output:
    if args.add or args.remove or args.add_pattern or args.remove_pattern:
        doc = ops.set_allowlist(session, org=args.org, app=args.app, add_values=args.add,
                                remove_values=args.remove, add_patterns=args.add_pattern,
                                remove_patterns=args.remove_pattern)
    else:
        doc = ops.get_allowlist(session, org=args.org, app=args.app)
    rows = [("value", v) for v in doc["values"]] + [("pattern", p) for p in doc["patterns"]]
    text = f"allow-list for {_scope_name(args)}\n" + _table(("KIND", "ENTRY"), rows)
    return Output({"scope": _scope_name(args), **doc}, text)


def _bypass(action: str, fn: _GrantChange) -> Handler:
    def handler(session: Session, args: argparse.Namespace) -> Output:
        fn(session, user=args.user, app=args.app)
        who = f"user {args.user}" if args.user else f"app {args.app}"
        done = "granted to" if action == "grant-bypass" else "revoked from"
        return Output({"action": action, "user": args.user, "app": args.app},
                      f"DLP bypass {done} {who}")
    return handler


def _status(session: Session, args: argparse.Namespace) -> Output:
    counts = ops.counters(session)
    activity = [_plain(a) for a in ops.last_activity(session)]
    rows = [(a["scope_kind"], a["scope_slug"] or "-", "yes" if a["protected"] else "no",
             a["last_event_at"] or "-") for a in activity]
    text = "\n".join(f"{k}: {v}" for k, v in counts.items())
    text += "\n\n" + _table(("SCOPE", "SLUG", "PROTECTED", "LAST_EVENT"), rows)
    return Output({"counters": counts, "last_activity": activity}, text)


def _events(session: Session, args: argparse.Namespace) -> Output:
    if args.limit <= 0:
        raise ValueError(f"--limit must be a positive number, got {args.limit}")
    events = [_plain(e) for e in ops.recent_events(session, args.limit)]
    rows = [(e["created_at"], e["kind"], f"{e['scope_kind']}:{e['scope_slug']}", e["rule"] or "-",
             str(e["match_count"]), e["request_id"]) for e in events]
    return Output(events, _table(("TIME", "KIND", "SCOPE", "RULE", "MATCHES", "REQUEST"), rows))


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in doc.items()}


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in [headers, *rows])
