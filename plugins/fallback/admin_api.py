"""What the admin site and the CLI use of the fallback plugin; the hooks live in the package itself.

Settings (each write validates with a ValueError naming the value at fault, flushes and bumps the
change counter; the caller commits):
    set_setting(session, ROUTING_STRATEGY | ALLOW_PRIVATE, value), get_settings(session);
    STRATEGIES names the routing strategies
Fallback chains:
    set_chain(session, primary, models, org_slug=None, config=...) (targets no call could reach
    are refused), delete_chain(session, primary, org_slug=None), list_chains(session)
Provider credentials (AES-256-GCM under the master key; never shown back):
    set_credential(session, master_key, provider, ...), delete_credential(session, provider),
    list_credentials(session, master_key); credential_providers(session) and
    stored_base_url(session, provider) read the rows without decrypting anything
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.fallback._credentials import delete_credential, list_credentials, set_credential
from plugins.fallback._models import ProviderCredential
from plugins.fallback._ops import (
    ALLOW_PRIVATE,
    ROUTING_STRATEGY,
    delete_chain,
    get_settings,
    list_chains,
    set_chain,
    set_setting,
)
from plugins.fallback._strategy import STRATEGIES


def credential_providers(session: Session) -> set[str]:
    """The providers that have a stored credential row."""
    return set(session.scalars(select(ProviderCredential.provider)))


def stored_base_url(session: Session, provider: str) -> str | None:
    """The base URL saved with a provider's credential (kept in clear), or None."""
    return session.scalar(select(ProviderCredential.base_url)
                          .where(ProviderCredential.provider == provider))


__all__ = ["ALLOW_PRIVATE", "ROUTING_STRATEGY", "STRATEGIES", "credential_providers",
           "delete_chain", "delete_credential", "get_settings", "list_chains",
           "list_credentials", "set_chain", "set_credential", "set_setting", "stored_base_url"]
