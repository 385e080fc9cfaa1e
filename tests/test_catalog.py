"""gateway.catalog and its layering under model_config.yaml: the shipped genai-prices snapshot
prices every model it knows, the config file overrides and extends it, unpriced models say so."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from gateway import catalog
from gateway.config import load_config, parse_config
from gateway.errors import ConfigError
from tests.gateway_fixtures import ROOT

SNAP = catalog.Snapshot(source="genai-prices 9.9", providers={
    "openai": {"gpt-9": {"input": "2", "output": "8", "cached_input": "0.5",
                         "context_window": 400000, "tiered": True}},
    "anthropic": {"claude-x-1": {"input": "3", "output": "15", "context_window": 200000}},
    "groq": {"llama-9": {"input": "0.1", "output": "0.2"}},
})


def test_the_shipped_snapshot_prices_the_agents_current_models():
    config = load_config(ROOT / "model_config.yaml")
    source = catalog.load_snapshot().source
    assert source.startswith("genai-prices ")
    for name in ("anthropic/claude-opus-5-5", "openai/gpt-6.2-sol", "anthropic/claude-sonnet-4-5",
                 "openai/gpt-4o-mini"):
        entry = config.models[name]
        assert entry.priced and entry.input > 0 and entry.context_window, name
        assert entry.price_source == source
    assert config.models["openai/gpt-4o-mini"].input == Decimal("0.15")


def test_the_config_file_overrides_fields_and_adds_models():
    config = parse_config({"models": {
        "openai/gpt-9": {"max_output_tokens": 32000},
        "anthropic/claude-x-1": {"input": 2.5},
        "openai/in-house": {"input": 1, "output": 2},
    }}, SNAP)
    gpt9 = config.models["openai/gpt-9"]
    assert (gpt9.input, gpt9.max_output_tokens, gpt9.context_window) == (Decimal(2), 32000, 400000)
    assert gpt9.price_source == "genai-prices 9.9" and gpt9.tiered
    claude = config.models["anthropic/claude-x-1"]
    assert (claude.input, claude.output, claude.price_source) == (
        Decimal("2.5"), Decimal(15), "model_config.yaml")
    assert config.models["openai/in-house"].price_source == "model_config.yaml"
    assert config.by_bare_name["gpt-9"] == ("openai/gpt-9",)


def test_only_providers_the_config_knows_get_snapshot_models():
    assert "groq/llama-9" not in parse_config({}, SNAP).models
    declared = parse_config({"providers": [{"name": "groq", "base_url": "https://groq.test/v1"}]},
                            SNAP)
    assert declared.models["groq/llama-9"].priced


def test_genai_prices_false_leaves_the_snapshot_out():
    config = parse_config({"genai_prices": False, "models": {"openai/gpt-9": {}}}, SNAP)
    assert list(config.models) == ["openai/gpt-9"]
    assert not config.models["openai/gpt-9"].priced
    with pytest.raises(ConfigError, match="genai_prices"):
        parse_config({"genai_prices": "no"}, SNAP)


def test_unpriced_and_ollama_models_say_so():
    config = parse_config({"models": {"openai/mystery": {}, "ollama/llama3.2": {}}}, SNAP)
    assert (config.models["openai/mystery"].priced,
            config.models["openai/mystery"].price_source) == (False, "")
    assert config.models["ollama/llama3.2"].price_source == "ollama"


def test_a_bad_override_names_the_key():
    with pytest.raises(ConfigError, match=r"models\.openai/gpt-9\.input"):
        parse_config({"models": {"openai/gpt-9": {"input": -1}}}, SNAP)


def test_no_config_file_means_the_packaged_default(tmp_path):
    config = load_config(tmp_path / "model_config.yaml")
    assert config.models["anthropic/claude-opus-5-5"].priced
    assert config.section("roles")


def test_the_packaged_default_is_the_repository_config():
    assert catalog.DEFAULT_CONFIG.read_text() == (ROOT / "model_config.yaml").read_text()
    yaml.safe_load(catalog.DEFAULT_CONFIG.read_text())


def _model(id, prices, context_window=None):
    return SimpleNamespace(id=id, prices=prices, context_window=context_window)


def test_build_snapshot_takes_base_tiers_current_dated_prices_and_real_ids():
    price = lambda **kw: SimpleNamespace(**kw)  # noqa: E731
    dated = [SimpleNamespace(constraint=None, prices=price(input_mtok=Decimal(4), output_mtok=Decimal(8))),
             SimpleNamespace(constraint=SimpleNamespace(start_date=date(2020, 1, 1)),
                             prices=price(input_mtok=Decimal(2), output_mtok=Decimal(4))),
             SimpleNamespace(constraint=SimpleNamespace(start_date=date(2999, 1, 1)),
                             prices=price(input_mtok=Decimal(1), output_mtok=Decimal(1)))]
    provider = SimpleNamespace(id="openai", models=[
        _model("big", price(input_mtok=SimpleNamespace(base=Decimal(2)), output_mtok=Decimal(10)),
               1000),
        _model("dated", dated),
        _model("embed", price(input_mtok=Decimal("0.02"))),
        _model("ft:thing", price(input_mtok=Decimal(1), output_mtok=Decimal(1))),
        _model("free-text", price()),
    ])
    snap = catalog.build_snapshot([provider], "1.0", date(2026, 1, 1))
    models = snap["providers"]["openai"]
    assert models["big"] == {"input": "2", "output": "10", "context_window": 1000, "tiered": True}
    assert (models["dated"]["input"], models["dated"]["output"]) == ("2", "4")
    assert models["embed"] == {"input": "0.02", "output": "0"}
    assert "ft:thing" not in models and "free-text" not in models


def test_a_missing_snapshot_file_is_an_empty_catalog(tmp_path):
    assert catalog.load_snapshot(Path(tmp_path / "none.json")).providers == {}
