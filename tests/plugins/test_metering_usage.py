"""Usage and cost over real sockets with the official SDKs: what the request log records equals the
catalog arithmetic on the mock provider's token counts, for both APIs, streamed and not, with
cached tokens; the usage chunk the gateway asked for never reaches a client that did not."""

from __future__ import annotations

import pytest

from tests.plugins._metering_util import catalog_cost, logs, mock_tokens

GPT_4O = {"input": "2.50", "output": "10.00", "cached_input": "1.25"}
SONNET = {"input": "3.00", "output": "15.00", "cached_input": "0.30"}
PLAIN = "please summarise the quarterly report for the board meeting on Friday"
CACHED = "CACHE_HIT " + PLAIN + " with the appendix about the regional sales figures"


def _assert_row(row, text, prices, model, provider, streamed_ttfb=True):
    inp, cached, out = mock_tokens(text)
    assert (row.input_tokens, row.cached_tokens, row.output_tokens) == (inp, cached, out)
    assert row.usage_estimated is False
    assert row.cost_usd == catalog_cost(prices, inp, cached, out)
    assert row.actual_model == model and row.provider == provider and row.status == 200
    assert row.latency_ms >= 0 and row.ttfb_ms is not None


@pytest.mark.parametrize("text", [PLAIN, CACHED], ids=["uncached", "cached"])
def test_gateway_response_filter_openai_cost_whole_and_streamed(gateway, text):
    client = gateway.openai()
    msg = [{"role": "user", "content": text}]
    whole = client.chat.completions.create(model="openai/gpt-4o", messages=msg)
    assert whole.usage.prompt_tokens_details.cached_tokens == mock_tokens(text)[1]
    chunks = list(client.chat.completions.create(model="openai/gpt-4o", messages=msg, stream=True))
    # The gateway asked the provider for usage; this client did not, so it never sees that chunk.
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: " + text
    rows = logs(gateway, 2)
    for row in rows:
        _assert_row(row, text, GPT_4O, "openai/gpt-4o", "openai")
    upstream = gateway.mock.state.requests[-1]["body"]
    assert upstream["stream_options"] == {"include_usage": True}


def test_gateway_prepare_attempt_keeps_the_usage_chunk_a_client_asked_for(gateway):
    chunks = list(gateway.openai().chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": PLAIN}], stream=True,
        stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == mock_tokens(PLAIN)[0]
    _assert_row(logs(gateway, 1)[0], PLAIN, GPT_4O, "openai/gpt-4o", "openai")


@pytest.mark.parametrize("text", [PLAIN, CACHED], ids=["uncached", "cached"])
def test_gateway_response_filter_anthropic_cost_whole_and_streamed(gateway, text):
    client = gateway.anthropic()
    msg = [{"role": "user", "content": text}]
    whole = client.messages.create(model="anthropic/claude-sonnet-4-5", max_tokens=500, messages=msg)
    assert whole.usage.cache_read_input_tokens == mock_tokens(text)[1]
    with client.messages.stream(model="anthropic/claude-sonnet-4-5", max_tokens=500,
                                messages=msg) as stream:
        assert "".join(stream.text_stream) == "echo: " + text
    for row in logs(gateway, 2):
        # input_tokens counts every input token: Anthropic's uncached input plus cache reads.
        _assert_row(row, text, SONNET, "anthropic/claude-sonnet-4-5", "anthropic")


def test_gateway_call_complete_log_row_names_who_what_and_how(gateway):
    gateway.openai(key=gateway.app_key).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Agent-Id": "coder", "X-Cost-Mode": "heavy"})
    row = logs(gateway, 1)[0]
    assert row.key_prefix == gateway.app_key[:len(row.key_prefix)] and row.key_name == "default"
    assert row.app_id is not None and row.user_id is None and row.org_id is not None
    assert (row.endpoint, row.requested_model, row.actual_model) == (
        "/v1/chat/completions", "gpt-4o-mini", "openai/gpt-4o-mini")
    assert (row.agent_id, row.cost_mode, row.cache_hit, row.fallback_attempts) == (
        "coder", "heavy", False, 0)
    assert row.request_id.startswith("req_")


def test_embeddings_and_responses_are_metered(gateway):
    client = gateway.openai()
    emb = client.embeddings.create(model="openai/text-embedding-3-small", input="hello there")
    resp = client.responses.create(model="openai/gpt-4o-mini", input="what is metering")
    rows = logs(gateway, 2)
    assert rows[0].input_tokens == emb.usage.prompt_tokens and rows[0].output_tokens == 0
    assert rows[0].cost_usd == catalog_cost(
        {"input": "0.02", "output": "0", "cached_input": "0.02"}, emb.usage.prompt_tokens, 0, 0)
    assert rows[1].input_tokens == resp.usage.input_tokens > 0
    assert rows[1].output_tokens == resp.usage.output_tokens > 0


def test_gateway_transform_request_asks_a_translated_stream_for_usage(gateway):
    """OpenAI client, Anthropic provider (routing translates): metered from the provider's real
    usage, and still no usage chunk for a client that did not ask."""
    chunks = list(gateway.openai().chat.completions.create(
        model="anthropic/claude-sonnet-4-5", messages=[{"role": "user", "content": PLAIN}],
        stream=True))
    assert chunks and all(c.usage is None for c in chunks)
    _assert_row(logs(gateway, 1)[0], PLAIN, SONNET, "anthropic/claude-sonnet-4-5", "anthropic")


def test_a_call_to_an_unpriced_model_is_marked_unpriced_not_free(gateway):
    from sqlalchemy import select

    from gateway.db.models import RequestLog

    gateway.openai().chat.completions.create(model="openai/some-model-nobody-priced",
                                             messages=[{"role": "user", "content": "x"}])
    gateway.openai().chat.completions.create(model="openai/gpt-4o",
                                             messages=[{"role": "user", "content": "x"}])
    gateway.ctx.extensions["metering"].flush()
    with gateway.ctx.sessions() as session:
        rows = session.scalars(select(RequestLog).order_by(RequestLog.id)).all()
    assert [(r.actual_model, r.unpriced) for r in rows] == [
        ("openai/some-model-nobody-priced", True), ("openai/gpt-4o", False)]
