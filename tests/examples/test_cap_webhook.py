"""The cap webhook example: a 402 at a spending cap becomes a POST to a local receiver; other
refusals send nothing. As a dropped-in file and as an installed package."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

from gateway import admin_ops, testing
from gateway.errors import ConfigError
from tests.examples.conftest import example_file, installed

MSG = [{"role": "user", "content": "hi"}]


class Receiver:
    """A local webhook receiver that keeps every JSON body it was sent."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        received = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append({"body": json.loads(self.rfile.read(length)),
                                 "auth": self.headers.get("Authorization")})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()


def capped_key(gw: testing.TestGateway) -> str:
    gw.admin(admin_ops.create_user, "capped@acme.test", "Capped", org_slug="acme",
             weekly_cap_usd="0.000001")
    gw.reload()
    return gw.admin(admin_ops.create_key, user_email="capped@acme.test")[0]


def assert_notifies(gw: testing.TestGateway, receiver: Receiver) -> None:
    gw.openai().chat.completions.create(model="openai/gpt-4o-mini", messages=MSG)  # no cap
    with pytest.raises(openai.NotFoundError):
        gw.openai().chat.completions.create(model="nosuch/model-x", messages=MSG)
    with pytest.raises(openai.APIStatusError) as err:
        gw.openai(key=capped_key(gw)).chat.completions.create(model="openai/gpt-4o",
                                                              messages=MSG)
    assert err.value.status_code == 402
    events = receiver.wait(1)
    time.sleep(0.3)  # nothing else arrives: only the cap refusal is an event
    assert len(events) == 1
    event = events[0]["body"]
    assert event["event"] == "cap_reached" and event["user"] == "capped@acme.test"
    assert event["org"] == "acme" and event["model"] == "openai/gpt-4o"
    assert event["message"] == err.value.body["message"]
    assert event["request_id"] == err.value.response.headers["x-gateway-request-id"]
    assert events[0]["auth"] == "Bearer hook-secret"


def config(receiver: Receiver) -> dict:
    return {"cap_webhook": {"url": receiver.url, "headers": {"Authorization": "Bearer hook-secret"}}}


def test_gateway_call_failed_posts_cap_refusals_as_a_dropped_in_file(tmp_path, receiver):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "cap_webhook.py").write_text(example_file("cap_webhook").read_text())
    with testing.gateway(plugins_dir=folder, config=config(receiver)) as gw:
        assert_notifies(gw, receiver)


def test_as_an_installed_package(tmp_path, receiver):
    with installed("cap_webhook", tmp_path / "site"), \
            testing.gateway(config=config(receiver)) as gw:
        assert {i.name: i.kind for i in gw.ctx.hooks.pm.infos()}["cap_webhook"] == "entry point"
        assert_notifies(gw, receiver)


def test_without_its_url_the_gateway_does_not_start():
    with pytest.raises(ConfigError, match=r"plugins\.cap_webhook\.url: required"), \
            testing.gateway(example_file("cap_webhook")):
        pass
