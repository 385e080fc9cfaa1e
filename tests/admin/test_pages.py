"""Every page renders with data from the seeded database, shows what an operator looks for, and
escapes what users typed."""

from __future__ import annotations

import re

import pytest

from tests.admin.seed import OPENAI_KEY


@pytest.fixture(scope="module")
def root(seeded_site):
    return seeded_site.as_role("super_admin")


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    return response.get_data(as_text=True)


PAGES = {
    "/dashboard/": ["Live · last 60 min", "Active Users (1h)", "Tokens Out (1h)", "Total Requests",
                    "Total Cost", "Avg Cost / Request", "Cache Hit Rate", "Errors",
                    "Cost Trends — last 7 days", "<svg class=\"chart\"",
                    "Provider Load &amp; Routing",
                    "anthropic/claude-sonnet-4-5", "Top Spending Users", "eve@globex.test"],
    "/dashboard/?period=7d&by=model": ["Last 7 days", "openai/gpt-4.1"],
    "/users/": ["Create User", "All Users", "Weekly Cap", "boss@acme.test", "Suspend", "$25.00"],
    "/orgs/": ["Acme &lt;Corp&gt;", "globex", "Boss of Acme", "$500.00", "Protected"],
    "/orgs/acme": ["Members", "Support Bot", "dev@acme.test"],
    "/apps/": ["Create App", "Support Bot", "ops@acme.test", "Globex App"],
    "/apps/bot": ["prod", "sk-gw-", "Create key"],
    "/router/": ["Requested Model", "Routed To", "openai/gpt-4.1-mini", "gx-smart", "Global",
                 "wins over a global one"],
    "/agents/": ["Planner", "planner/researcher", "Reviewer &lt;QA&gt;", 'class="override"',
                 "anthropic/claude-opus-4-1", "Heavy Model", "Max Model"],
    "/models/": ["openai/gpt-4o", "claude-opus-4-5", "Context window", "Stored key (database)",
                 "No key needed (Ollama)"],
    "/logs/": ["/v1/chat/completions", "sk-gw-devlaptp", "dev@acme.test", "Older →", "502"],
    "/usage/": ["Eve Globex", "Input Tokens", "Export"],
    "/error-reports/": ["HTTP 503 from openai &lt;overloaded&gt;", "editor plugin crashed",
                        "planner", "1.4.2", "eve@globex.test"],
    "/dlp/": ["Redactions · 24h", "Bypasses · 24h", "Organizations protected", "Apps protected",
              "Acme &lt;Corp&gt;", "Recent activity", "req-0001", "2 distinct values"],
    "/dlp/org/acme": ["Save rules", "email", "Recent activity"],
    "/dlp/global/defaults": ["Gateway-wide rule defaults", "Save rules"],
    "/settings/": ["Routing Strategy", "lowest-cost", "Ollama", "Test connection",
                   "LLM Provider Credentials", "…7788", "Model Fallback Chains",
                   "anthropic/claude-sonnet-4-5", "User Activity Export", "Feature toggles",
                   "long-context"],
    "/me/": ["My usage this week", "My keys", "Features"],
}


@pytest.mark.parametrize("path", sorted(PAGES))
def test_page_renders_with_seeded_data(root, path):
    html = page(root, path)
    for text in PAGES[path]:
        assert text in html, (path, text)


def test_user_detail_and_usage_pages(seeded_site, root):
    dev = seeded_site.ids["dev@acme.test"]
    detail = page(root, f"/users/{dev}")
    assert "laptop" in detail and "Reset password" in detail and "Weekly cap" in detail
    usage = page(root, f"/usage/?user={dev}&period=7d")
    assert "Usage of Dev" in usage and "openai/gpt-4o-mini" in usage
    export = page(root, f"/exports/new?user={dev}")
    assert "Start export" in export


def test_user_text_is_escaped_everywhere(seeded_site, root):
    for path in ("/users/", "/dashboard/", "/usage/", f"/users/{seeded_site.ids['dev@acme.test']}"):
        html = page(root, path)
        assert "<script>x</script>" not in html
        assert "Dev &lt;script&gt;x&lt;/script&gt;" in html


def test_pages_never_show_a_stored_secret(root):
    for path in ("/settings/", "/models/"):
        assert OPENAI_KEY not in page(root, path)


def test_no_inline_script_or_style(root):
    """The CSP has no 'unsafe-inline': an inline script or style attribute would be dead."""
    for path in PAGES:
        html = page(root, path)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


def test_live_tiles_json(root):
    live = root.get("/dashboard/live").get_json()
    assert live["available"] is True
    assert live["requests"] == "12"  # the seed puts twelve calls in the last hour
    assert len(live["points"].split()) == 60


def test_dashboard_periods(root):
    assert "Last 30 days" in page(root, "/dashboard/?period=30d")
    custom = page(root, "/dashboard/?period=custom&start=2024-01-01&end=2024-01-03")
    assert "2024-01-01 – 2024-01-03" in custom
    bad = page(root, "/dashboard/?period=custom&start=2024-02-01&end=2024-01-03")
    assert "before the start date" in bad and "Last 24 hours" in bad


def test_logs_filters(seeded_site, root):
    by_user = page(root, "/logs/?user=eve@globex.test")
    assert "eve@globex.test" in by_user and "dev@acme.test" not in by_user.split("<tbody>")[1]
    errors = page(root, "/logs/?status=error")
    rows = errors.split("<tbody>")[1].split("</tbody>")[0]
    assert "502" in rows and ">200<" not in rows
    by_model = page(root, "/logs/?model=anthropic/claude-sonnet-4-5")
    assert "openai/gpt-4o-mini</code>" not in by_model.split("<tbody>")[1]
    nothing = page(root, "/logs/?since=2000-01-01T00:00&until=2000-01-02T00:00")
    assert "No calls match." in nothing
    assert "invalid from time" in page(root, "/logs/?since=yesterday")


def test_logs_keyset_pagination_walks_every_row_once(seeded_site, root):
    seen, url, pages = [], "/logs/", 0
    while url:
        html = page(root, url)
        seen += re.findall(r"<td class=\"nowrap\">([^<]+)</td>", html)
        older = re.search(r'href="([^"]+)">Older →', html)
        url = older.group(1).replace("&amp;", "&") if older else None
        pages += 1
    assert pages == 5 and len(seen) == seeded_site.seeded.calls
    assert seen == sorted(seen, reverse=True)
    newer = re.search(r'href="([^"]+)">← Newer', page(root, "/logs/?" + _second_page(root)))
    first = page(root, newer.group(1).replace("&amp;", "&"))
    assert "← Newer</span>" in first  # back on the first page: no newer link


def _second_page(root) -> str:
    html = page(root, "/logs/")
    return re.search(r'href="/logs/\?([^"]+)">Older', html).group(1).replace("&amp;", "&")
