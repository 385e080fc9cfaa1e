"""Screenshots of the admin site for the README, from a seeded database (a week of calls):

    .venv/bin/python -m tests.admin.screenshots [docs/screenshots]

Needs Playwright and a Chromium binary (`apt-get install chromium`). Everything runs on
127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update
from werkzeug.serving import make_server

from admin_web import create_app
from gateway.db.engine import make_engine
from gateway.db.models import User
from plugins.dlp._models import DlpEvent
from tests.admin.seed import PASSWORD, seed

PAGES = {"dashboard": "/dashboard/", "dlp": "/dlp/", "settings": "/settings/"}
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
RULES = ("email", "payment_card", "aws_access_key", "phone", "iban", "openai_key")


def more_dlp_events(url: str, ids: dict[str, int]) -> None:
    rnd, now = random.Random(3), datetime.now(UTC)
    rows = []
    for i in range(14):
        app = i % 3 == 0
        rows.append({"created_at": now - timedelta(minutes=7 + i * 37),
                     "kind": "bypass" if i == 5 else "redaction",
                     "scope_kind": "app" if app else "org",
                     "scope_id": ids["bot"] if app else ids["acme"],
                     "scope_slug": "bot" if app else "acme", "org_id": ids["acme"],
                     "rule": None if i == 5 else RULES[i % len(RULES)],
                     "match_count": 0 if i == 5 else rnd.randint(1, 6),
                     "request_size": rnd.randint(400, 90_000), "request_id": f"req-{9000 + i}",
                     "key_prefix": "sk-gw-devlaptp", "value_hashes": ["x"] * rnd.randint(1, 3)})
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(DlpEvent.__table__), rows)
        # The seed's markup-laden name tests escaping; a README picture wants a plain one.
        conn.execute(update(User).where(User.email == "dev@acme.test").values(name="Dev Patel"))
    engine.dispose()


def main(target: Path) -> None:
    from playwright.sync_api import sync_playwright

    directory = Path(tempfile.mkdtemp(prefix="admin-shots-"))
    url = f"sqlite:///{directory / 'gateway.db'}"
    seeded = seed(url, directory, calls=3000, OLLAMA_BASE_URL="http://127.0.0.1:11434")
    more_dlp_events(url, seeded.ids)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "shots"}, settings=seeded.settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.port}"
    target.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                                 args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(base + "/login")
            page.fill("#email", "root@example.com")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            for name, path in PAGES.items():
                page.goto(base + path)
                page.screenshot(path=str(target / f"{name}.png"), full_page=True)
                print(f"wrote {target / f'{name}.png'}")
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
