"""The header enforcer example: unit-tested with the test kit, through a real gateway with the
SDKs as a dropped-in file and as an installed package, and the whole newcomer's path with
`llm-gateway up --plugins-dir`."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys

import anthropic
import httpx
import openai
import pytest

from gateway import testing
from gateway.errors import BadRequest, Forbidden
from tests.examples.conftest import example_file, installed
from tests.test_cli_up import Output, clean_env, free_port, wait_http

MSG = [{"role": "user", "content": "hi"}]
TEAM_HEADER = example_file("team_header")


def test_gateway_admit_of_the_example_with_the_test_kit():
    with testing.context(TEAM_HEADER) as tctx:
        with pytest.raises(BadRequest, match="missing X-Team header"):
            tctx.run("gateway_admit", call=testing.tcall())
        call = testing.tcall(headers={"x-team": "red"})  # header names are case-insensitive
        tctx.run("gateway_admit", call=call)
        assert tctx.hooks.response_headers(call)["X-Team"] == "red"

        tctx.configure("team_header", {"header": "X-Squad", "teams": ["blue"]})
        with pytest.raises(Forbidden, match="team 'red' may not use this gateway"):
            tctx.run("gateway_admit", call=testing.tcall(headers={"X-Squad": "red"}))
        tctx.configure("team_header", {"teams": "blue"})  # refused: the last good one stays
        assert tctx.ctx.extensions["plugin_config"].error == (
            "model_config.yaml: plugins.team_header.teams: must be a list")


def assert_enforced(gw: testing.TestGateway) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        gw.openai().chat.completions.create(model="openai/gpt-4o-mini", messages=MSG)
    assert err.value.status_code == 400
    assert err.value.body["message"] == "missing X-Team header: every call must name its team"
    assert err.value.body["type"] == "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError) as err2:
        gw.anthropic().messages.create(model="anthropic/claude-haiku-4-5", max_tokens=20,
                                       messages=MSG)
    assert err2.value.body["type"] == "error"  # Anthropic's shape
    assert "missing X-Team header" in err2.value.body["error"]["message"]
    assert gw.received == []  # refused calls never reach the provider

    reply = gw.openai(default_headers={"X-Team": "red"}).chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=MSG)
    assert reply.parse().choices[0].message.content == "echo: hi"
    assert reply.headers["x-team"] == "red"
    assert len(gw.received) == 1 and gw.received[0]["body"]["messages"] == MSG


def test_as_a_dropped_in_file_with_real_sdk_calls(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copy(TEAM_HEADER, folder)
    with testing.gateway(plugins_dir=folder) as gw:
        assert gw.ctx.hooks.pm.plugin_files == {"team_header": folder / "team_header.py"}
        assert_enforced(gw)


def test_as_an_installed_package_with_real_sdk_calls(tmp_path):
    with installed("team_header", tmp_path / "site"), testing.gateway() as gw:
        info = {i.name: i for i in gw.ctx.hooks.pm.infos()}["team_header"]
        assert info.kind == "entry point" and info.version == "0.1.0"
        assert "llm-gateway-team-header" in info.source
        assert_enforced(gw)


def sign_in(admin_url: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=admin_url, timeout=10)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                      client.get("/login").text).group(1)
    client.post("/login", data={"email": "admin@localhost", "password": password,
                                "csrf_token": token})
    return client


@pytest.mark.slow
def test_copy_the_example_start_up_and_see_it_everywhere(tmp_path):
    """The issue's "done when": copy the file, start with --plugins-dir, see it in `plugins list`
    and the admin, and its behaviour applies to real SDK calls."""
    folder = tmp_path / "my-plugins"
    folder.mkdir()
    shutil.copy(TEAM_HEADER, folder)
    env = clean_env(tmp_path)
    listed = subprocess.run([sys.executable, "-m", "gateway.cli", "plugins", "list",
                             "--plugins-dir", str(folder)], env=env, capture_output=True,
                            text=True, check=True).stdout
    assert f"team_header (directory)\n  source: {folder / 'team_header.py'}" in listed
    port, admin_port, mock_port = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "up", "--mock-if-unconfigured", "--port", str(port),
         "--admin-port", str(admin_port), "--mock-port", str(mock_port), "--plugins-dir",
         str(folder)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        password = out.wait_for(r"Password\s+(\S+)").group(1)
        key = out.wait_for(r"export GATEWAY_KEY=(sk-gw-\S+)").group(1)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        wait_http(f"http://127.0.0.1:{admin_port}/healthz")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.BadRequestError, match="missing X-Team header"):
            client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSG)
        reply = client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSG,
                                               extra_headers={"X-Team": "red"})
        assert reply.choices[0].message.content == "echo: hi"
        settings = sign_in(f"http://127.0.0.1:{admin_port}", password).get("/settings/").text
        assert '<span class="strong">team_header</span>' in settings
        assert str(folder / "team_header.py") in settings
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
