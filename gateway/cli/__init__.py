"""The `llm-gateway` command. Sub-commands live in the modules of this package; plugins add more
through the `gateway_register_commands` hook. Each parser sets `func(args) -> int`."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.errors import ConfigError

if TYPE_CHECKING:
    import pluggy


def command_name() -> str:
    """How a user runs this command again from the current folder: the bare `llm-gateway` when
    that is the one on PATH, else the script installed beside this Python (with a virtualenv
    that is not activated, e.g. `.venv/bin/llm-gateway`)."""
    script = Path(sys.executable).with_name("llm-gateway")
    if not script.exists():
        return f"{sys.executable} -m gateway.cli"
    on_path = shutil.which("llm-gateway")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "llm-gateway"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def build_parser(pm: pluggy.PluginManager | None = None) -> argparse.ArgumentParser:
    from gateway.cli import admin_cmds, run_cmds
    from gateway.pluginmanager import plugin_manager

    parser = argparse.ArgumentParser(prog="llm-gateway", description="Self-hosted LLM gateway")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cmds.register(sub)
    admin_cmds.register(sub)
    (pm or plugin_manager()).hook.gateway_register_commands(subparsers=sub)
    return parser


def main(argv: list[str] | None = None, pm: pluggy.PluginManager | None = None) -> int:
    from gateway.logs import configure_logging

    configure_logging()
    parser = build_parser(pm)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"llm-gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, LookupError) as exc:
        print(f"llm-gateway: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
