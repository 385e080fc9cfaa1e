"""The admin site in a real browser (headless Chromium through Playwright), next to a running
gateway on the same database: sign in, create an organization, a user, an app with a key, an
alias and a fallback chain, edit an agent's heavy model, then see calls made through the gateway
with that key on the dashboard (live tiles refreshed by live.js) and in the logs.

Skipped when Playwright or a Chromium binary is missing. Set ADMIN_SCREENSHOTS=<dir> to keep
screenshots of the pages it visits.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert
from werkzeug.serving import make_server

from admin_web import create_app
from admin_web.db import database
from gateway import admin_ops
from gateway.db.models import RequestLog
from tests.admin.conftest import Site
from tests.admin.seed import PASSWORD, write_config

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH "
                                 "(apt-get install chromium)")]
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 15_000


@pytest.fixture
def db_url(tmp_path) -> str:
    """The browser walk is about the site, not the backend: SQLite only (PostgreSQL is covered
    by the other admin tests)."""
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


@pytest.fixture
def stack(gateway_factory, tmp_path) -> Iterator[tuple[object, str]]:
    gw = gateway_factory(GATEWAY_CONFIG=str(write_config(tmp_path / "model_config.yaml")))
    gw.admin(admin_ops.create_user, "root@example.com", "Root Admin", role="super_admin",
             password=PASSWORD)
    app = create_app({"DATABASE_URL": gw.ctx.settings.database_url, "SECRET_KEY": "browser",
                      "LIVE_REFRESH_SECONDS": 2}, settings=gw.ctx.settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin", daemon=True)
    thread.start()
    try:
        yield gw, f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(10)
        database(app).engine.dispose()


@pytest.fixture
def page(tmp_path) -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()
        tab.console_errors = []
        tab.on("console", lambda m: tab.console_errors.append(m.text) if m.type == "error"
               else None)
        tab.on("dialog", lambda dialog: dialog.accept())  # data-confirm prompts
        try:
            yield tab
        finally:
            browser.close()


def snap(page, name: str) -> None:
    target = os.environ.get("ADMIN_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")  # the sticky sidebar follows the scroll position
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


def expand(page, title: str) -> None:
    """Open a collapsible form section (it starts open when its table is empty)."""
    section = page.locator("details.expander", has=page.locator("summary", has_text=title))
    if not section.evaluate("d => d.open"):
        section.locator("summary").click()


def submit(page, form: str, fields: dict[str, str], expect: str) -> None:
    for name, value in fields.items():
        control = page.locator(f"{form} [name={name}]")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.locator(f"{form} button[type=submit]").click()
    sync_api.expect(page.locator(".flash").first).to_contain_text(expect)


def test_admin_walkthrough_in_a_browser(stack, page):
    gw, base = stack
    expect = sync_api.expect
    page.goto(base + "/login")
    page.fill("#email", "root@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")

    page.goto(base + "/orgs/")
    expand(page, "Create Organization")
    submit(page, "form[action='/orgs/']", {"name": "Umbrella", "slug": "umbrella",
                                           "spend_cap": "250"}, "Organization umbrella created")
    expect(page.locator("table")).to_contain_text("Umbrella")

    page.goto(base + "/users/")
    expand(page, "Create User")
    submit(page, "form[action='/users/']", {"name": "Alice Umbrella",
                                            "email": "alice@umbrella.test",
                                            "org": "umbrella", "weekly_cap": "20"},
           "User alice@umbrella.test created")
    expect(page.locator("table")).to_contain_text("alice@umbrella.test")

    page.goto(base + "/apps/")
    expand(page, "Create App")
    submit(page, "form[action='/apps/']", {"name": "Umbrella Bot", "slug": "ubot",
                                           "org": "umbrella"}, "App ubot created")
    page.fill("input[name=name]", "prod")
    page.click("text=Create key")
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("sk-gw-") and len(key) == 46

    page.goto(base + "/router/")
    expand(page, "Add or change an alias")
    submit(page, "form[action='/router/']", {"requested": "browser-fast",
                                             "routed": "openai/gpt-4o-mini", "scope": ""},
           "browser-fast now routes to openai/gpt-4o-mini")

    page.goto(base + "/settings/")
    submit(page, "form[action='/settings/chains']", {"primary": "openai/gpt-4o-mini",
                                                     "models": "anthropic/claude-haiku-4-5"},
           "Fallback chain of openai/gpt-4o-mini saved")
    snap(page, "settings")

    page.goto(base + "/agents/")
    heavy = page.get_by_label("Reviewer <QA> heavy model")
    expect(heavy).to_have_class("inherited")
    heavy.fill("openai/gpt-4.1-nano")
    heavy.locator("xpath=ancestor::tr").get_by_role("button", name="Save").click()
    expect(page.locator(".flash").first).to_contain_text("heavy → openai/gpt-4.1-nano")
    expect(page.get_by_label("Reviewer <QA> heavy model")).to_have_class("override")

    page.goto(base + "/dashboard/")
    before = page.locator("#live-requests").inner_text()
    gw.ctx.poll_once()  # the gateway takes the new alias, key and model_config.yaml now
    client = gw.openai(key=key)
    reply = client.chat.completions.create(model="browser-fast",
                                           messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content == "echo: hello"
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "plan"}],
        extra_headers={"X-Agent-Id": "reviewer", "X-Cost-Mode": "heavy"})
    assert raw.headers["x-gateway-model"] == "openai/gpt-4.1-nano"
    # The metering writer flushes about every 100 ms; live.js polls every 2 s here.
    expect(page.locator("#live-requests")).not_to_have_text(before, timeout=TIMEOUT_MS)
    page.reload()
    expect(page.locator("text=Requested → actual model")).to_be_visible()
    expect(page.locator("table").nth(1)).to_contain_text("browser-fast")
    snap(page, "dashboard")

    page.goto(base + "/logs/?user=&model=browser-fast")
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("openai/gpt-4o-mini")
    expect(row).to_contain_text("ubot")
    expect(row).to_contain_text(key[:14])
    page.goto(base + "/logs/")
    expect(page.locator("tbody")).to_contain_text("openai/gpt-4.1-nano")

    page.goto(base + "/dlp/")
    expect(page.locator("h1")).to_have_text("Data Loss Prevention")
    snap(page, "dlp")
    assert page.console_errors == []  # includes CSP violations, which Chromium logs as errors


LONG_MODEL = "openrouter/anthropic/claude-3-7-sonnet-20250219-thinking-extended-preview"
LONG_PATH = "/v1/organizations/acme-research-division/projects/long-running-agent/responses"


def serve_site(app) -> tuple[object, threading.Thread, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin", daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.port}"


def add_long_rows(site: Site, count: int = 5) -> None:
    """Calls with the longest names a real deployment shows (routed provider paths, agents)."""
    now = datetime.now(UTC)
    rows = [{"request_id": f"req-long-{i}-0123456789abcdef0123456789abcdef", "created_at": now,
             "key_prefix": "sk-gw-longkeyx", "key_name": "a-very-descriptive-key-name-for-ci",
             "user_id": site.ids["dev@acme.test"], "org_id": site.ids["acme"],
             "endpoint": LONG_PATH, "requested_model": LONG_MODEL, "actual_model": LONG_MODEL,
             "provider": "openrouter", "agent_id": "planner/researcher-with-long-id",
             "cost_mode": "heavy", "status": 503, "provider_status": 529,
             "error_type": "upstream_overloaded_error", "input_tokens": 123456,
             "output_tokens": 65432, "cost_usd": Decimal("12.3456"), "latency_ms": 1234,
             "fallback_attempts": 2, "cache_hit": True} for i in range(count)]
    with site.session() as session:
        session.execute(insert(RequestLog.__table__), rows)
        session.commit()


def test_logs_status_and_cost_fit_a_1440_screen(site, page):
    """At 1440×900 the Status and Cost columns are on screen without scrolling sideways, with
    long model names and paths in the rows."""
    add_long_rows(site)
    server, thread, base = serve_site(site.app)
    try:
        page.goto(base + "/login")
        page.fill("#email", "root@example.com")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(base + "/logs/")
        sync_api.expect(page.locator("tbody")).to_contain_text(LONG_MODEL)
        snap(page, "logs")
        width = page.viewport_size["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for header in ("Status", "Cost"):
            cells = [page.locator("table.logs thead th", has_text=header)]
            cells += page.locator(f"table.logs tbody td:nth-child({_column(page, header)})").all()
            for cell in cells[:6]:
                box = cell.bounding_box()
                assert box is not None and box["x"] >= 0, header
                assert box["x"] + box["width"] <= width, (header, box)
        assert page.console_errors == []
    finally:
        server.shutdown()
        thread.join(10)


def _column(page, header: str) -> int:
    names = [t.strip().lower() for t in page.locator("table.logs thead th").all_inner_texts()]
    return names.index(header.lower()) + 1
