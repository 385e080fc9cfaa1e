"""The shipped price catalog: a snapshot of the `genai-prices` database, the default under
model_config.yaml.

genai-prices (a maintained, monthly-updated price list) cannot be a runtime dependency: it needs
h11>=0.16 and mitmproxy 11.0.2 pins h11<=0.14. So `make catalog` installs it in a tools virtualenv
and runs this file as a script, which writes `genai_prices.json` beside it (stdlib only; nothing
from the gateway is imported then). The gateway reads that JSON: for every provider it knows (the
built-in `openai` and `anthropic`, and any provider declared in model_config.yaml whose name is a
genai-prices provider id such as `groq`, `deepseek`, `mistral`), each model there becomes a catalog
entry with list prices (USD per million tokens; the base tier where prices are tiered) and its
context window. model_config.yaml overrides any of those fields and adds models it does not know.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("genai_prices.json")
DEFAULT_CONFIG = Path(__file__).with_name("default_model_config.yaml")
_PRICE_FIELDS = {"input_mtok": "input", "output_mtok": "output", "cache_read_mtok": "cached_input",
                 "cache_write_mtok": "cache_write"}
# genai-prices ids are also match prefixes ("ft:gpt-4o-mini", "…-2024-07-18.ft-"): keep real ids.
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$")


@dataclass(frozen=True)
class Snapshot:
    source: str  # e.g. "genai-prices 0.2.5"
    providers: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)


@lru_cache(maxsize=4)
def load_snapshot(path: Path = SNAPSHOT) -> Snapshot:
    """The snapshot shipped with the package (an empty one if the file is missing)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Snapshot(source="")
    return Snapshot(source=f"{data['source']} {data['version']}", providers=data["providers"])


def defaults_for(providers: set[str], snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    """`provider/model` → model_config-style spec, for the given providers."""
    return {f"{prov}/{model}": dict(spec)
            for prov in sorted(providers & set(snapshot.providers))
            for model, spec in snapshot.providers[prov].items()}


# --- making the snapshot (run in a virtualenv that has genai-prices) ---------------------------

def _current_price(prices: Any, today: date) -> Any:
    """A model's prices now: the newest dated variant in force, never a time-of-day discount."""
    if not isinstance(prices, list):
        return prices
    current = prices[0].prices
    for variant in prices:
        constraint = variant.constraint
        start = getattr(constraint, "start_date", None)
        if constraint is None or (start is not None and start <= today):
            current = variant.prices
    return current


def _number(value: Any) -> tuple[str | None, bool]:
    """(base price as a decimal string, whether it is tiered by prompt length)."""
    if value is None:
        return None, False
    base = getattr(value, "base", None)
    return (str(base), True) if base is not None else (str(value), False)


def _model_spec(model: Any, today: date) -> dict[str, Any]:
    prices = _current_price(model.prices, today)
    spec: dict[str, Any] = {}
    tiered = False
    for theirs, ours in _PRICE_FIELDS.items():
        price, is_tiered = _number(getattr(prices, theirs, None))
        if price is not None:
            spec[ours] = price
            tiered = tiered or is_tiered
    if "input" in spec and "output" not in spec:
        spec["output"] = "0"  # input-only models (embeddings, moderation) produce no tokens
    if model.context_window:
        spec["context_window"] = int(model.context_window)
    if tiered:
        spec["tiered"] = True
    return spec


def build_snapshot(providers: list[Any], version: str, today: date) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for provider in providers:
        models = {m.id: _model_spec(m, today) for m in provider.models if _MODEL_ID.match(m.id)}
        out[provider.id] = {k: v for k, v in sorted(models.items()) if "input" in v}
    return {"source": "genai-prices", "version": version, "generated": today.isoformat(),
            "providers": out}


def main(argv: list[str]) -> int:  # pragma: no cover - run by `make catalog`
    from importlib.metadata import version

    from genai_prices.data import providers

    snapshot = build_snapshot(providers, version("genai-prices"),
                              datetime.now(UTC).date())
    out = Path(argv[0]) if argv else SNAPSHOT
    out.write_text(json.dumps(snapshot, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    count = sum(len(m) for m in snapshot["providers"].values())
    print(f"wrote {out}: {count} priced models from genai-prices {snapshot['version']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
