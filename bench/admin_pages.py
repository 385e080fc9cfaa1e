"""How fast the admin's dashboard and logs pages answer on a large database:

    .venv/bin/python bench/admin_pages.py [--rows 1000000] [--repeat 15] [--keep DIR]

Seeds a fresh SQLite database with `--rows` request-log rows spread over the last 30 days (200
users in 5 organizations, 20 apps, 8 models at 3 providers, ~2% errors), bulk-inserted with
executemany, and the metering rollups computed from them in SQL (minute rows for 3 days, hour rows
for 100 days, day rows: what the metering plugin keeps). Then it times, in-process through the
Flask test client (server time: routing, queries, templates; no network), each page `--repeat`
times after one warm-up, as a super admin and as an org admin (whose pages are filtered to one
organization), and with the dashboard's cache of whole-day sums switched off (the first visit of
a minute). Writes bench/results/admin_pages.{json,md}. Target: under 300 ms each.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session  # noqa: E402

from admin_web import create_app  # noqa: E402
from admin_web.db import database  # noqa: E402
from gateway import admin_ops  # noqa: E402
from gateway.db.engine import make_engine  # noqa: E402
from gateway.db.migrate import upgrade  # noqa: E402
from gateway.settings import Settings  # noqa: E402

TARGET_MS = 300.0
PASSWORD = "benchmark-password-1"
MODELS = [("openai/gpt-4o-mini", "openai", 0.15, 0.60), ("openai/gpt-4.1", "openai", 2.0, 8.0),
          ("openai/gpt-5-mini", "openai", 0.25, 2.0), ("openai/o4-mini", "openai", 1.1, 4.4),
          ("anthropic/claude-sonnet-4-5", "anthropic", 3.0, 15.0),
          ("anthropic/claude-haiku-4-5", "anthropic", 1.0, 5.0),
          ("anthropic/claude-opus-4-5", "anthropic", 5.0, 25.0),
          ("ollama/llama3.2", "ollama", 0, 0)]
RARE_MODEL = "openai/o3"  # one call in a thousand: the worst case of a model filter
SQL_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores datetimes on SQLite
LOG_COLUMNS = ("request_id", "created_at", "key_prefix", "key_name", "user_id", "app_id",
               "org_id", "endpoint", "requested_model", "actual_model", "provider", "agent_id",
               "cost_mode", "status", "error_type", "input_tokens", "output_tokens",
               "cached_tokens", "cache_write_tokens", "usage_estimated", "cost_usd",
               "latency_ms", "ttfb_ms", "cache_hit", "fallback_attempts")
BUCKETS = {"minute": ("%Y-%m-%d %H:%M:00.000000", timedelta(days=3)),
           "hour": ("%Y-%m-%d %H:00:00.000000", timedelta(days=100)),
           "day": ("%Y-%m-%d 00:00:00.000000", None)}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--keep", type=Path, help="build the database in DIR and keep it")
    p.add_argument("--reuse", action="store_true",
                   help="with --keep: time the database already built there")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    if args.rows < 1000 or args.repeat < 1:
        p.error("--rows must be at least 1000 and --repeat at least 1")
    if args.reuse and not (args.keep and (args.keep / "gateway.db").exists()):
        p.error("--reuse needs --keep DIR holding a database built by an earlier run")
    return args


def seed_people(session: Session) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {"orgs": [], "users": [], "apps": []}
    for o in range(5):
        ids["orgs"].append(admin_ops.create_org(session, f"org{o}", f"Organization {o}").id)
    admin_ops.create_user(session, "root@bench.test", "Root", role="super_admin",
                          password=PASSWORD)
    admin_ops.create_user(session, "admin@org0.test", "Org Admin", org_slug="org0",
                          role="org_admin", password=PASSWORD)
    for u in range(200):
        user = admin_ops.create_user(session, f"user{u}@org{u % 5}.test", f"User {u}",
                                     org_slug=f"org{u % 5}")
        ids["users"].append(user.id)
    for a in range(20):
        ids["apps"].append(admin_ops.create_app(session, f"app{a}", f"App {a}",
                                                org_slug=f"org{a % 5}").id)
    session.commit()
    return ids


def log_rows(count: int, ids: dict[str, list[int]], now: datetime):
    """Rows as tuples in LOG_COLUMNS order, oldest first (as a gateway appends them)."""
    rnd = random.Random(42)
    span = 30 * 24 * 3600
    offsets = sorted(rnd.random() * span for _ in range(count))
    for i, offset in enumerate(offsets):
        when = now - timedelta(seconds=span - offset)
        if rnd.random() < 0.1:
            app = rnd.randrange(20)
            user_id, app_id, org_id = None, ids["apps"][app], ids["orgs"][app % 5]
        else:
            u = rnd.randrange(200)
            user_id, app_id, org_id = ids["users"][u], None, ids["orgs"][u % 5]
        model, provider, price_in, price_out = MODELS[rnd.randrange(len(MODELS))]
        if rnd.random() < 0.001:
            model = RARE_MODEL
        status = 200 if rnd.random() > 0.02 else rnd.choice((429, 500, 502, 503))
        tokens_in, tokens_out = rnd.randint(50, 6000), rnd.randint(10, 1500)
        cost = (tokens_in * price_in + tokens_out * price_out) / 1e6 if status < 400 else 0.0
        yield (f"req-{i:08d}", when.strftime(SQL_TIME), "sk-gw-" + f"{(user_id or app_id):08d}",
               "default", user_id, app_id, org_id, "/v1/chat/completions",
               model.split("/", 1)[1], model, provider, None, None, status,
               "upstream_error" if status >= 400 else None, tokens_in, tokens_out, 0, 0, 0,
               round(cost, 8), rnd.randint(150, 4000), 80, int(rnd.random() < 0.05), 0)


def bulk_insert(engine, rows, batch: int = 50_000) -> None:
    sql = (f"INSERT INTO request_logs ({', '.join(LOG_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(LOG_COLUMNS))})")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        chunk = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == batch:
                cursor.executemany(sql, chunk)
                chunk = []
        if chunk:
            cursor.executemany(sql, chunk)
        raw.commit()
    finally:
        raw.close()


def build_rollups(engine, now: datetime) -> dict[str, int]:
    """The rollups the metering plugin would hold for these rows, computed in one statement
    per grain."""
    counts = {}
    with engine.begin() as conn:
        for grain, (fmt, keep) in BUCKETS.items():
            since = (now - keep).strftime(SQL_TIME) if keep else "0000"
            result = conn.exec_driver_sql(f"""
                INSERT INTO metering_rollups (grain, bucket, user_id, org_id, app_id,
                    requested_model, model, provider, requests, errors, cache_hits, input_tokens,
                    output_tokens, cached_tokens, cost_usd, latency_ms_sum)
                SELECT '{grain}', strftime('{fmt}', created_at), coalesce(user_id, 0),
                    coalesce(org_id, 0), coalesce(app_id, 0), coalesce(requested_model, ''),
                    coalesce(actual_model, ''), coalesce(provider, ''), count(*),
                    sum(status >= 400 AND status != 499), sum(cache_hit), sum(input_tokens),
                    sum(output_tokens), sum(cached_tokens), sum(cost_usd), sum(latency_ms)
                FROM request_logs WHERE created_at >= ?
                GROUP BY 2, 3, 4, 5, 6, 7, 8""", (since,))
            counts[grain] = result.rowcount
    return counts


def settings_for(directory: Path) -> Settings:
    return Settings.from_env({"GATEWAY_DATA_DIR": str(directory),
                              "GATEWAY_DATABASE_URL": f"sqlite:///{directory / 'gateway.db'}",
                              "GATEWAY_CONFIG": str(ROOT / "model_config.yaml")})


def build(directory: Path, rows: int) -> tuple[Settings, dict]:
    settings = settings_for(directory)
    url = settings.database_url
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    info: dict = {"rows": rows}
    with Session(engine) as session:
        ids = seed_people(session)
    started = time.perf_counter()
    bulk_insert(engine, log_rows(rows, ids, now))
    info["insert_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    info["rollup_rows"] = build_rollups(engine, now)
    info["rollup_s"] = round(time.perf_counter() - started, 1)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        info["user"] = conn.exec_driver_sql(
            "SELECT email FROM users WHERE id = ?", (ids["users"][7],)).scalar()
    engine.dispose()
    (directory / "bench-info.json").write_text(json.dumps(info))
    return settings, info


def signed_in(app, email: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"email": email, "password": PASSWORD,
                                         "csrf_token": token})
    assert answer.status_code == 302, "sign-in failed"
    return client


def deep_logs_url(client, pages: int) -> str:
    """The logs URL `pages` pages into the history (following the Older links)."""
    url = "/logs/"
    for _ in range(pages):
        html = client.get(url).get_data(as_text=True)
        url = re.search(r'href="([^"]+)">Older', html).group(1).replace("&amp;", "&")
    return url


def timed(client, url: str, repeat: int) -> dict:
    assert client.get(url).status_code == 200, url  # warm-up (and a check)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    times.sort()
    return {"url": url, "median_ms": round(statistics.median(times), 1),
            "p90_ms": round(times[int(0.9 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1)}


def cases(user_email: str, deep: str, depth: int) -> list[tuple[str, str, str]]:
    return [
        ("super", "dashboard (24h, default)", "/dashboard/"),
        ("super", "dashboard 7d", "/dashboard/?period=7d"),
        ("cold", "dashboard 7d, day cache off", "/dashboard/?period=7d"),
        ("super", "dashboard 30d", "/dashboard/?period=30d"),
        ("cold", "dashboard 30d, day cache off", "/dashboard/?period=30d"),
        ("super", "live tiles JSON", "/dashboard/live"),
        ("org", "dashboard (24h) as org admin", "/dashboard/"),
        ("super", "per-user usage (30d, default)", "/usage/"),
        ("super", "logs, first page", "/logs/"),
        ("super", f"logs, {depth} pages deep", deep),
        ("super", "logs, one user", f"/logs/?user={user_email}"),
        ("super", "logs, one model", "/logs/?model=anthropic/claude-sonnet-4-5"),
        ("super", "logs, rare model (0.1%)", f"/logs/?model={RARE_MODEL}"),
        ("super", "logs, errors only", "/logs/?status=error"),
        ("org", "logs as org admin", "/logs/"),
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    directory = args.keep or Path(tempfile.mkdtemp(prefix="admin-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    if args.reuse:
        settings, info = settings_for(directory), json.loads((directory / "bench-info.json")
                                                             .read_text())
    else:
        print(f"seeding {args.rows:,} request-log rows into {directory} …", flush=True)
        settings, info = build(directory, args.rows)
    print(f"inserted in {info['insert_s']} s; rollups {info['rollup_rows']} in "
          f"{info['rollup_s']} s", flush=True)
    app = create_app({"DATABASE_URL": settings.database_url, "SECRET_KEY": "bench"},
                     settings=settings)
    # The same site without its cache of whole-day sums: what the first visitor of a minute sees.
    cold = create_app({"DATABASE_URL": settings.database_url, "SECRET_KEY": "bench",
                       "ROLLUP_CACHE_SECONDS": 0}, settings=settings)
    clients = {"super": signed_in(app, "root@bench.test"),
               "org": signed_in(app, "admin@org0.test"), "cold": signed_in(cold, "root@bench.test")}
    results = []
    depth = min(100, info["rows"] // 50 - 1)  # 50 rows a page
    for who, name, url in cases(info["user"], deep_logs_url(clients["super"], depth), depth):
        result = {"page": name, **timed(clients[who], url, args.repeat)}
        result["ok"] = result["median_ms"] < TARGET_MS
        results.append(result)
        print(f"{name:32} median {result['median_ms']:7.1f} ms  p90 {result['p90_ms']:7.1f} ms"
              f"  {'ok' if result['ok'] else 'OVER ' + str(int(TARGET_MS)) + ' ms'}", flush=True)
    database(app).engine.dispose()
    database(cold).engine.dispose()
    write(args.out, info, results)
    if args.keep is None:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


def write(out: Path, info: dict, results: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (out / "admin_pages.json").write_text(json.dumps({"when": stamp, **info,
                                                      "results": results}, indent=2))
    lines = [f"# Admin pages on {info['rows']:,} request-log rows (SQLite)", "",
             f"{stamp} · in-process server time (Flask test client), median and p90 of the "
             f"repeats · rollup rows {info['rollup_rows']} · target < {TARGET_MS:.0f} ms", "",
             "| page | median ms | p90 ms | target |", "|---|---|---|---|"]
    lines += [f"| {r['page']} | {r['median_ms']} | {r['p90_ms']} | "
              f"{'ok' if r['ok'] else 'MISSED'} |" for r in results]
    (out / "admin_pages.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
