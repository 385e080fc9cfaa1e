"""`llm-gateway aliases set|list|delete`: the same runner, output and error conventions as the
core's admin commands (migrate first, one transaction, `--json`, one-line errors)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from gateway.cli.admin_cmds import Handler, Output, run
from gateway.config import load_config
from gateway.settings import Settings
from plugins.routing._aliases import delete_alias, list_aliases, org_slugs, set_alias
from plugins.routing._models import ModelAlias


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_text = "manage model aliases (requested → routed model, global or per organization)"
    group = subparsers.add_parser("aliases", help=help_text, description=help_text)
    sub = group.add_subparsers(dest="aliases_command", required=True, metavar="ACTION")
    p = _command(sub, "set", "create or change an alias; the routed model must be in the catalog",
                 _set)
    p.add_argument("requested", metavar="REQUESTED")
    p.add_argument("routed", metavar="ROUTED")
    p.add_argument("--org", metavar="SLUG", help="only for this organization (beats global)")
    p = _command(sub, "list", "list aliases (with --org: that organization's and the global ones)",
                 _list)
    p.add_argument("--org", metavar="SLUG")
    p = _command(sub, "delete", "delete an alias", _delete)
    p.add_argument("requested", metavar="REQUESTED")
    p.add_argument("--org", metavar="SLUG", help="the organization's alias (default: global)")


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str,
             handler: Handler) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=lambda args: run(handler, args))
    return parser


def _set(session: Session, args: argparse.Namespace) -> Output:
    config = load_config(Settings.from_env().config_path)
    row, resolution = set_alias(session, args.requested, args.routed, config, org_slug=args.org)
    doc = {**alias_doc(row, args.org), "resolves_to": resolution.target,
           "chain": list(resolution.chain)}
    scope = f"organization {args.org}" if args.org else "everyone"
    text = f"alias {row.requested} → {row.routed} for {scope}"
    if resolution.target != row.routed:
        text += f" (resolves to {resolution.target})"
    return Output(doc, text)


def _list(session: Session, args: argparse.Namespace) -> Output:
    rows = list_aliases(session, args.org)
    slugs = org_slugs(session, (r.org_id for r in rows))
    docs = [alias_doc(r, slugs.get(r.org_id) if r.org_id is not None else None) for r in rows]
    table = [(d["requested"], d["routed"], d["org"] or "(global)") for d in docs]
    return Output(docs, _table(("REQUESTED", "ROUTED", "SCOPE"), table))


def _delete(session: Session, args: argparse.Namespace) -> Output:
    row = delete_alias(session, args.requested, org_slug=args.org)
    scope = f"organization {args.org}" if args.org else "everyone"
    return Output(alias_doc(row, args.org), f"deleted alias {row.requested} for {scope}")


def alias_doc(row: ModelAlias, org_slug: str | None) -> dict[str, Any]:
    return {"requested": row.requested, "routed": row.routed, "org": org_slug,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None}


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in [headers, *rows])
