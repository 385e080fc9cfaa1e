"""Admin operations of the fallback plugin (fallback chains, gateway settings), in the style of
`gateway.admin_ops`: each takes an open session, validates, flushes and bumps the change counter
so every gateway process reloads within about a second; the caller commits. Bad input raises
ValueError naming the value at fault. Credentials live in `_credentials`.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.admin_ops import get_org
from gateway.config import ModelConfig
from gateway.db.engine import bump_revision, put_setting
from gateway.db.models import Organization, Setting
from plugins.fallback._models import FallbackChain, ProviderCredential
from plugins.fallback._strategy import DEFAULT_STRATEGY, STRATEGIES

ROUTING_STRATEGY = "routing_strategy"
ALLOW_PRIVATE = "allow_private_provider_urls"
_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}$")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
MAX_CHAIN = 10


# --- settings (rows of the core `settings` table that this plugin owns) ----------------------

def _strategy(value: Any) -> str:
    if not isinstance(value, str) or value not in STRATEGIES:
        raise ValueError(f"invalid routing_strategy {value!r}: expected one of "
                         f"{', '.join(STRATEGIES)}")
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE + _FALSE:
        raise ValueError(f"invalid {ALLOW_PRIVATE} {value!r}: expected true or false")
    return text in _TRUE


SETTINGS = {ROUTING_STRATEGY: (_strategy, DEFAULT_STRATEGY), ALLOW_PRIVATE: (_flag, False)}


def set_setting(session: Session, key: str, value: Any) -> Setting:
    if key not in SETTINGS:
        raise ValueError(f"unknown setting {key!r}: expected one of {', '.join(SETTINGS)}")
    row = put_setting(session, key, SETTINGS[key][0](value))
    session.flush()
    bump_revision(session)
    return row


def get_settings(session: Session) -> dict[str, Any]:
    """Every setting of this plugin, the stored value or its default."""
    rows = {s.key: s.value for s in session.scalars(select(Setting).where(
        Setting.key.in_(list(SETTINGS))))}
    values = {}
    for key, (parse, default) in SETTINGS.items():
        try:
            values[key] = parse(rows[key]) if key in rows else default
        except ValueError:
            values[key] = default  # a hand-edited bad value must not break every call
    return values


# --- fallback chains --------------------------------------------------------------------------

def validate_model(name: Any, what: str = "model") -> str:
    if not isinstance(name, str) or not _MODEL_RE.match(name.strip()):
        raise ValueError(f"invalid {what} {name!r}: expected a model name like "
                         f"'openai/gpt-4o' or 'claude-sonnet-4-5'")
    return name.strip()


def _check_targets(session: Session, chain: list[str], config: ModelConfig) -> None:
    """Each fallback model must be one a call can reach: a catalog model, `ollama/<name>`, or
    `provider/model` of a provider model_config.yaml declares or whose credentials are stored."""
    stored = set(session.scalars(select(ProviderCredential.provider)))
    providers = config.provider_names() | stored
    for model in chain:
        provider, sep, rest = model.partition("/")
        if config.knows(model) or (sep and rest and provider in providers):
            continue
        raise ValueError(f"fallback model {model!r} is neither in the catalog (models: in "
                         f"model_config.yaml) nor 'provider/model' of a known provider "
                         f"({', '.join(sorted(providers))})")


def set_chain(session: Session, primary: str, models: list[str],
              org_slug: str | None = None, config: ModelConfig | None = None) -> FallbackChain:
    """`config` given, every fallback model must be one the catalog knows (as for aliases): a
    misspelt name would only show up as a failed fallback when the primary is already down."""
    primary = validate_model(primary, "primary model")
    chain = [validate_model(m, "fallback model") for m in models]
    if not chain:
        raise ValueError(f"fallback chain for {primary!r} is empty; use 'fallbacks delete'")
    if len(chain) > MAX_CHAIN:
        raise ValueError(f"fallback chain for {primary!r} has {len(chain)} models; at most "
                         f"{MAX_CHAIN}")
    if primary in chain:
        raise ValueError(f"fallback chain for {primary!r} lists the primary model itself")
    dupes = sorted({m for m in chain if chain.count(m) > 1})
    if dupes:
        raise ValueError(f"fallback chain for {primary!r} lists {', '.join(dupes)} twice")
    if config is not None:
        _check_targets(session, chain, config)
    org = get_org(session, org_slug) if org_slug else None
    row = _find_chain(session, primary, org)
    if row is None:
        row = FallbackChain(org_id=org.id if org else None, primary_model=primary, models=chain)
        session.add(row)
    else:
        row.models = chain
    session.flush()
    bump_revision(session)
    return row


def delete_chain(session: Session, primary: str, org_slug: str | None = None) -> FallbackChain:
    org = get_org(session, org_slug) if org_slug else None
    row = _find_chain(session, primary, org)
    if row is None:
        scope = f"organization {org_slug!r}" if org_slug else "everyone (global)"
        raise ValueError(f"no fallback chain for {primary!r} for {scope}")
    session.delete(row)
    session.flush()
    bump_revision(session)
    return row


def list_chains(session: Session) -> list[tuple[FallbackChain, str | None]]:
    """(chain, org slug or None for global), global first, then by org and primary model."""
    query = (select(FallbackChain, Organization.slug)
             .outerjoin(Organization, FallbackChain.org_id == Organization.id))
    rows = [(chain, slug) for chain, slug in session.execute(query)]
    return sorted(rows, key=lambda r: (r[1] is not None, r[1] or "", r[0].primary_model))


def _find_chain(session: Session, primary: str, org: Organization | None) -> FallbackChain | None:
    org_filter = FallbackChain.org_id.is_(None) if org is None else FallbackChain.org_id == org.id
    return session.scalars(select(FallbackChain).where(
        FallbackChain.primary_model == primary, org_filter).order_by(FallbackChain.id)).first()
