"""Available Models: the catalog (the shipped genai-prices snapshot under model_config.yaml) with
prices, context windows and where each price comes from, unpriced models marked, and (for a super
admin) whether the gateway holds a credential for each model's provider."""

from __future__ import annotations

import os

from flask import Blueprint, render_template

from admin_web.access import ORG_ADMIN, SUPER, allow, is_super
from admin_web.db import get_db
from admin_web.sources import api, gateway_settings, model_config
from gateway.catalog import load_snapshot
from gateway.config import ModelConfig
from gateway.errors import ConfigError

bp = Blueprint("catalog", __name__, url_prefix="/models")


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    error = None
    try:
        config = model_config()
    except ConfigError as exc:
        config, error = ModelConfig(), str(exc)
    models = sorted(config.models.values(), key=lambda m: (m.provider, m.name))
    credentials = credential_status(config) if is_super() else {}
    providers = sorted({m.provider for m in models} | set(config.providers))
    unpriced = sum(1 for m in models if not m.priced)
    return render_template("catalog.html", models=models, credentials=credentials,
                           providers=providers, error=error, unpriced=unpriced,
                           snapshot=load_snapshot().source)


def stored_credentials() -> set[str]:
    """Providers with a credential row of the fallback plugin (never decrypted here)."""
    creds = api("credentials")
    return creds.credential_providers(get_db()) if creds is not None else set()


def credential_status(config: ModelConfig) -> dict[str, tuple[bool, str]]:
    """provider → (usable, where the credential comes from)."""
    settings = gateway_settings()
    stored = stored_credentials()
    env_keys = {"openai": settings.openai_api_key, "anthropic": settings.anthropic_api_key}
    status: dict[str, tuple[bool, str]] = {}
    for name in sorted(config.provider_names()):
        declared = config.providers.get(name)
        kind = declared.kind if declared else name
        if name in stored:
            status[name] = (True, "Stored key (database)")
        elif env_keys.get(name) or (declared and declared.api_key_env
                                    and os.environ.get(declared.api_key_env)):
            status[name] = (True, "Environment variable")
        elif kind == "ollama":
            status[name] = (True, "No key needed (Ollama)")
        else:
            status[name] = (False, "Missing")
    return status
