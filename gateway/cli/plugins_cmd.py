"""`llm-gateway plugins list [--json] [--plugins-dir DIR]`: what a gateway started here loads."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plugins = sub.add_parser("plugins", help="the plugins a gateway started here loads")
    plugins_sub = plugins.add_subparsers(dest="plugins_command", required=True,
                                         metavar="COMMAND")
    listing = plugins_sub.add_parser(
        "list", help="every plugin (core, built-in, entry point, plugins folder): its source, "
                     "version and the hooks it implements")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.add_argument("--plugins-dir", metavar="DIR", default=None,
                         help="also load every *.py file in DIR (default: GATEWAY_PLUGINS_DIR)")
    listing.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from gateway.cli.run_cmds import plugin_settings
    from gateway.pluginmanager import plugin_manager

    infos = plugin_manager(plugin_settings(args).plugins_dir).infos()
    if args.json:
        print(json.dumps([info.to_json() for info in infos], indent=2))
        return 0
    for info in infos:
        version = f" {info.version}" if info.version else ""
        print(f"{info.name} ({info.kind}{version})\n  source: {info.source}")
        print(f"  hooks:  {', '.join(info.hooks) or '(none)'}")
    return 0
