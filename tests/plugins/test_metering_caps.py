"""Caps over real sockets: refusals in each API's error shape naming the cap and its reset, unpriced
models refused for capped scopes, rollover with the gateway's clock moved across a month, and 50
concurrent calls through two gateways sharing one database against a cap that fits five."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
import yaml
from sqlalchemy import select

from gateway.context import open_context
from gateway.pluginmanager import Hooks, make_plugin_manager
from gateway.server import ProxyServer
from plugins.metering import _admin
from plugins.metering._models import LedgerRow
from tests.gateway_fixtures import ROOT, RunningGateway, make_settings
from tests.plugins._metering_util import catalog_cost, logs, mock_tokens, state

SLOW = "openai/gpt-4o-mock-delay-300"
GPT_4O = {"input": "2.50", "output": "10.00", "cached_input": "1.25"}


def config_with_slow_model(tmp_path: Path) -> str:
    """The shipped catalog plus a priced model whose mock answers take 300 ms."""
    doc = yaml.safe_load((ROOT / "model_config.yaml").read_text())
    doc["models"][SLOW] = {"input": 2.50, "output": 10.00, "cached_input": 1.25}
    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def set_user_cap(gw, usd):
    gw.admin(_admin.set_user_cap, "dev@acme.test", usd)
    gw.ctx.poll_once()


def test_gateway_admit_refuses_with_402_naming_the_cap_and_its_reset(gateway):
    set_user_cap(gateway, "0.000001")
    with pytest.raises(openai.APIStatusError) as err:
        gateway.openai().chat.completions.create(model="openai/gpt-4o", messages=[
            {"role": "user", "content": "hi"}])
    assert err.value.status_code == 402
    message = err.value.body["message"]
    assert "weekly cap for user dev@acme.test" in message and "resets Monday" in message
    assert err.value.response.headers["x-gateway-cap-reset"].endswith("+00:00")
    with pytest.raises(anthropic.APIStatusError) as err2:
        gateway.anthropic().messages.create(model="anthropic/claude-haiku-4-5", max_tokens=50,
                                            messages=[{"role": "user", "content": "hi"}])
    assert err2.value.status_code == 402 and "weekly cap" in err2.value.message
    assert len(gateway.mock.state.requests) == 0  # no provider was contacted
    assert [r.status for r in logs(gateway, 2)] == [402, 402]


def test_unpriced_model_is_refused_only_where_a_cap_applies(gateway):
    msg = [{"role": "user", "content": "hi"}]
    gateway.openai().chat.completions.create(model="openai/some-unlisted-model", messages=msg)
    set_user_cap(gateway, "100")
    with pytest.raises(openai.APIStatusError) as err:
        gateway.openai().chat.completions.create(model="openai/some-unlisted-model", messages=msg)
    assert err.value.status_code == 402 and "has no price" in err.value.body["message"]
    gateway.openai().chat.completions.create(model="openai/gpt-4o-mini", messages=msg)  # priced


def test_rollover_with_the_clock_moved_across_a_month(gateway):
    """A $0.001 monthly org cap: January spends a little; in February a call that needs more than
    one month's cap is admitted only while rollover is on."""
    gateway.admin(_admin.set_org_cap, "acme", "0.001", True)
    gateway.ctx.poll_once()
    metering = state(gateway)
    metering.clock = lambda: datetime(2031, 1, 31, 23, 59, tzinfo=UTC)
    client = gateway.openai()
    small = client.chat.completions.create(model="openai/gpt-4o", max_tokens=10,
                                           messages=[{"role": "user", "content": "hi"}])
    assert small.choices[0].message.content == "echo: hi"
    metering.clock = lambda: datetime(2031, 2, 1, 0, 1, tzinfo=UTC)
    metering.flush()
    # Worst case ≈ 150 output tokens × $10/M = $0.0015: over one month's $0.001.
    big = dict(model="openai/gpt-4o", max_tokens=150, messages=[{"role": "user", "content": "hello"}])
    assert client.chat.completions.create(**big).choices
    with gateway.ctx.sessions() as session:
        rows = session.scalars(select(LedgerRow).where(LedgerRow.scope == "org")
                               .order_by(LedgerRow.period_start)).all()
        cap, january = Decimal("0.001"), rows[0]
        assert 0 < january.spent_usd < cap
        # January itself inherited a whole cap (the org existed all December, spending nothing).
        assert rows[1].carry_usd == min(cap, cap + january.carry_usd - january.spent_usd) == cap
    metering.flush()
    gateway.admin(_admin.set_org_cap, "acme", rollover=False)
    gateway.ctx.poll_once()
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(**big)
    assert err.value.status_code == 402
    assert "monthly spend cap for organization acme" in err.value.body["message"]
    assert "resets Saturday 2031-03-01 00:00 UTC" in err.value.body["message"]


def start_peer(first: RunningGateway, data_dir: Path) -> RunningGateway:
    """A second gateway on the first one's database (its own engine, loop and plugins), as a
    second proxy process would be; it reuses the users and keys the first one created."""
    settings = make_settings(data_dir, first.ctx.settings.database_url, first.mock,
                             GATEWAY_CONFIG=str(first.ctx.settings.config_path))
    ctx = open_context(settings, Hooks(make_plugin_manager()))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="gateway-peer", daemon=True)
    thread.start()
    server = ProxyServer(ctx, "127.0.0.1", 0)
    port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    ctx.start_watcher()
    return RunningGateway(url=f"http://127.0.0.1:{port}", port=port, ctx=ctx, mock=first.mock,
                          user_key=first.user_key, app_key=first.app_key, _server=server,
                          _loop=loop, _thread=thread)


def test_fifty_concurrent_calls_through_two_gateways_spend_at_most_the_cap(gateway_factory,
                                                                           tmp_path):
    first = gateway_factory(GATEWAY_CONFIG=config_with_slow_model(tmp_path))
    peer = start_peer(first, tmp_path / "peer")
    try:
        text = "x" * 400
        inp, _, out = mock_tokens(text)
        one_call = catalog_cost(GPT_4O, inp, 0, out)
        cap = one_call * 5  # fits five calls exactly
        set_user_cap(first, cap)
        peer.ctx.poll_once()
        body = {"model": SLOW, "max_tokens": out, "messages": [{"role": "user", "content": text}]}

        def call(i: int) -> int:
            gw = (first, peer)[i % 2]
            return httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=30,
                              headers={"authorization": f"Bearer {first.user_key}"}).status_code

        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(call, range(50)))
        ok = statuses.count(200)
        assert 1 <= ok <= 5 and statuses.count(402) == 50 - ok
        assert len(first.mock.state.requests) == ok  # refused calls never reached the provider
        state(peer).flush()
        state(first).flush()
        with first.ctx.sessions() as session:
            row = session.scalar(select(LedgerRow).where(LedgerRow.scope == "user"))
        assert row.spent_usd == one_call * ok <= cap
        assert row.reserved_usd == 0 and row.requests == ok
    finally:
        peer.stop()


def test_a_failed_calls_hold_is_back_before_the_clients_next_call(gateway):
    """Two fast provider failures, then a call that fits the cap only once both holds are
    released: it must not meet a false 402 'held by calls in flight'."""
    from gateway.mock_provider._state import MockConfig

    set_user_cap(gateway, "0.015")  # one reservation of max_tokens=1000 on gpt-4o fits, two don't
    client = gateway.openai()
    ask = dict(model="openai/gpt-4o", max_tokens=1000, messages=[{"role": "user", "content": "hi"}])
    gateway.mock.state.config = MockConfig(fail_status=500)
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(**ask)
        assert err.value.status_code == 502
    gateway.mock.state.config = MockConfig()
    reply = client.chat.completions.create(**ask)
    assert reply.choices[0].message.content == "echo: hi"
