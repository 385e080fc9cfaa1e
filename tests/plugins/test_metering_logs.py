"""Request logs, rollups and the dashboard queries, client disconnects, the batched writer's
retries, error reports and /metrics."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import openai
import pytest
from sqlalchemy import select

from gateway.batch_writer import BatchWriter
from gateway.db.models import RequestLog
from plugins.metering import admin_api
from plugins.metering._models import ErrorReport
from tests.plugins._metering_util import logs, mock_tokens, state

WORDS = " ".join(f"word{i}" for i in range(40))


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_client_killed_mid_stream_leaves_a_row_with_partial_estimated_usage(gateway, api):
    slow = "-mock-chunk-delay-200"  # a slow stream, so the client can leave in the middle
    model = "gpt-4o" + slow if api == "openai" else "claude-haiku-4-5" + slow
    msg = [{"role": "user", "content": WORDS}]
    if api == "openai":
        stream = gateway.openai().chat.completions.create(model=f"openai/{model}", messages=msg,
                                                          stream=True)
    else:
        stream = gateway.anthropic().messages.create(model=f"anthropic/{model}", max_tokens=500,
                                                     messages=msg, stream=True)
    seen = [next(iter(stream)) for _ in range(3)]
    stream.close()  # the client hangs up while the provider is still sending
    assert seen
    row = logs(gateway, 1)[0]
    full_in, _, full_out = mock_tokens(WORDS)
    assert row.status == 499 and row.usage_estimated is True
    assert row.input_tokens == full_in  # Anthropic's message_start told it; OpenAI's is estimated
    assert 1 <= row.output_tokens < full_out


def test_rollups_answer_every_dashboard_question(gateway):
    client = gateway.openai()
    msg = [{"role": "user", "content": "hello metering"}]
    client.chat.completions.create(model="openai/gpt-4o", messages=msg)
    client.chat.completions.create(model="gpt-4o-mini", messages=msg)
    gateway.anthropic().messages.create(model="anthropic/claude-haiku-4-5", max_tokens=50,
                                        messages=msg)
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="openai/mock-fail-500", messages=msg)
    rows = logs(gateway, 4)
    now = datetime.now(UTC)
    with gateway.ctx.sessions() as s:
        live = admin_api.live_last_hour(s, now)
        totals = admin_api.period_totals(s, now - timedelta(hours=24), now + timedelta(minutes=1), now)
        trend = admin_api.cost_trend(s, now, days=7, by="provider")
        day, soon = now - timedelta(days=1), now + timedelta(hours=1)
        load = {p["provider"]: p for p in admin_api.provider_load(s, day, soon, now)}
        flows = admin_api.model_flows(s, day, soon, now)
        top = admin_api.top_users(s, now - timedelta(days=7), soon, now)
        other_org = admin_api.period_totals(s, now - timedelta(days=1), now + timedelta(hours=1), now,
                                           org_id=999)
    cost = sum((r.cost_usd for r in rows), Decimal(0))
    assert (live["active_users"], live["requests"]) == (1, 4)
    assert live["input_tokens"] == sum(r.input_tokens for r in rows)
    assert live["output_tokens"] == sum(r.output_tokens for r in rows)
    assert (totals["requests"], totals["errors"], totals["active_users"]) == (4, 1, 1)
    assert totals["cost_usd"] == cost and totals["cache_hit_rate"] == 0.0
    assert totals["avg_cost_per_request_usd"] == cost / 4
    assert len(trend["days"]) == 7 and trend["days"][-1] == now.date()
    assert trend["series"]["anthropic"][-1] == rows[2].cost_usd
    assert trend["series"]["openai"][:-1] == [0] * 6
    assert load["openai"]["requests"] == 3 and load["openai"]["errors"] == 1
    assert load["anthropic"]["share"] == 0.25 and load["anthropic"]["avg_latency_ms"] >= 0
    assert {"requested_model": "gpt-4o-mini", "model": "openai/gpt-4o-mini", "requests": 1} in flows
    assert top[0]["email"] == "dev@acme.test" and top[0]["cost_usd"] == cost
    assert other_org["requests"] == 0


def test_writer_retries_while_the_database_is_away_then_writes_everything():
    written, failures = [], [3]

    def flaky(batch):
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("database is away")
        written.extend(batch)

    writer = BatchWriter(flaky, interval=0.02, max_rows=10, retry_delays=(0.01, 0.01, 0.01, 0.01))
    writer.start()
    for i in range(25):
        writer.put(i)
    assert writer.flush(5)
    writer.stop()
    assert sorted(written) == list(range(25))


def test_writer_gives_up_with_a_clear_error_and_never_blocks(caplog):
    def down(batch):
        raise ConnectionError("connection refused")

    writer = BatchWriter(down, interval=0.01, queue_size=3, retry_delays=(0.01,))
    with caplog.at_level(logging.WARNING, logger="gateway.metering"):
        started = time.monotonic()
        accepted = [writer.put(i) for i in range(5)]  # not started: the queue fills up
        assert time.monotonic() - started < 0.5 and accepted == [True] * 3 + [False] * 2
        writer.start()
        assert writer.flush(5)
        writer.stop()
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "queue is full" in messages
    assert "gave up writing 3 records after 2 attempts" in messages and "connection refused" in messages


def test_gateway_startup_and_gateway_shutdown_flush_what_is_queued(gateway):
    from gateway.db.models import RequestLog

    metering = state(gateway)
    metering.writer.interval = 30  # from the next batch on, nothing is written for a long while …
    time.sleep(0.3)
    gateway.openai().chat.completions.create(model="gpt-4o-mini",
                                             messages=[{"role": "user", "content": "bye"}])
    time.sleep(0.3)
    with gateway.ctx.sessions() as session:
        assert session.scalar(select(RequestLog.request_id)) is None
    gateway.stop()  # … but shutdown writes it
    with gateway.ctx.sessions() as session:
        assert session.scalar(select(RequestLog.request_id)) is not None


def test_gateway_local_request_error_reports_and_gateway_call_failed(gateway):
    url = gateway.url + "/v1/error-reports"
    auth = {"authorization": f"Bearer {gateway.user_key}"}
    report = {"source": "vscode", "type": "ToolError", "model": "gpt-4o", "agent": "coder",
              "version": "1.2.3",
              "error": "boom\x00\x1b[31m with sk-live-abcdefghijklmnop " + "x" * 9000}
    resp = httpx.post(url, json=report, headers=auth)
    assert resp.status_code == 202 and resp.json()["status"] == "accepted"
    assert httpx.post(url, json=report).status_code == 401
    assert httpx.post(url, content=b"{" + b" " * 20000 + b"}", headers=auth).status_code == 413
    assert httpx.post(url, content=b"not json", headers=auth).status_code == 400
    assert httpx.post(url, json={"error": {"nested": 1}}, headers=auth).status_code == 400
    with pytest.raises(openai.APIStatusError):  # a provider failure is reported by the gateway
        gateway.openai().chat.completions.create(model="openai/mock-fail-503",
                                                 messages=[{"role": "user", "content": "x"}])
    logs(gateway, 1)
    with gateway.ctx.sessions() as session:
        client, provider = session.scalars(select(ErrorReport).order_by(ErrorReport.id)).all()
    assert (client.source, client.type, client.model, client.agent, client.version) == (
        "vscode", "ToolError", "gpt-4o", "coder", "1.2.3")
    assert client.user_id is not None and client.key_prefix and client.created_at
    assert "sk-live" not in client.error and "\x00" not in client.error and "\x1b" not in client.error
    assert len(client.error) <= 4000
    assert (provider.source, provider.status, provider.model) == (
        "provider", 503, "openai/mock-fail-503")


def test_gateway_local_request_metrics_by_model_and_provider_without_user_labels(gateway_factory):
    gateway = gateway_factory(GATEWAY_METRICS_TOKEN="scrape-token-123")
    gateway.openai().chat.completions.create(model="openai/gpt-4o-mini",
                                             messages=[{"role": "user", "content": "count me"}])
    logs(gateway, 1)
    text = httpx.get(gateway.url + "/metrics",
                     headers={"Authorization": "Bearer scrape-token-123"}).text
    assert 'gateway_requests_total{endpoint="/v1/chat/completions",model="openai/gpt-4o-mini",' \
           'provider="openai",status="2xx"} 1.0' in text
    assert 'gateway_tokens_total{kind="input",model="openai/gpt-4o-mini",provider="openai"}' in text
    assert 'gateway_cost_usd_total{model="openai/gpt-4o-mini",provider="openai"}' in text
    assert "gateway_request_duration_seconds_bucket" in text and "gateway_worker_info" in text
    assert "dev@acme.test" not in text and "user" not in text.lower().replace("usage", "")


def test_writer_drops_only_the_record_the_database_refuses(caplog):
    written = []

    def picky(batch):
        if "bad" in batch:
            raise ValueError("value out of range")
        written.extend(batch)
        batch.clear()

    writer = BatchWriter(picky, interval=0.01, transient=lambda exc: False)
    writer.start()
    for record in ("a", "bad", "b"):
        writer.put(record)
    with caplog.at_level(logging.ERROR, logger="gateway.metering"):
        assert writer.flush(5)
        writer.stop()
    assert written == ["a", "b"]
    assert "1 of 3 records were refused" in caplog.text and "value out of range" in caplog.text


def test_metrics_need_a_token_or_a_super_admins_key(gateway_factory):
    from gateway import admin_ops

    gateway = gateway_factory(GATEWAY_METRICS_TOKEN="scrape-token-123")
    url = gateway.url + "/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    member = httpx.get(url, headers={"Authorization": f"Bearer {gateway.user_key}"})
    assert member.status_code == 401 and "GATEWAY_METRICS_TOKEN" in member.json()["error"]["message"]
    gateway.admin(admin_ops.create_user, "root@acme.test", "Root", role="super_admin")
    root_key = gateway.admin(admin_ops.create_key, user_email="root@acme.test")[0]
    assert httpx.get(url, headers={"Authorization": f"Bearer {root_key}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer scrape-token-123"}).status_code == 200


def test_metrics_labels_stay_bounded_whatever_model_names_clients_choose(gateway_factory):
    gateway = gateway_factory(GATEWAY_METRICS_TOKEN="t")
    client = gateway.openai()
    for i in range(30):
        client.chat.completions.create(model=f"openai/made-up-model-{i}",
                                       messages=[{"role": "user", "content": "x"}])
    logs(gateway, 30)
    text = httpx.get(gateway.url + "/metrics", headers={"Authorization": "Bearer t"}).text
    assert "made-up-model" not in text
    assert 'gateway_requests_total{endpoint="/v1/chat/completions",model="other",' \
           'provider="openai",status="2xx"} 30.0' in text


def test_a_client_leaving_a_whole_call_early_is_booked_at_its_worst_case_output(gateway):
    """The provider finishes (and bills) an answer nobody waits for any more; the gateway books
    the most the call could produce, marked estimated."""
    with pytest.raises(httpx.TimeoutException):
        httpx.post(gateway.url + "/v1/chat/completions", timeout=0.3,
                   headers={"Authorization": f"Bearer {gateway.user_key}"},
                   json={"model": "openai/gpt-4o-mock-delay-1500", "max_tokens": 321,
                         "messages": [{"role": "user", "content": "slow one"}]})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        gateway.ctx.extensions["metering"].flush()
        with gateway.ctx.sessions() as session:
            row = session.scalar(select(RequestLog).order_by(RequestLog.id.desc()))
        if row is not None:
            break
        time.sleep(0.1)
    assert row.status == 499 and row.usage_estimated
    assert row.output_tokens == 321 and row.input_tokens > 0


def test_the_log_keeps_the_status_the_client_got_and_the_providers_own(gateway):
    with pytest.raises(openai.APIStatusError) as err:
        gateway.openai().chat.completions.create(model="openai/gpt-4o-mock-fail-529",
                                                 messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 503
    logs(gateway, 1)
    with gateway.ctx.sessions() as session:
        row = session.scalar(select(RequestLog).order_by(RequestLog.id.desc()))
    assert (row.status, row.provider_status) == (503, 529)


def test_a_keys_last_use_is_recorded(gateway):
    from gateway.db.models import ApiKey

    with gateway.ctx.sessions() as session:
        assert {k.last_used_at for k in session.scalars(select(ApiKey))} == {None}
    gateway.openai().chat.completions.create(model="openai/gpt-4o",
                                             messages=[{"role": "user", "content": "x"}])
    logs(gateway, 1)
    with gateway.ctx.sessions() as session:
        used = {k.prefix: k.last_used_at for k in session.scalars(select(ApiKey))}
    assert used[gateway.user_key[:14]] is not None and used[gateway.app_key[:14]] is None


def test_a_refused_call_from_a_suspended_user_is_still_theirs_in_the_log(gateway):
    from gateway import admin_ops

    gateway.admin(admin_ops.suspend_user, "dev@acme.test")
    gateway.ctx.poll_once()
    with pytest.raises(openai.PermissionDeniedError):
        gateway.openai().chat.completions.create(model="openai/gpt-4o",
                                                 messages=[{"role": "user", "content": "x"}])
    logs(gateway, 1)
    with gateway.ctx.sessions() as session:
        row = session.scalar(select(RequestLog).order_by(RequestLog.id.desc()))
    assert row.status == 403 and row.user_id is not None
    assert row.key_prefix == gateway.user_key[:14]
