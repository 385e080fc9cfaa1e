"""Provider credentials in the database, AES-256-GCM sealed with the master key
(`Settings.secret_key()`: GATEWAY_SECRET_KEY, else data/secret.key).

Writes follow `gateway.admin_ops` (validate, flush, bump the change counter; the caller commits).
Every write seals again with a fresh nonce. The master key is checked against the stored key
check of the current key version before anything is sealed or opened, so a wrong key fails
loudly (ConfigError) instead of writing rows no gateway can read or sending garbage keys.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal, overload

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config import BUILTIN_PROVIDERS, PROVIDER_KINDS
from gateway.db.engine import bump_revision
from gateway.errors import ConfigError
from plugins.fallback import _crypto
from plugins.fallback._models import CredentialKey, ProviderCredential
from plugins.fallback._ops import ALLOW_PRIVATE, get_settings
from plugins.fallback._urls import validate_base_url

log = logging.getLogger("plugins.fallback")
_SECRET_FIELDS = ("api_key", "organization", "api_version")
_PROVIDER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")  # as for providers: in model_config


@dataclass(frozen=True)
class Credential:
    provider: str
    kind: str | None
    base_url: str | None
    api_key: str | None = field(default=None, repr=False)
    organization: str | None = None
    api_version: str | None = None
    key_version: int = 0

    def masked_key(self) -> str | None:
        """Only the last 4 characters, and none of a key too short to spare them."""
        if not self.api_key:
            return None
        return "…" + self.api_key[-4:] if len(self.api_key) >= 12 else "****"


def wrong_key_error(version: int) -> ConfigError:
    return ConfigError(
        f"the master key (GATEWAY_SECRET_KEY, else secret.key in the data dir) is not the key "
        f"that encrypted the provider credentials (key version {version}); start with the "
        f"right key, or delete the credentials and set them again")


@overload
def current_key_version(session: Session, master_key: bytes, *, create: Literal[True]) -> int: ...
@overload
def current_key_version(session: Session, master_key: bytes, *,
                        create: bool = False) -> int | None: ...
def current_key_version(session: Session, master_key: bytes, *, create: bool = False) -> int | None:
    """The key version in force after checking `master_key` against it (ConfigError if it does
    not match); None when no credential was ever stored, unless `create` starts version 1."""
    row = session.scalars(select(CredentialKey).order_by(CredentialKey.version.desc())
                          .limit(1).with_for_update()).first()
    if row is None:
        if not create:
            return None
        session.add(CredentialKey(version=1, check_value=_crypto.make_key_check(master_key, 1)))
        session.flush()
        return 1
    if not _crypto.verify_key_check(master_key, row.version, row.check_value):
        raise wrong_key_error(row.version)
    return row.version


def _aad(row: ProviderCredential) -> bytes:
    return _crypto.credential_aad(row.provider, row.key_version, row.kind, row.base_url)


def _open(row: ProviderCredential, master_key: bytes) -> Credential:
    secrets = _crypto.open_secrets(master_key, row.sealed, _aad(row))
    return Credential(row.provider, row.kind, row.base_url,
                      **{k: secrets.get(k) or None for k in _SECRET_FIELDS},
                      key_version=row.key_version)


def _seal(row: ProviderCredential, master_key: bytes, secrets: dict[str, str | None]) -> None:
    row.sealed = _crypto.seal_secrets(master_key, secrets, _aad(row))


def set_credential(session: Session, master_key: bytes, provider: str, *,
                   kind: str | None = None, base_url: str | None = None,
                   api_key: str | None = None, organization: str | None = None,
                   api_version: str | None = None, allow_private: bool = False,
                   configured: Collection[str] = BUILTIN_PROVIDERS) -> Credential:
    """Create or update `provider`'s row. None leaves a field as it was; "" clears organization
    or API version. `configured` names the providers model_config.yaml already defines: any
    other provider needs its kind and base URL here."""
    provider = _validate_provider(provider)
    version = current_key_version(session, master_key, create=True)
    row = session.scalar(select(ProviderCredential).where(ProviderCredential.provider == provider))
    old = _open(row, master_key) if row is not None else None
    kind = _validate_kind(provider, kind if kind is not None else (old.kind if old else None))
    if base_url is not None:
        allowed = allow_private or get_settings(session)[ALLOW_PRIVATE]
        base_url = validate_base_url(base_url, allow_private=allowed)
    elif old is not None:
        base_url = old.base_url
    if provider not in configured and (kind is None or base_url is None):
        raise ValueError(f"provider {provider!r} is not in model_config.yaml: give --kind and "
                         f"--base-url")
    if api_key is not None and not api_key.strip():
        raise ValueError(f"empty API key for provider {provider!r}")
    secrets = {"api_key": api_key.strip() if api_key is not None else (old.api_key if old else None),
               "organization": _keep(organization, old.organization if old else None),
               "api_version": _keep(api_version, old.api_version if old else None)}
    if row is None:
        row = ProviderCredential(provider=provider)
        session.add(row)
    row.kind, row.base_url, row.key_version = kind, base_url, version
    _seal(row, master_key, secrets)
    session.flush()
    bump_revision(session)
    return Credential(provider, kind, base_url, key_version=version, **secrets)


def _keep(new: str | None, old: str | None) -> str | None:
    if new is None:
        return old
    return new.strip() or None


def _validate_provider(name: str) -> str:
    if not isinstance(name, str) or not _PROVIDER_RE.match(name):
        raise ValueError(f"invalid provider name {name!r}: use lower-case letters, digits, '.', "
                         f"'_' and '-'")
    return name


def _validate_kind(provider: str, kind: str | None) -> str | None:
    if kind is not None and kind not in PROVIDER_KINDS:
        raise ValueError(f"invalid kind {kind!r} for provider {provider!r}: expected one of "
                         f"{', '.join(PROVIDER_KINDS)}")
    if provider in BUILTIN_PROVIDERS and kind not in (None, provider):
        raise ValueError(f"provider {provider!r} is built in and always of kind {provider!r}")
    return kind


def delete_credential(session: Session, provider: str) -> ProviderCredential:
    row = session.scalar(select(ProviderCredential).where(ProviderCredential.provider == provider))
    if row is None:
        raise ValueError(f"no stored credentials for provider {provider!r}")
    session.delete(row)
    session.flush()
    bump_revision(session)
    return row


def list_credentials(session: Session, master_key: bytes) -> list[Credential]:
    rows = session.scalars(select(ProviderCredential).order_by(ProviderCredential.provider)).all()
    if rows:
        current_key_version(session, master_key)
    return [_open(row, master_key) for row in rows]


def load_credentials(session: Session, master_key: bytes) -> tuple[int | None, dict[str, Credential]]:
    """For the gateway: (key version, provider → credential). ConfigError when the master key is
    wrong; a single row that cannot be opened is logged and left out (the others still work)."""
    key = session.scalars(select(CredentialKey).order_by(CredentialKey.version.desc())).first()
    if key is not None and not _crypto.verify_key_check(master_key, key.version, key.check_value):
        raise wrong_key_error(key.version)
    found: dict[str, Credential] = {}
    for row in session.scalars(select(ProviderCredential)):
        try:
            found[row.provider] = _open(row, master_key)
        except _crypto.WrongKey:
            log.error("stored credentials of provider %r cannot be decrypted (tampered with, or "
                      "sealed with another key version); ignoring them", row.provider)
    return (key.version if key else None), found


def rotate_key(session: Session, old_key: bytes, new_key: bytes) -> tuple[int, int]:
    """Seal every row again with `new_key` under a new key version; (new version, rows)."""
    if new_key == old_key:
        raise ValueError("the new master key is the current one")
    version = current_key_version(session, old_key, create=True)
    new_version = version + 1
    rows = session.scalars(select(ProviderCredential).order_by(ProviderCredential.provider)).all()
    for row in rows:
        try:
            cred = _open(row, old_key)
        except _crypto.WrongKey:
            raise ValueError(f"stored credentials of provider {row.provider!r} cannot be "
                             f"decrypted with the current key; nothing was rotated") from None
        row.key_version = new_version
        _seal(row, new_key, {k: getattr(cred, k) for k in _SECRET_FIELDS})
    session.add(CredentialKey(version=new_version,
                              check_value=_crypto.make_key_check(new_key, new_version)))
    session.flush()
    bump_revision(session)
    return new_version, len(rows)
