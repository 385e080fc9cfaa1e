"""`llm-gateway mock-provider`: serve the fake upstream used by tests, the benchmark and `make run`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help = "serve a fake OpenAI/Anthropic/Ollama upstream until killed"
    parser = subparsers.add_parser("mock-provider", help=help, description=help)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9999, help="port to bind (default 9999)")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    # Imported here so other commands never pay for aiohttp.
    from gateway.mock_provider import run

    run(args.host, args.port)
    return 0
