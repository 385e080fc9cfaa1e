"""`llm-gateway fallbacks | settings | credentials` (registered through gateway_register_commands).

Same conventions as the core's admin commands (`gateway.cli.admin_cmds.run`): migrate first, one
committed transaction, `--json` for one JSON document, errors as one line on stderr with exit
code 1 (2 for a configuration error such as a wrong master key). API keys are read from stdin,
never from the command line (it would land in shell history and `ps`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gateway.cli.admin_cmds import Output, run
from gateway.config import PROVIDER_KINDS, load_config
from gateway.settings import Settings
from plugins.fallback import _credentials as creds
from plugins.fallback import _crypto
from plugins.fallback import _ops as ops
from plugins.fallback._models import FallbackChain

Handler = Callable[[Session, argparse.Namespace], Output]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_fallbacks(_group(subparsers, "fallbacks", "manage fallback chains"))
    _register_settings(_group(subparsers, "settings", "gateway settings (routing strategy, …)"))
    _register_credentials(_group(subparsers, "credentials",
                                 "provider credentials, stored encrypted in the database"))


def _group(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
           help: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    parser = subparsers.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str, handler: Handler,
             func: Callable[[argparse.Namespace], int] | None = None) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=func or (lambda args: run(handler, args)))
    return parser


def _register_fallbacks(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "set", "set the fallback chain of a primary model (replaces it)", _chain_set)
    p.add_argument("primary", metavar="PRIMARY")
    p.add_argument("models", metavar="MODEL", nargs="+", help="fallback models, in order")
    p.add_argument("--org", metavar="SLUG", help="only for this organization (beats the global chain)")
    _command(sub, "list", "list fallback chains", _chain_list)
    p = _command(sub, "delete", "delete the fallback chain of a primary model", _chain_delete)
    p.add_argument("primary", metavar="PRIMARY")
    p.add_argument("--org", metavar="SLUG")


def _register_settings(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "set", "change a setting; running gateways apply it within a second",
                 _settings_set)
    p.add_argument("key", metavar="KEY", choices=list(ops.SETTINGS))
    p.add_argument("value", metavar="VALUE")
    _command(sub, "list", "list settings", _settings_list)


def _register_credentials(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "set", "store a provider's API key and connection settings", _cred_set)
    p.add_argument("provider", metavar="PROVIDER")
    p.add_argument("--base-url", metavar="URL")
    p.add_argument("--kind", choices=PROVIDER_KINDS)
    p.add_argument("--organization", metavar="ORG", help="OpenAI organization ('' clears it)")
    p.add_argument("--api-version", metavar="V", help="API version header ('' clears it)")
    p.add_argument("--api-key-stdin", action="store_true", help="read the API key from stdin")
    p.add_argument("--allow-private", action="store_true",
                   help="accept a private or loopback base URL (e.g. Ollama on the LAN)")
    _command(sub, "list", "list stored credentials (keys show their last 4 characters)", _cred_list)
    p = _command(sub, "delete", "delete a provider's stored credentials", _cred_delete)
    p.add_argument("provider", metavar="PROVIDER")
    p = _command(sub, "rotate-key", "re-encrypt every credential with a new master key",
                 _rotate, func=_rotate_command)
    p.add_argument("--new-key-stdin", action="store_true",
                   help="read the new key (64 hex digits or base64) from stdin; default: generate")


# --- fallbacks --------------------------------------------------------------------------------

def _chain_doc(row: FallbackChain, org: str | None) -> dict[str, Any]:
    return {"primary": row.primary_model, "models": list(row.models), "org": org}


def _chain_set(session: Session, args: argparse.Namespace) -> Output:
    config = load_config(Settings.from_env().config_path)
    row = ops.set_chain(session, args.primary, args.models, org_slug=args.org, config=config)
    scope = f"organization {args.org}" if args.org else "everyone"
    return Output(_chain_doc(row, args.org),
                  f"fallback chain for {row.primary_model} ({scope}): {' → '.join(row.models)}")


def _chain_list(session: Session, args: argparse.Namespace) -> Output:
    rows = ops.list_chains(session)
    table = [(org or "(global)", row.primary_model, " → ".join(row.models)) for row, org in rows]
    return Output([_chain_doc(row, org) for row, org in rows],
                  _table(("ORG", "PRIMARY", "FALLBACKS"), table))


def _chain_delete(session: Session, args: argparse.Namespace) -> Output:
    row = ops.delete_chain(session, args.primary, org_slug=args.org)
    return Output(_chain_doc(row, args.org), f"deleted the fallback chain for {row.primary_model}")


# --- settings ---------------------------------------------------------------------------------

def _settings_set(session: Session, args: argparse.Namespace) -> Output:
    row = ops.set_setting(session, args.key, args.value)
    return Output({"key": row.key, "value": row.value}, f"{row.key} = {_show(row.value)}")


def _settings_list(session: Session, args: argparse.Namespace) -> Output:
    values = ops.get_settings(session)
    return Output(values, _table(("KEY", "VALUE"), [(k, _show(v)) for k, v in values.items()]))


def _show(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# --- credentials ------------------------------------------------------------------------------

def _cred_doc(cred: creds.Credential) -> dict[str, Any]:
    return {"provider": cred.provider, "kind": cred.kind, "base_url": cred.base_url,
            "api_key": cred.masked_key(), "organization": cred.organization,
            "api_version": cred.api_version, "key_version": cred.key_version}


def _cred_set(session: Session, args: argparse.Namespace) -> Output:
    settings = Settings.from_env()
    api_key = _read_line("--api-key-stdin: no API key on stdin") if args.api_key_stdin else None
    cred = creds.set_credential(
        session, settings.secret_key(), args.provider, kind=args.kind, base_url=args.base_url,
        api_key=api_key, organization=args.organization, api_version=args.api_version,
        allow_private=args.allow_private,
        configured=load_config(settings.config_path).provider_names())
    return Output(_cred_doc(cred), f"stored credentials for provider {cred.provider} "
                                   f"(API key {cred.masked_key() or 'none'})")


def _cred_list(session: Session, args: argparse.Namespace) -> Output:
    found = creds.list_credentials(session, Settings.from_env().secret_key())
    rows = [(c.provider, c.kind or "-", c.base_url or "-", c.masked_key() or "-",
             c.organization or "-", c.api_version or "-", str(c.key_version)) for c in found]
    return Output([_cred_doc(c) for c in found], _table(
        ("PROVIDER", "KIND", "BASE_URL", "API_KEY", "ORGANIZATION", "API_VERSION", "KEY_VERSION"),
        rows))


def _cred_delete(session: Session, args: argparse.Namespace) -> Output:
    row = creds.delete_credential(session, args.provider)
    return Output({"provider": row.provider}, f"deleted stored credentials of {row.provider}")


def _rotate(session: Session, args: argparse.Namespace) -> Output:
    """Re-seal every row. When the master key lives in data/secret.key, the new key is written
    beside it first and moved over it only after the commit (see `_rotate_command`); when it
    comes from GATEWAY_SECRET_KEY the operator must update the variable, so a generated key is
    printed once, alone on the last line."""
    settings = Settings.from_env()
    old_key = settings.secret_key()
    new_key = (_crypto.parse_key(_read_line("--new-key-stdin: no key on stdin"), "the new key")
               if args.new_key_stdin else _crypto.generate_key())
    version, count = creds.rotate_key(session, old_key, new_key)
    doc: dict[str, Any] = {"key_version": version, "rows": count, "key_file": None}
    if settings.secret_key_env is None:
        key_file = settings.data_dir / "secret.key"
        args.pending_key_file = (_write_private(key_file.with_name("secret.key.new"), new_key),
                                 key_file)
        doc["key_file"] = str(key_file)
        text = (f"re-encrypted {count} credential(s) with key version {version}; {key_file} now "
                f"holds the new key: restart every gateway process")
        return Output(doc, text)
    text = (f"re-encrypted {count} credential(s) with key version {version}; set "
            f"GATEWAY_SECRET_KEY to the new key and restart every gateway process")
    if args.new_key_stdin:
        return Output(doc, text)
    doc["key"] = _crypto.format_key(new_key)
    return Output(doc, text + " (the new key is on the next line; it is shown once)",
                  last_line=doc["key"])


def _rotate_command(args: argparse.Namespace) -> int:
    args.pending_key_file = None
    code = run(_rotate, args)
    pending = args.pending_key_file
    if pending is not None:
        new_file, key_file = pending
        if code == 0:
            os.replace(new_file, key_file)  # atomic: a starting process sees old or new, whole
        else:
            new_file.unlink(missing_ok=True)
    return code


def _write_private(path: Path, key: bytes) -> Path:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(_crypto.format_key(key) + "\n")
    return path


def _read_line(missing: str) -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line.strip():
        raise ValueError(missing)
    return line


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in (headers, *rows))
