"""The fallback plugin's tables: fallback chains, provider credentials, master-key checks.

Provider credentials keep only the non-secret connection settings in clear (kind, base URL);
the API key, organization and API version are one AES-256-GCM sealed JSON value (`_crypto`),
whose associated data binds it to the row's provider, key version, kind and base URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base, JsonText, UtcDateTime, utcnow


class FallbackChain(Base):
    """`primary_model` → ordered fallback models, for every caller (`org_id` NULL) or one org.
    An org's chain beats the global one for the same primary."""

    __tablename__ = "fallback_chains"
    __table_args__ = (UniqueConstraint("org_id", "primary_model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    primary_model: Mapped[str] = mapped_column(String(200))
    models: Mapped[Any] = mapped_column(JsonText())  # list of model names, in order
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ProviderCredential(Base):
    __tablename__ = "provider_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str | None] = mapped_column(String(20))
    base_url: Mapped[str | None] = mapped_column(String(500))
    key_version: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary())  # nonce || AES-GCM(api_key, org, version)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class CredentialKey(Base):
    """One row per master-key version: a known text sealed with that key. The highest version is
    the one in force; every credential row is sealed with it."""

    __tablename__ = "provider_credential_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    check_value: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
