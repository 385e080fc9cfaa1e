"""The response cache over real sockets: opt-in per org/app with a TTL, deterministic requests
only (or `X-Gateway-Cache: force`), a streamed request served as a stream, never across
organizations or users, hits metered at zero provider cost and counted for the hit rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway import admin_ops
from plugins.metering import _admin, admin_api
from tests.plugins._metering_util import logs, state

MSG = [{"role": "user", "content": "what is the capital of France"}]


def enable_cache(gw, **scope):
    gw.admin(_admin.set_scope_settings, cache_ttl_seconds=600, **scope)
    gw.ctx.poll_once()


def chat(gw, key=None, **kwargs):
    kwargs.setdefault("temperature", 0)
    return gw.openai(key=key).chat.completions.with_raw_response.create(
        model="openai/gpt-4o", messages=MSG, **kwargs)


def stream(gw, key=None):
    with gw.openai(key=key).chat.completions.with_streaming_response.create(
            model="openai/gpt-4o", messages=MSG, stream=True, temperature=0) as resp:
        chunks = list(resp.parse())
        return resp.headers["x-gateway-cache"], resp.headers["content-type"], chunks


def test_cache_is_off_until_an_org_opts_in(gateway):
    assert chat(gateway).headers["x-gateway-cache"] == "miss"
    assert chat(gateway).headers["x-gateway-cache"] == "miss"
    assert len(gateway.mock.state.requests) == 2


def test_gateway_cache_lookup_and_store_deterministic_hits_are_free_and_counted(gateway):
    enable_cache(gateway, org_slug="acme")
    first, second = chat(gateway), chat(gateway)
    assert (first.headers["x-gateway-cache"], second.headers["x-gateway-cache"]) == ("miss", "hit")
    assert second.parse().choices[0].message.content == "echo: what is the capital of France"
    assert chat(gateway, temperature=0.7).headers["x-gateway-cache"] == "miss"  # not deterministic
    forced = gateway.openai().chat.completions.with_raw_response.create(
        model="openai/gpt-4o", messages=MSG, temperature=0.7,
        extra_headers={"X-Gateway-Cache": "force"})
    assert forced.headers["x-gateway-cache"] == "miss"
    assert chat(gateway, temperature=0.7, extra_headers={"X-Gateway-Cache": "force"}) \
        .headers["x-gateway-cache"] == "hit"
    bypassed = chat(gateway, extra_headers={"X-Gateway-Cache": "bypass"})
    assert bypassed.headers["x-gateway-cache"] == "miss"
    assert len(gateway.mock.state.requests) == 4
    rows = logs(gateway, 6)
    hits = [r for r in rows if r.cache_hit]
    assert len(hits) == 2 and all(r.cost_usd == 0 and r.input_tokens > 0 for r in hits)
    assert all(r.cost_usd > 0 for r in rows if not r.cache_hit)
    now = datetime.now(UTC)
    with gateway.ctx.sessions() as s:
        totals = admin_api.period_totals(s, now - timedelta(hours=1), now + timedelta(minutes=1), now)
    assert totals["cache_hits"] == 2 and totals["cache_hit_rate"] == 2 / 6


def test_a_streamed_request_is_served_from_cache_as_a_stream(gateway):
    enable_cache(gateway, org_slug="acme")
    cache, ctype, live = stream(gateway)
    assert cache == "miss"
    chat(gateway)  # a whole answer never feeds a streamed request, nor the reverse
    cache, ctype, replay = stream(gateway)
    assert cache == "hit" and ctype.startswith("text/event-stream") and len(replay) > 3
    text = "".join(c.choices[0].delta.content or "" for c in replay if c.choices)
    assert text == "echo: what is the capital of France"
    assert all(c.usage is None for c in replay)  # the usage chunk stays hidden on replay too
    assert chat(gateway).headers["x-gateway-cache"] == "hit"
    assert len(gateway.mock.state.requests) == 2


def test_never_served_to_another_org_or_another_user(gateway):
    gateway.admin(admin_ops.create_org, "globex", "Globex")
    gateway.admin(admin_ops.create_user, "eve@globex.test", "Eve", org_slug="globex")
    gateway.admin(admin_ops.create_user, "bob@acme.test", "Bob", org_slug="acme")
    eve = gateway.admin(admin_ops.create_key, user_email="eve@globex.test")[0]
    bob = gateway.admin(admin_ops.create_key, user_email="bob@acme.test")[0]
    enable_cache(gateway, org_slug="acme")
    enable_cache(gateway, org_slug="globex")
    assert stream(gateway)[0] == "miss" and stream(gateway)[0] == "hit"
    assert stream(gateway, key=eve)[0] == "miss"  # same request, other organization
    assert stream(gateway, key=bob)[0] == "miss"  # same organization, other person
    assert stream(gateway, key=eve)[0] == "hit"


def test_entries_are_shared_through_the_database_and_expire(gateway):
    enable_cache(gateway, app_slug="bot")
    assert chat(gateway, key=gateway.app_key).headers["x-gateway-cache"] == "miss"
    metering = state(gateway)
    metering.flush()
    metering.cache._l1.clear()  # as another process would be: nothing in its memory
    assert chat(gateway, key=gateway.app_key).headers["x-gateway-cache"] == "hit"
    assert chat(gateway).headers["x-gateway-cache"] == "miss"  # the user's org did not opt in
    metering.cache._l1.clear()
    metering.clock = lambda: datetime.now(UTC) + timedelta(seconds=601)
    assert chat(gateway, key=gateway.app_key).headers["x-gateway-cache"] == "miss"  # expired


def test_never_served_across_dlp_scopes(gateway_factory):
    import pluggy

    class Scope:  # stands in for the DLP plugin, which names the scope of each call
        @pluggy.HookimplMarker("llm_gateway")
        def gateway_transform_request(self, call):
            call.dlp_scope = call.headers.get("x-test-dlp-scope", "off")

    gw = gateway_factory(plugins=[Scope()])
    enable_cache(gw, org_slug="acme")

    def scoped(scope):
        return chat(gw, extra_headers={"X-Test-DLP-Scope": scope}).headers["x-gateway-cache"]

    assert scoped("redacted:v1") == "miss" and scoped("redacted:v1") == "hit"
    assert scoped("bypass") == "miss"
