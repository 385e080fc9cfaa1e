"""A plugin that raises makes the client get a JSON error; the request is never forwarded."""

from __future__ import annotations

import anthropic
import openai
import pluggy
import pytest

from gateway.call import ResponseFilter

hookimpl = pluggy.HookimplMarker("llm_gateway")
MSG = [{"role": "user", "content": "my secret prompt"}]


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("hook", ["gateway_transform_request", "gateway_admit",
                                  "gateway_resolve_model", "gateway_plan_candidates",
                                  "gateway_prepare_attempt"])
def test_request_hook_raising_is_500_and_nothing_is_forwarded(gateway_factory, hook, caplog):
    def explode(*args, **kwargs):
        raise Boom("plugin bug")

    plugin = type("Broken", (), {hook: hookimpl(explode)})()
    gw = gateway_factory(plugins=[plugin])
    before = len(gw.mock.state.requests)
    with pytest.raises(openai.InternalServerError) as err:
        gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG)
    assert err.value.status_code == 500
    rid = err.value.response.headers["x-gateway-request-id"]
    assert rid in err.value.body["message"] and "plugin bug" not in err.value.response.text
    with pytest.raises(anthropic.InternalServerError):
        gw.anthropic().messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=MSG)
    assert len(gw.mock.state.requests) == before
    assert any(rid in r.getMessage() for r in caplog.records)


class ExplodingFilter(ResponseFilter):
    def on_json(self, body):
        raise Boom("filter bug")

    def on_event(self, event):
        raise Boom("filter bug")


def test_response_filter_raising_never_leaks_the_raw_answer(gateway_factory):
    class P:
        @hookimpl
        def gateway_response_filter(self, call, attempt):
            return ExplodingFilter()

    gw = gateway_factory(plugins=[P()])
    with pytest.raises(openai.InternalServerError) as err:
        gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG)
    assert "my secret prompt" not in err.value.response.text
    stream = gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG, stream=True)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    assert not any(c.choices and c.choices[0].delta.content for c in received)


def test_call_complete_raising_does_not_hurt_the_client(gateway_factory):
    class P:
        @hookimpl
        def gateway_call_complete(self, call):
            raise Boom("logger bug")

    gw = gateway_factory(plugins=[P()])
    resp = gw.openai().chat.completions.create(model="openai/gpt-4o", messages=MSG)
    assert resp.choices[0].message.content == "echo: my secret prompt"
