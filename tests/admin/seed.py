"""A seeded database for the admin site's tests: two organizations, users of every role, apps,
keys, a few hundred calls (request logs, rollups and keys' last use, written by the metering
plugin's own sink), error reports, DLP events, aliases, fallback chains, credentials, features,
and a model_config.yaml with agents."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from admin_web import features
from gateway import admin_ops
from gateway.config import load_config
from gateway.db.engine import make_engine, session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import User
from gateway.settings import Settings
from plugins.dlp._models import DlpEvent
from plugins.fallback import _credentials, _ops
from plugins.metering._models import ErrorReport
from plugins.metering._records import LogRecord
from plugins.metering._sink import Sink
from plugins.routing import admin_api as routing

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
AGENTS = """
agents:
  - id: planner
    name: Planner
    role: coder
    overrides: {heavy: anthropic/claude-opus-4-1}
    subagents:
      - id: researcher
        name: Researcher
        overrides: {normal: ollama/llama3.2}
  - id: reviewer
    name: Reviewer <QA>
    role: assistant
"""
OPENAI_KEY = "sk-proj-SEEDEDSECRETVALUE-7788"
MODELS = (("openai/gpt-4o-mini", "openai", "gpt-4o-mini"),
          ("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
          ("openai/gpt-4.1", "openai", "fast"))  # "fast" is an alias


@dataclass
class Seeded:
    url: str
    settings: Settings
    ids: dict[str, int] = field(default_factory=dict)
    calls: int = 0


def write_config(path: Path) -> Path:
    shipped = (ROOT / "model_config.yaml").read_text()
    path.write_text(shipped.replace("\nagents: []\n", AGENTS))
    return path


def settings_for(url: str, directory: Path, **env: str) -> Settings:
    config = write_config(directory / "model_config.yaml")
    return Settings.from_env({"GATEWAY_DATA_DIR": str(directory / "data"),
                              "GATEWAY_DATABASE_URL": url, "GATEWAY_CONFIG": str(config),
                              "OLLAMA_BASE_URL": env.pop("OLLAMA_BASE_URL",
                                                         "http://127.0.0.1:9"), **env})


def seed(url: str, directory: Path, calls: int = 240, **env: str) -> Seeded:
    upgrade(url)
    settings = settings_for(url, directory, **env)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            seeded = Seeded(url, settings)
            _people(session, seeded)
            _routing(session, settings)
            features.set_feature(session, "long-context", "Long context", "Bigger windows",
                                 "opt_in")
            features.set_feature(session, "beta-ui", "Beta UI", "", "on")
            session.commit()
        seeded.calls = _calls(engine, seeded.ids, calls)
        with engine.begin() as conn:
            _reports_and_events(conn, seeded.ids)
    finally:
        engine.dispose()
    return seeded


def _people(session, seeded: Seeded) -> None:
    ops, ids = admin_ops, seeded.ids
    acme = ops.create_org(session, "acme", "Acme <Corp>", spend_cap_usd="500", dlp_enabled=True)
    globex = ops.create_org(session, "globex", "Globex", rollover=True)
    people = [("root@example.com", "Root Admin", None, "super_admin", None),
              ("boss@acme.test", "Boss of Acme", "acme", "org_admin", None),
              ("dev@acme.test", "Dev <script>x</script>", "acme", "member", "25"),
              ("tgt@acme.test", "Target Member", "acme", "member", None),
              ("gboss@globex.test", "Boss of Globex", "globex", "org_admin", None),
              ("eve@globex.test", "Eve Globex", "globex", "member", "10")]
    for email, name, org, role, cap in people:
        user = ops.create_user(session, email, name, org_slug=org, role=role,
                               weekly_cap_usd=cap, password=PASSWORD)
        ids[email] = user.id
    acme.owner = session.get(User, ids["boss@acme.test"])
    ids["acme"], ids["globex"] = acme.id, globex.id
    bot = ops.create_app(session, "bot", "Support Bot", org_slug="acme",
                         contact_email="ops@acme.test", dlp_enabled=True)
    gx = ops.create_app(session, "gx-app", "Globex App", org_slug="globex")
    ids["bot"], ids["gx-app"] = bot.id, gx.id
    ops.create_key(session, user_email="dev@acme.test", name="laptop")
    ops.create_key(session, user_email="eve@globex.test", name="eve-key")
    ops.create_key(session, app_slug="bot", name="prod")
    ops.create_key(session, app_slug="gx-app", name="gx")


def _routing(session, settings: Settings) -> None:
    config = load_config(settings.config_path)
    routing.set_alias(session, "fast", "openai/gpt-4.1-mini", config)
    routing.set_alias(session, "fast", "openai/gpt-4o-mini", config, org_slug="acme")
    routing.set_alias(session, "gx-smart", "anthropic/claude-sonnet-4-5", config,
                      org_slug="globex")
    _ops.set_chain(session, "openai/gpt-4o", ["anthropic/claude-sonnet-4-5", "openai/gpt-4.1"])
    _ops.set_setting(session, _ops.ROUTING_STRATEGY, "lowest-cost")
    _credentials.set_credential(session, settings.secret_key(), "openai", api_key=OPENAI_KEY)


def _calls(engine, ids: dict[str, int], count: int) -> int:
    """Calls over the last six days, twelve in the last hour; written as the gateway writes
    them (one batch through the metering sink: log rows, rollups, keys' last use)."""
    rnd = random.Random(7)
    now = datetime.now(UTC)
    owners = [(ids["dev@acme.test"], ids["acme"], None, "sk-gw-devlaptp", "laptop"),
              (ids["eve@globex.test"], ids["globex"], None, "sk-gw-eveeveev", "eve-key"),
              (None, ids["acme"], ids["bot"], "sk-gw-botbotbo", "prod"),
              (ids["boss@acme.test"], ids["acme"], None, "sk-gw-bossboss", "cli")]
    rows = []
    for i in range(count):
        user_id, org_id, app_id, prefix, key_name = owners[i % len(owners)]
        actual, provider, requested = MODELS[i % len(MODELS)]
        age = timedelta(minutes=rnd.randint(1, 50)) if i < 12 else \
            timedelta(minutes=rnd.randint(70, 6 * 24 * 60))
        status = 502 if i % 40 == 5 else 200
        rows.append({
            "request_id": f"req-{i:04d}", "created_at": now - age, "key_prefix": prefix,
            "key_name": key_name, "user_id": user_id, "app_id": app_id, "org_id": org_id,
            "endpoint": "/v1/chat/completions", "requested_model": requested,
            "actual_model": actual, "provider": provider, "agent_id": None, "cost_mode": None,
            "status": status, "error_type": "upstream_error" if status >= 400 else None,
            "input_tokens": 100 + i, "output_tokens": 50 + i, "cached_tokens": 0,
            "cache_write_tokens": 0, "usage_estimated": False,
            "cost_usd": Decimal("0.00125") * (1 + i % 5), "latency_ms": 200 + i,
            "ttfb_ms": 90, "cache_hit": i % 17 == 0, "fallback_attempts": int(i % 40 == 6)})
    Sink(engine, lambda: now).write([LogRecord(row) for row in rows])
    return len(rows)


def _reports_and_events(conn, ids: dict[str, int]) -> None:
    now = datetime.now(UTC)
    conn.execute(insert(ErrorReport.__table__), [
        {"created_at": now - timedelta(minutes=5), "source": "provider", "type": "upstream_error",
         "model": "openai/gpt-4o", "error": "HTTP 503 from openai <overloaded>", "agent": None,
         "version": None, "status": 503, "user_id": ids["dev@acme.test"], "app_id": None,
         "org_id": ids["acme"], "key_prefix": "sk-gw-devlaptp", "request_id": "req-0005"},
        {"created_at": now - timedelta(minutes=9), "source": "client", "type": "tool_crash",
         "model": "anthropic/claude-sonnet-4-5", "error": "editor plugin crashed",
         "agent": "planner", "version": "1.4.2", "status": None,
         "user_id": ids["eve@globex.test"], "app_id": None, "org_id": ids["globex"],
         "key_prefix": "sk-gw-eveeveev", "request_id": None}])
    conn.execute(insert(DlpEvent.__table__), [
        {"created_at": now - timedelta(minutes=3), "kind": "redaction", "scope_kind": "org",
         "scope_id": ids["acme"], "scope_slug": "acme", "org_id": ids["acme"], "rule": "email",
         "match_count": 2, "request_size": 1234, "request_id": "req-0001",
         "key_prefix": "sk-gw-devlaptp", "value_hashes": ["h1", "h2"]},
        {"created_at": now - timedelta(minutes=4), "kind": "bypass", "scope_kind": "app",
         "scope_id": ids["bot"], "scope_slug": "bot", "org_id": ids["acme"], "rule": None,
         "match_count": 0, "request_size": 88, "request_id": "req-0002",
         "key_prefix": "sk-gw-botbotbo", "value_hashes": []}])
