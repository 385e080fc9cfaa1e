"""Per-plugin configuration: `plugins:` in model_config.yaml, validated by the schema a plugin
declares, read through its context, reloaded when the file changes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from gateway.errors import ConfigError
from gateway.pluginmanager import hookimpl, plugin_config
from gateway.pluginmanager._config import parse_section
from tests.gateway_fixtures import ROOT


@dataclass(frozen=True)
class Nested:
    url: str
    retries: int = 2


@dataclass(frozen=True)
class Schema:
    greeting: str
    teams: list[str] = field(default_factory=list)
    ratio: float = 0.5
    loud: bool = False
    hook: Nested | None = None
    extra: dict[str, int] = field(default_factory=dict)


@pytest.mark.parametrize("raw, error", [
    ({}, "plugins.p.greeting: required"),
    ({"greeting": 3}, "plugins.p.greeting: must be a string"),
    ({"greeting": "hi", "teams": "red"}, "plugins.p.teams: must be a list"),
    ({"greeting": "hi", "teams": ["red", 4]}, "plugins.p.teams[1]: must be a string"),
    ({"greeting": "hi", "loud": "yes"}, "plugins.p.loud: must be true or false"),
    ({"greeting": "hi", "ratio": True}, "plugins.p.ratio: must be a number"),
    ({"greeting": "hi", "hook": {}}, "plugins.p.hook.url: required"),
    ({"greeting": "hi", "extra": {"a": "b"}}, "plugins.p.extra.a: must be an integer"),
    ({"greeting": "hi", "colour": 1}, "plugins.p: unknown key(s) colour"),
    ("hi", "plugins.p: must be a mapping"),
])
def test_errors_name_the_key_at_fault(raw, error):
    with pytest.raises(ConfigError) as err:
        parse_section("plugins.p", Schema, raw)
    assert str(err.value).startswith(error)


def test_a_valid_section_becomes_the_dataclass_with_its_defaults():
    value = parse_section("plugins.p", Schema, {"greeting": "hi", "ratio": 2,
                                                "hook": {"url": "http://x"}})
    assert value == Schema(greeting="hi", ratio=2.0, hook=Nested("http://x"))
    mapping = parse_section("plugins.q", {"url": str, "timeout": (float, 5.0)}, {"url": "u"})
    assert dict(mapping) == {"url": "u", "timeout": 5.0}
    with pytest.raises(TypeError):
        mapping["url"] = "changed"  # read-only


class Greeter:
    """Answers with a header built from its configuration, read per call."""

    @hookimpl
    def gateway_plugin_config_schema(self) -> Any:
        return Schema

    @hookimpl
    def gateway_response_headers(self, call):
        cfg = plugin_config(call.ctx, "greeter")
        return {"X-Greeting": f"{cfg.greeting} {','.join(cfg.teams)}"}


def config_file(tmp_path, plugins: Any):
    data = yaml.safe_load((ROOT / "model_config.yaml").read_text())
    data["plugins"] = plugins
    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def rewrite(path, plugins: Any) -> None:
    data = yaml.safe_load(path.read_text())
    data["plugins"] = plugins
    path.write_text(yaml.safe_dump(data))
    stat = path.stat()  # a new mtime even within the file system's timestamp granularity
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_gateway_plugin_config_schema_values_reach_calls_and_reload(gateway_factory, tmp_path):
    path = config_file(tmp_path, {"greeter": {"greeting": "hello", "teams": ["red"]}})
    gw = gateway_factory(plugins=[("greeter", Greeter())], GATEWAY_CONFIG=str(path))
    chat = gw.openai().chat.completions.with_raw_response.create
    messages = [{"role": "user", "content": "hi"}]
    assert chat(model="openai/gpt-4o", messages=messages).headers["x-greeting"] == "hello red"

    rewrite(path, {"greeter": {"greeting": "bonjour", "teams": ["red", "blue"]}})
    assert gw.ctx.poll_once()
    assert chat(model="openai/gpt-4o", messages=messages).headers["x-greeting"] == "bonjour red,blue"

    rewrite(path, {"greeter": {"greeting": 42}})  # a bad edit: the last good values stay
    gw.ctx.poll_once()
    assert chat(model="openai/gpt-4o", messages=messages).headers["x-greeting"] == "bonjour red,blue"
    assert gw.ctx.extensions["plugin_config"].error == (
        "model_config.yaml: plugins.greeter.greeting: must be a string")


def test_a_bad_section_stops_the_start_naming_the_key(gateway_factory, tmp_path):
    path = config_file(tmp_path, {"greeter": {"greeting": "hi", "teams": [1]}})
    with pytest.raises(ConfigError, match=r"plugins\.greeter\.teams\[0\]: must be a string"):
        gateway_factory(plugins=[("greeter", Greeter())], GATEWAY_CONFIG=str(path))
