"""One configuration model: model_config.yaml validated as a whole (the core's sections, the
built-in plugins' sections, any plugin's declared sections and settings), with one error line
naming the file and the key; unknown sections refused; a bad reload keeps the last good config;
`llm-gateway` refuses to start on a bad file; the admin's writer refuses with the same line."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationInfo, field_validator

from gateway.cli import main
from gateway.config import ConfigStore, default_schemas, load_config, parse_config
from gateway.config_schema import ConfigSection, PluginSchema, Schemas, collect
from gateway.errors import ConfigError
from plugins.routing import admin_api

ROOT = Path(__file__).resolve().parents[1]
SHIPPED: dict[str, Any] = yaml.safe_load((ROOT / "model_config.yaml").read_text())


def with_(**sections: Any) -> dict[str, Any]:
    return {**SHIPPED, **sections}


def error_of(data: Any, schemas: Schemas | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(data, schemas=schemas)
    return str(err.value)


@pytest.mark.parametrize("sections, line", [
    ({"providers": [{"name": "Groq!", "base_url": "https://g.test/v1"}]},
     "providers[0].name: must be a lower-case name like 'groq'"),
    ({"providers": [{"name": "groq", "base_url": "ftp://g.test"}]},
     "providers[0].base_url: must be an http(s) URL"),
    ({"providers": [{"name": "groq", "kind": "grpc", "base_url": "https://g.test"}]},
     "providers[0].kind: must be one of openai, anthropic or ollama"),
    ({"providers": [{"name": "openai", "base_url": "https://g.test"}]},
     "providers[0].name: 'openai' is already defined"),
    ({"models": {"openai/gpt-9": {"input": "cheap"}}}, "models.openai/gpt-9.input: must be a number"),
    ({"models": {"openai/gpt-9": {"input": -1}}}, "models.openai/gpt-9.input: must be at least 0"),
    ({"models": {"openai/gpt-9": {"context_window": 0}}},
     "models.openai/gpt-9.context_window: must be greater than 0"),
    ({"models": {"nobody/m": {}}},
     "models.nobody/m: unknown provider 'nobody' (declare it under providers:)"),
    ({"models": {"openai/gpt-9": {"imput": 1}}}, "models.openai/gpt-9: unknown key(s) imput"),
    ({"genai_prices": "no"}, "genai_prices: must be true or false"),
    ({"intercept": {"hosts": {"api.x.ai": "grok"}}},
     "intercept.hosts.api.x.ai: must be one of openai or anthropic"),
    ({"plugins": ["routing"]}, "plugins: must be a mapping"),
    ({"roles": {"coder": {"normal": "openai/x", "heavy": "openai/gpt-4o", "max": "openai/gpt-4o"}}},
     "roles.coder.normal: model 'openai/x' is not in the catalog"),
    ({"agents": [{"id": "a", "role": "ghost"}]},
     "agents[0].role: unknown role 'ghost' (define it under roles:)"),
    ({"metering": {"week_start": "funday"}}, "metering.week_start: must be a weekday name"),
    ({"metering": {"org_period": "year"}}, "metering.org_period: must be one of month or week"),
    ({"metering": {"flush_rows": "many"}}, "metering.flush_rows: must be an integer"),
    ({"dlp": {"time_budget_ms": 0}}, "dlp.time_budget_ms: must be greater than 0"),
    ({"dlp": {"max_scan_chars": True}}, "dlp.max_scan_chars: must be an integer"),
])
def test_each_section_names_the_key_at_fault(sections, line):
    assert error_of(with_(**sections)).startswith(f"model_config.yaml: {line}")


def test_one_line_says_how_many_more_faults_there_are():
    line = error_of({"metering": {"flush_rows": 0, "queue_size": 0, "flush_interval_ms": 0}})
    assert line == ("model_config.yaml: metering.flush_interval_ms: must be greater than 0 "
                    "(and 2 more errors)")  # in the order of the section's fields
    assert "\n" not in line


def test_a_misspelt_key_is_named_before_what_it_leaves_missing():
    line = error_of({"providers": [{"name": "groq", "base_ur": "https://g.test"}]})
    assert line.startswith("model_config.yaml: providers[0]: unknown key(s) base_ur (and 1 more")


def test_an_unknown_top_level_section_is_refused_naming_the_known_ones():
    line = error_of(with_(metring={"flush_rows": 10}))
    assert line.startswith("model_config.yaml: metring: unknown section (known: agents, dlp, ")
    assert "metering" in line and "providers" in line


def test_errors_never_echo_values_which_may_be_secrets():
    secret = "sk-live-0123456789abcdef"
    for data in [{"providers": [{"name": "groq", "base_url": "https://g.test", "api_key": secret}]},
                 {"providers": [{"name": "groq", "base_url": secret, "api_key_env": "K"}]},
                 {"providers": [{"name": "groq", "base_url": "https://g.test", "api_key_env": secret}]},
                 {"intercept": {"hosts": {"a.test": secret}}}]:
        assert secret not in error_of(data)
    bad_yaml = f"providers:\n  - name: groq\n    api_key: {secret}\n   base_url: [\n"
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"secret-{os.getpid()}.yaml"
    path.write_text(bad_yaml)
    try:
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert secret not in str(err.value) and "not valid YAML" in str(err.value)
    finally:
        path.unlink()


# -- plugins declare their sections and settings ------------------------------------------------

class Quota(ConfigSection):
    teams: dict[str, int] = {}
    model: str = "openai/gpt-4o"

    @field_validator("model")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        if info.context is not None and not info.context.knows(value):
            raise ValueError(f"unknown model {value!r}")
        return value


class QuotaSections(ConfigSection):
    quota: Quota = Quota()


# A pydantic-sections plugin, and one declaring its settings the older way (a mapping).
QUOTA = collect({"quota": PluginSchema(sections=QuotaSections), "hooks": {"webhook": str}})


def test_a_plugin_declared_section_is_accepted_validated_and_read_typed():
    config = parse_config({"quota": {"teams": {"red": 3}}, "plugins": {"hooks": {"webhook": "u"}}},
                          schemas=QUOTA)
    assert config.sections_of(QuotaSections).quota.teams == {"red": 3}
    assert dict(config.settings["hooks"]) == {"webhook": "u"}
    assert error_of({"quota": {"teams": {"red": "x"}}}, QUOTA) == (
        "model_config.yaml: quota.teams.red: must be an integer")
    assert error_of({"quota": {"model": "openai/nope"}}, QUOTA) == (
        "model_config.yaml: quota.model: unknown model 'openai/nope'")
    assert error_of({"plugins": {"hooks": {}}}, QUOTA) == (
        "model_config.yaml: plugins.hooks.webhook: required")
    assert error_of({"quota": {}}, Schemas()).startswith("model_config.yaml: quota: unknown section")


def test_two_plugins_cannot_declare_one_section():
    with pytest.raises(ConfigError, match="section 'quota' is declared by both plugin a and plugin b"):
        collect({"a": PluginSchema(sections=QuotaSections), "b": PluginSchema(sections=QuotaSections)})


def test_a_built_in_plugins_section_is_ignored_when_that_plugin_is_not_loaded():
    config = parse_config(SHIPPED, schemas=Schemas())  # roles:, agents: without routing
    assert "roles" in config.raw
    assert {"routing", "metering", "dlp"} <= set(default_schemas().sections)


# -- reload, start, the admin's writer ----------------------------------------------------------

def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data))
    stamp = path.stat()  # a new mtime even within the file system's timestamp granularity
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))


def test_a_bad_reload_keeps_the_last_good_config_and_logs_one_line(tmp_path, caplog):
    path = tmp_path / "model_config.yaml"
    write(path, with_(metering={"flush_rows": 10}))
    store = ConfigStore(path, schemas=default_schemas())
    good = store.current
    write(path, with_(metering={"flush_rows": -1}))
    with caplog.at_level(logging.ERROR, logger="gateway.config"):
        assert store.check() is False
    assert store.current is good
    assert store.error == "model_config.yaml: metering.flush_rows: must be greater than 0"
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.config"]
    assert lines == ["model config reload failed, keeping the last good one: "
                     "model_config.yaml: metering.flush_rows: must be greater than 0"]
    write(path, with_(metering={"flush_rows": 20}))
    assert store.check() is True and store.error is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_cli_refuses_to_start_on_a_bad_file_with_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "model_config.yaml"
    write(path, with_(metering={"week_start": "funday"}))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    assert main(["proxy", "--port", str(_free_port())]) == 1
    err = capsys.readouterr().err
    assert err.startswith("llm-gateway: model_config.yaml: metering.week_start: must be a weekday")
    assert len(err.strip().splitlines()) == 1


def test_up_exits_1_with_the_line_and_no_traceback(tmp_path):
    path = tmp_path / "model_config.yaml"
    write(path, with_(metring={}))
    env = {**os.environ, "GATEWAY_CONFIG": str(path), "GATEWAY_DATA_DIR": str(tmp_path / "data"),
           "OPENAI_API_KEY": "sk-test"}
    run = subprocess.run([sys.executable, "-m", "gateway.cli", "up", "--port", str(_free_port()),
                          "--admin-port", str(_free_port())],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "llm-gateway: model_config.yaml: metring: unknown section" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert not (tmp_path / "data" / "gateway.db").exists()  # nothing started


def test_the_admin_writer_refuses_with_the_reload_line(tmp_path):
    path = tmp_path / "model_config.yaml"
    write(path, SHIPPED)
    with pytest.raises(ConfigError) as err:
        admin_api.set_role_model(path, "coder", "normal", "openai/nope")
    assert str(err.value).startswith(
        "model_config.yaml: roles.coder.normal: model 'openai/nope' is not in the catalog")
    write(path, with_(metering={"flush_rows": 0}))  # a fault elsewhere: no edit goes through
    before = path.read_text()
    with pytest.raises(ConfigError, match=r"^model_config\.yaml: metering\.flush_rows: must be"):
        admin_api.set_role_model(path, "coder", "normal", "openai/gpt-4o")
    assert path.read_text() == before
