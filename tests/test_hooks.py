"""One test per hook (named after it), each through a real gateway and the mock provider."""

from __future__ import annotations

import json

import httpx
import openai
import pluggy
import pytest

from gateway.call import LocalResponse, ModelInfo, Principal, ResponseFilter, Route
from gateway.errors import PaymentRequired

hookimpl = pluggy.HookimplMarker("llm_gateway")
MSG = [{"role": "user", "content": "hello world"}]


class Recorder:
    def __init__(self):
        self.seen: dict[str, list] = {}

    def add(self, name, value):
        self.seen.setdefault(name, []).append(value)


def chat(gw, model="openai/gpt-4o-mini", **kwargs):
    return gw.openai().chat.completions.with_raw_response.create(model=model, messages=MSG, **kwargs)


def test_gateway_startup_and_gateway_shutdown(gateway_factory):
    rec = Recorder()

    class P:
        @hookimpl
        def gateway_startup(self, ctx):
            rec.add("startup", ctx)

        @hookimpl
        def gateway_shutdown(self, ctx):
            rec.add("shutdown", ctx)

    gw = gateway_factory(plugins=[P()])
    assert rec.seen["startup"] == [gw.ctx]
    gw.stop()
    assert rec.seen["shutdown"] == [gw.ctx]


def test_gateway_register_commands(capsys):
    from gateway.cli import build_parser, main
    from gateway.pluginmanager import make_plugin_manager

    class P:
        @hookimpl
        def gateway_register_commands(self, subparsers):
            cmd = subparsers.add_parser("hello-plugin", help="say hi")
            cmd.set_defaults(func=lambda args: print("hi from plugin") or 0)

    pm = make_plugin_manager(extra=[P()])
    assert main(["hello-plugin"], pm=pm) == 0
    assert "hi from plugin" in capsys.readouterr().out
    assert "hello-plugin" in build_parser(pm).format_help()


def test_gateway_authenticate(gateway_factory):
    class P:
        @hookimpl
        def gateway_authenticate(self, call, credential):
            if credential == "sso-token-123":
                return Principal(key_id=0, key_prefix="sso", key_name="sso", user_email="sso@x.test")
            return None

    gw = gateway_factory(plugins=[P()])
    resp = gw.openai(key="sso-token-123").chat.completions.create(model="openai/gpt-4o", messages=MSG)
    assert resp.choices[0].message.content == "echo: hello world"
    assert chat(gw).parse().choices  # the core key store still answers for real keys


def test_gateway_resolve_model(gateway_factory):
    class P:
        @hookimpl
        def gateway_resolve_model(self, call):
            if call.requested_model == "team-default":
                return Route("openai/gpt-4.1-mini", "openai", "gpt-4.1-mini", reason="test")
            return None

    gw = gateway_factory(plugins=[P()])
    raw = chat(gw, model="team-default")
    assert raw.headers["x-gateway-model"] == "openai/gpt-4.1-mini"
    assert raw.headers["x-gateway-requested-model"] == "team-default"
    assert gw.mock.state.requests[-1]["body"]["model"] == "gpt-4.1-mini"


def test_gateway_provider(gateway_factory):
    from dataclasses import replace

    class P:
        @hookimpl
        def gateway_provider(self, name, default):
            return replace(default, api_key="sk-from-plugin") if name == "openai" else None

    gw = gateway_factory(plugins=[P()])
    chat(gw)
    assert gw.mock.state.requests[-1]["headers"]["authorization"] == "Bearer sk-from-plugin"


class Fallback:
    @hookimpl
    def gateway_plan_candidates(self, call, primary):
        return [primary, Route("openai/gpt-4o-mini", "openai", "gpt-4o-mini", reason="fallback")]

    @hookimpl
    def gateway_retry(self, call, attempt, failure):
        return True


def test_gateway_plan_candidates_and_gateway_retry(gateway_factory):
    gw = gateway_factory(plugins=[Fallback()])
    raw = chat(gw, model="openai/mock-fail-503")
    assert raw.parse().choices[0].message.content == "echo: hello world"
    assert raw.headers["x-gateway-fallback"] == "true"
    assert raw.headers["x-gateway-model"] == "openai/gpt-4o-mini"
    # streaming stays streaming across the retry
    stream = gw.openai().chat.completions.create(model="openai/mock-fail-429", messages=MSG,
                                                 stream=True)
    parts = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(parts) >= 3 and "".join(parts) == "echo: hello world"


def test_gateway_retry_false_gives_up(gateway_factory):
    class NoRetry(Fallback):
        @hookimpl
        def gateway_retry(self, call, attempt, failure):
            return False

    gw = gateway_factory(plugins=[NoRetry()])
    with pytest.raises(openai.APIStatusError) as err:
        chat(gw, model="openai/mock-fail-503")
    assert err.value.status_code == 503


def test_gateway_admit(gateway_factory):
    class P:
        @hookimpl
        def gateway_admit(self, call):
            raise PaymentRequired("weekly cap of $5.00 reached; resets Monday 00:00 UTC")

    gw = gateway_factory(plugins=[P()])
    before = len(gw.mock.state.requests)
    with pytest.raises(openai.APIStatusError) as err:
        chat(gw)
    assert err.value.status_code == 402 and "weekly cap" in err.value.body["message"]
    assert len(gw.mock.state.requests) == before


def test_gateway_transform_request(gateway_factory):
    class P:
        @hookimpl
        def gateway_transform_request(self, call):
            call.body["messages"] = [{"role": "user", "content": "[EMAIL_1] wrote"}]

    gw = gateway_factory(plugins=[P()])
    assert chat(gw).parse().choices[0].message.content == "echo: [EMAIL_1] wrote"


def test_gateway_prepare_attempt(gateway_factory):
    class P:
        @hookimpl
        def gateway_prepare_attempt(self, call, attempt):
            attempt.headers["x-attempt"] = str(attempt.number)
            attempt.body["user"] = "gateway"

    gw = gateway_factory(plugins=[P()])
    chat(gw)
    seen = gw.mock.state.requests[-1]
    assert seen["headers"]["x-attempt"] == "1" and seen["body"]["user"] == "gateway"


class Shout(ResponseFilter):
    def on_json(self, body):
        body["choices"][0]["message"]["content"] = body["choices"][0]["message"]["content"].upper()
        return body

    def on_event(self, event):
        data = event.json
        if data and data.get("choices") and data["choices"][0]["delta"].get("content"):
            data["choices"][0]["delta"]["content"] = data["choices"][0]["delta"]["content"].upper()
            event.touch()
        return (event,)


def test_gateway_response_filter(gateway_factory):
    class P:
        @hookimpl
        def gateway_response_filter(self, call, attempt):
            return Shout()

    gw = gateway_factory(plugins=[P()])
    assert chat(gw).parse().choices[0].message.content == "ECHO: HELLO WORLD"
    stream = gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "ECHO: HELLO WORLD"


def test_gateway_call_complete_and_gateway_call_failed(gateway_factory):
    rec = Recorder()

    class P:
        @hookimpl
        def gateway_call_complete(self, call):
            rec.add("complete", (call.status, call.usage.input_tokens, call.usage.output_tokens))

        @hookimpl
        def gateway_call_failed(self, call, error):
            rec.add("failed", (error.status, call.status, call.attempt.status))

    gw = gateway_factory(plugins=[P()])
    chat(gw)
    with pytest.raises(openai.APIStatusError):
        chat(gw, model="openai/mock-fail-500")
    status, tokens_in, tokens_out = rec.seen["complete"][0]
    assert status == 200 and tokens_in > 0 and tokens_out > 0
    # call.status is what the client got; the provider's own answer stays on the attempt
    assert rec.seen["failed"] == [(502, 502, 500)]


def test_gateway_list_models(gateway_factory):
    class P:
        @hookimpl
        def gateway_list_models(self, principal):
            return [ModelInfo(id="alias/cheap", owned_by="gateway", kind="alias")]

    gw = gateway_factory(plugins=[P()])
    ids = [m.id for m in gw.openai().models.list()]
    assert "alias/cheap" in ids and "openai/gpt-4o" in ids


def test_gateway_local_request(gateway_factory):
    class P:
        @hookimpl
        def gateway_local_request(self, request):
            if request.path == "/metrics":
                return LocalResponse(200, b"gateway_up 1\n", "text/plain; version=0.0.4")
            return None

    gw = gateway_factory(plugins=[P()], entry_points=False)  # metering serves error reports
    resp = httpx.get(gw.url + "/metrics")
    assert resp.status_code == 200 and resp.text == "gateway_up 1\n"
    assert httpx.post(gw.url + "/v1/error-reports", json={}).status_code == 404


def test_gateway_response_headers(gateway_factory):
    class P:
        @hookimpl
        def gateway_response_headers(self, call):
            return {"x-gateway-strategy": "ordered"}

    gw = gateway_factory(plugins=[P()])
    assert chat(gw).headers["x-gateway-strategy"] == "ordered"
    with gw.openai().chat.completions.with_streaming_response.create(
            model="openai/gpt-4o", messages=MSG, stream=True) as resp:
        assert resp.headers["x-gateway-strategy"] == "ordered"


class DictCache:
    def __init__(self):
        self.store: dict[str, object] = {}

    @staticmethod
    def key(call, attempt):
        return json.dumps([attempt.route.model, attempt.body], sort_keys=True)

    @hookimpl
    def gateway_cache_lookup(self, call, attempt):
        hit = self.store.get(self.key(call, attempt))
        if hit is None:
            call.store_answer = True
        return hit

    @hookimpl
    def gateway_cache_store(self, call, attempt, answer):
        self.store[self.key(call, attempt)] = answer


def test_gateway_cache_lookup_and_gateway_cache_store(gateway_factory):
    cache = DictCache()
    gw = gateway_factory(plugins=[cache])
    first, second = chat(gw, temperature=0), chat(gw, temperature=0)
    assert first.headers["x-gateway-cache"] == "miss" and second.headers["x-gateway-cache"] == "hit"
    assert second.parse().choices[0].message.content == "echo: hello world"
    upstream_calls = len(gw.mock.state.requests)

    def stream_text():
        with gw.openai().chat.completions.with_streaming_response.create(
                model="openai/gpt-4o", messages=MSG, stream=True, temperature=0) as resp:
            text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
            return resp.headers["x-gateway-cache"], text

    assert stream_text() == ("miss", "echo: hello world")
    assert stream_text() == ("hit", "echo: hello world")
    assert len(gw.mock.state.requests) == upstream_calls + 1
    assert len(cache.store) == 2
