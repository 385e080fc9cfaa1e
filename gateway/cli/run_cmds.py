"""`llm-gateway up | proxy | admin | mock-provider`: running the services."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.host import PluginHost
    from gateway.intercept import InterceptConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser("up", help="run the proxy and the admin site")
    _listen_args(up, 8080)
    up.add_argument("--admin-port", type=int, default=8081, help="admin site port (default 8081)")
    up.add_argument("--admin-host", default="127.0.0.1",
                    help="admin site address (default 127.0.0.1)")
    up.add_argument("--mock-if-unconfigured", action="store_true",
                    help="start the bundled mock provider when no provider key is configured")
    up.add_argument("--mock-port", type=int, default=9999,
                    help="port of that mock provider (default 9999)")
    up.set_defaults(func=cmd_up)

    proxy = sub.add_parser("proxy", help="run the proxy alone")
    _listen_args(proxy, 8080)
    proxy.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    proxy.set_defaults(func=cmd_proxy)

    admin = sub.add_parser("admin", help="run the admin site alone")
    admin.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    admin.add_argument("--port", type=int, default=8081, help="port to bind (default 8081)")
    _plugins_dir_arg(admin)
    admin.set_defaults(func=cmd_admin)

    from gateway.cli import mock_cmd, plugins_cmd
    mock_cmd.register(sub)
    plugins_cmd.register(sub)

    ca = sub.add_parser("ca", help="the interception CA")
    ca_sub = ca.add_subparsers(dest="ca_command", required=True, metavar="COMMAND")
    path = ca_sub.add_parser("path", help="print the CA certificate's path (PEM), creating the "
                                          "CA on first use; the path is alone on the last line")
    path.set_defaults(func=cmd_ca_path)


def _listen_args(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="proxy address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=port, help=f"proxy port (default {port})")
    parser.add_argument("--workers", type=int, default=1,
                        help="proxy processes sharing the port (default 1)")
    parser.add_argument("--intercept-port", type=int, default=None,
                        help="also serve a forward proxy (HTTPS_PROXY) on this port that "
                             "intercepts calls to the provider hosts")
    parser.add_argument("--intercept-only", action="store_true",
                        help="the forward proxy refuses hosts that are not providers instead of "
                             "tunnelling them")
    parser.add_argument("--intercept-allow", action="append", default=[], metavar="CIDR",
                        help="client addresses allowed to use the forward proxy (repeatable; "
                             "default: any)")
    _plugins_dir_arg(parser)


def _plugins_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugins-dir", metavar="DIR", default=None,
                        help="load every *.py file in DIR as a plugin (default: "
                             "GATEWAY_PLUGINS_DIR)")


def plugin_settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with --plugins-dir over GATEWAY_PLUGINS_DIR."""
    settings = Settings.from_env()
    if getattr(args, "plugins_dir", None):
        settings = dataclasses.replace(settings, plugins_dir=Path(args.plugins_dir).resolve())
    return settings


def _plugins_argv(settings: Settings) -> list[str]:
    return ["--plugins-dir", str(settings.plugins_dir)] if settings.plugins_dir else []


def _intercept_argv(args: argparse.Namespace) -> list[str]:
    if args.intercept_port is None:
        return []
    argv = ["--intercept-port", str(args.intercept_port)]
    argv += ["--intercept-only"] if args.intercept_only else []
    for cidr in args.intercept_allow:
        argv += ["--intercept-allow", cidr]
    return argv


def _intercept_config(args: argparse.Namespace, ctx: PluginHost) -> InterceptConfig | None:
    if args.intercept_port is None:
        return None
    import ipaddress

    from gateway.intercept import InterceptConfig, configured_hosts

    allow = tuple(ipaddress.ip_network(c, strict=False) for c in args.intercept_allow)
    return InterceptConfig(port=args.intercept_port,
                           hosts=configured_hosts(ctx.config.section("intercept")),
                           only=args.intercept_only, allow=allow)


def port_problem(host: str, port: int, what: str, flag: str) -> str | None:
    """Why `what` could not listen on host:port (one line naming the flag to change), or None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {host!r} for the {what}: {exc.strerror}"
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return _bind_error(exc, host, port, what, flag)
    return None


_BIND_ERRNOS = (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL)


def _bind_error(exc: OSError, host: str, port: int, what: str, flag: str) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} on {host} is already in use, so the {what} cannot start; stop what "
                f"listens there or choose another port with {flag}")
    return f"cannot listen on {host}:{port} for the {what} ({flag}): {exc.strerror or exc}"


def _first_problem(*checks: tuple[str, int, str, str]) -> int | None:
    """Print the first busy or unusable address as one line on stderr; 1 when there was one."""
    for check in checks:
        problem = port_problem(*check)
        if problem:
            print(f"llm-gateway: {problem}", file=sys.stderr, flush=True)
            return 1
    return None


def cmd_proxy(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    checks = [(args.host, args.port, "proxy", "--port")]
    if args.intercept_port is not None:
        checks.append((args.host, args.intercept_port, "interception proxy", "--intercept-port"))
    if not args.reuse_port and _first_problem(*checks):
        return 1
    from gateway.mitm_imports import skip_default_addons

    skip_default_addons()  # before mitmproxy loads: its 31 default addons cost ~16 MB per worker
    from gateway.context import open_context
    from gateway.pluginmanager import Hooks, plugin_manager
    from gateway.server import serve_forever

    settings = plugin_settings(args)
    pm = plugin_manager(settings.plugins_dir)  # a broken plugin file stops us before any worker
    if _bad_config(settings):
        return 1
    if args.workers > 1:
        return _supervise([_self_cmd("proxy", "--host", args.host, "--port", str(args.port),
                                     "--reuse-port", *_intercept_argv(args),
                                     *_plugins_argv(settings))
                           for _ in range(args.workers)])
    ctx = open_context(settings, Hooks(pm))

    intercept = _intercept_config(args, ctx)

    def ready(port: int) -> None:
        print(f"llm-gateway proxy listening on http://{args.host}:{port} (pid {os.getpid()})",
              flush=True)
        if intercept is not None:
            print(f"llm-gateway interception proxy listening on http://{args.host}:"
                  f"{intercept.port} (HTTPS_PROXY)", flush=True)

    return _serve(lambda: asyncio.run(serve_forever(ctx, args.host, args.port, args.reuse_port,
                                                    ready, intercept)),
                  args.host, args.port, "proxy")


def _bad_config(settings: Settings) -> bool:
    """An invalid model_config.yaml is one line naming the key at fault, before anything runs."""
    from gateway.config import config_problem
    from gateway.pluginmanager import Hooks, plugin_manager

    problem = config_problem(settings.config_path,
                             Hooks(plugin_manager(settings.plugins_dir)).config_schemas())
    if problem:
        print(f"llm-gateway: {problem}", file=sys.stderr)
    return problem is not None


def cmd_ca_path(args: argparse.Namespace) -> int:
    from gateway.intercept import ca_fingerprint, ensure_ca

    cert = ensure_ca(Settings.from_env().ensure_data_dir())
    print(f"SHA-256 fingerprint {ca_fingerprint(cert)}")
    print(cert)
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    from admin_web import serve

    if _first_problem((args.host, args.port, "admin site", "--port")):
        return 1
    if _bad_config(plugin_settings(args)):
        return 1
    return _serve(lambda: serve(plugin_settings(args), args.host, args.port),
                  args.host, args.port, "admin site")


def _serve(run: Callable[[], object], host: str, port: int, what: str) -> int:
    """Run a server; a port lost to someone else after the check at start is one line, exit 1."""
    try:
        run()
    except OSError as exc:
        if exc.errno not in _BIND_ERRNOS:
            raise
        print(f"llm-gateway: {_bind_error(exc, host, port, what, '--port')}", file=sys.stderr)
        return 1
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from gateway.bootstrap import bootstrap, first_key, print_welcome

    children: list[list[str]] = []
    use_mock = args.mock_if_unconfigured and not (os.environ.get("OPENAI_API_KEY")
                                                  or os.environ.get("ANTHROPIC_API_KEY"))
    checks = [(args.host, args.port, "proxy", "--port"),
              (args.admin_host, args.admin_port, "admin site", "--admin-port")]
    if args.intercept_port is not None:
        checks.append((args.host, args.intercept_port, "interception proxy", "--intercept-port"))
    if use_mock:
        checks.append(("127.0.0.1", args.mock_port, "mock provider", "--mock-port"))
    if _first_problem(*checks):
        return 1
    from gateway.pluginmanager import plugin_manager

    plugin_manager(plugin_settings(args).plugins_dir)  # a broken plugin file starts nothing
    if _bad_config(plugin_settings(args)):
        return 1
    if use_mock:
        mock = f"http://127.0.0.1:{args.mock_port}"
        os.environ.update(OPENAI_BASE_URL=mock + "/v1", OPENAI_API_KEY="sk-mock",
                          ANTHROPIC_BASE_URL=mock, ANTHROPIC_API_KEY="sk-ant-mock",
                          OLLAMA_BASE_URL=mock)
        children.append(_self_cmd("mock-provider", "--port", str(args.mock_port)))
        print(f"No OPENAI_API_KEY or ANTHROPIC_API_KEY set: answering with the bundled mock "
              f"provider on {mock} (it echoes your prompt).", flush=True)
    settings = plugin_settings(args)
    password = bootstrap(settings)
    children.append(_self_cmd("admin", "--host", args.admin_host, "--port", str(args.admin_port),
                              *_plugins_argv(settings)))
    reuse = ["--reuse-port"] if args.workers > 1 else []
    children += [_self_cmd("proxy", "--host", args.host, "--port", str(args.port), *reuse,
                           *_intercept_argv(args), *_plugins_argv(settings))
                 for _ in range(args.workers)]
    print_welcome(settings, args, password, first_key(settings) if password else None)
    return _supervise(children)


def _self_cmd(*argv: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *argv]


def _supervise(argvs: list[list[str]]) -> int:
    """Run children until one exits or we are told to stop; then stop them all."""
    procs = [subprocess.Popen(argv) for argv in argvs]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while not stopping:
        done = [p for p in procs if p.poll() is not None]
        if done:
            code = done[0].returncode or 1
            break
        time.sleep(0.2)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 40
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
    return 0 if stopping else code
