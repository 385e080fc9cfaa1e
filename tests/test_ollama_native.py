"""Ollama's native API through the gateway with the official `ollama` client: chat (streamed by
default), generate, embed and the model list, authenticated with a gateway key."""

from __future__ import annotations

import httpx
import ollama
import pytest


def client(gw, key=None):
    return ollama.Client(host=gw.url, headers={"authorization": f"Bearer {key or gw.user_key}"})


def test_chat_streamed_and_whole(gateway):
    c = client(gateway)
    reply = c.chat(model="llama3.2", messages=[{"role": "user", "content": "hi there"}])
    assert reply.message.content == "echo: hi there"
    assert reply.prompt_eval_count > 0 and reply.eval_count > 0
    parts = [p.message.content for p in c.chat(model="ollama/llama3.2", stream=True,
                                                messages=[{"role": "user", "content": "a b c d"}])]
    assert len(parts) >= 4 and "".join(parts) == "echo: a b c d"
    seen = gateway.mock.state.requests[-1]
    assert seen["path"] == "/api/chat" and seen["body"]["model"] == "llama3.2"


def test_generate_embed_and_tags(gateway):
    c = client(gateway)
    assert c.generate(model="llama3.2", prompt="yo").response == "echo: yo"
    assert len(c.embed(model="llama3.2", input=["a", "b"]).embeddings) == 2
    names = [m.model for m in c.list().models]
    assert "llama3.2" in names and all("/" not in n for n in names)


def test_errors_in_ollamas_shape(gateway):
    resp = httpx.post(gateway.url + "/api/chat", json={"model": "llama3.2", "messages": []},
                      headers={"authorization": "Bearer sk-gw-wrong"})
    assert resp.status_code == 401 and resp.json() == {"error": "invalid API key"}
    with pytest.raises(ollama.ResponseError) as err:
        client(gateway).chat(model="openai/gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 400 and "Ollama providers only" in err.value.error


def test_metered_from_ollamas_own_counts(gateway):
    import time

    from sqlalchemy import select

    from gateway.db.models import RequestLog

    client(gateway).chat(model="llama3.2", messages=[{"role": "user", "content": "count me in"}])
    deadline = time.monotonic() + 5
    row = None
    while time.monotonic() < deadline and row is None:
        with gateway.ctx.sessions() as s:
            row = s.scalars(select(RequestLog).where(RequestLog.endpoint == "/api/chat")).first()
        time.sleep(0.1)
    assert row is not None and row.provider == "ollama" and row.actual_model == "ollama/llama3.2"
    assert row.input_tokens > 0 and row.output_tokens > 0 and not row.usage_estimated


def test_dlp_restores_split_placeholders_in_ndjson(gateway):
    from plugins.dlp import admin_api

    with gateway.ctx.sessions() as s:
        admin_api.set_enabled(s, True, org="acme")
        s.commit()
    gateway.ctx.poll_once()
    text = "mail jane.doe@example.com now"
    parts = [p.message.content for p in client(gateway).chat(
        model="gpt-oss-mock-chunk-delay-5", stream=True, messages=[{"role": "user", "content": text}])]
    assert "".join(parts) == "echo: " + text
    sent = gateway.mock.state.requests[-1]["body"]["messages"][-1]["content"]
    assert "jane.doe@example.com" not in sent and "[EMAIL_1]" in sent


def test_dlp_restore_of_ndjson_lines_for_any_split():
    import json
    import random

    from gateway.call import SSEEvent
    from plugins.dlp._placeholders import Placeholders
    from plugins.dlp._restore import RestoreFilter

    ph = Placeholders()
    token = ph.issue("EMAIL", "jane.doe@example.com")
    answer = f"echo: write to {token} today"
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(answer)), rng.randint(1, 8)))
        pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)])]
        lines = [{"model": "m", "message": {"role": "assistant", "content": p}, "done": False}
                 for p in pieces] + [{"model": "m", "message": {"role": "assistant", "content": ""},
                                      "done": True, "eval_count": 3}]
        f = RestoreFilter(ph)
        out = []
        for line in lines:
            for ev in f.on_event(SSEEvent(json.dumps(line))):
                out.append(json.loads(ev.data)["message"]["content"])
        out += [json.loads(ev.data)["message"]["content"] for ev in f.on_end(True)]
        assert "".join(out) == "echo: write to jane.doe@example.com today"


def test_dlp_scans_ollama_tool_call_arguments(gateway):
    from plugins.dlp import admin_api

    with gateway.ctx.sessions() as s:
        admin_api.set_enabled(s, True, org="acme")
        s.commit()
    gateway.ctx.poll_once()
    history = [
        {"role": "user", "content": "look him up"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {
            "name": "lookup", "arguments": {"who": {"email": "john.roe@example.org"}}}}]},
        {"role": "tool", "content": "found"},
        {"role": "user", "content": "thanks"},
    ]
    client(gateway).chat(model="llama3.2", messages=history)
    sent = gateway.mock.state.requests[-1]["body"]["messages"][1]["tool_calls"][0]
    assert sent["function"]["arguments"] == {"who": {"email": "[EMAIL_1]"}}
