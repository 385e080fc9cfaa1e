"""AES-256-GCM for provider credentials: one master key, a fresh nonce per write.

A sealed value is `nonce (12 bytes) || ciphertext+tag`. The associated data names what the value
belongs to (the provider row, its key version, kind and base URL), so a ciphertext copied onto
another row, or a row whose base URL was edited behind the gateway's back to point the key at
another server, fails to decrypt instead of sending the key somewhere else.

A key check (a known text sealed with the master key) is stored per key version: a process started
with the wrong master key finds out at start, not by sending garbage keys to providers.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32
_CHECK_TEXT = b"llm-gateway provider credentials key check"


class WrongKey(ValueError):
    """The master key cannot open this value (wrong key, or the value was tampered with)."""


def generate_key() -> bytes:
    return AESGCM.generate_key(KEY_BYTES * 8)  # positional: the stub says key_size, the code bit_length


def parse_key(text: str, source: str = "key") -> bytes:
    """A 32-byte key written as 64 hex digits or urlsafe base64 (as GATEWAY_SECRET_KEY accepts)."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else \
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raise ValueError(f"{source} is not a 32-byte key in hex or base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{source} must hold exactly 32 bytes, got {len(raw)}")
    return raw


def format_key(key: bytes) -> str:
    return key.hex()


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: safe far beyond our write counts
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) <= NONCE_BYTES:
        raise WrongKey("sealed value is too short")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise WrongKey("the master key does not open this value") from None


def credential_aad(provider: str, version: int, kind: str | None, base_url: str | None) -> bytes:
    return json.dumps(["provider-credential", provider, version, kind, base_url]).encode()


def check_aad(version: int) -> bytes:
    return json.dumps(["key-check", version]).encode()


def make_key_check(key: bytes, version: int) -> bytes:
    return seal(key, _CHECK_TEXT, check_aad(version))


def verify_key_check(key: bytes, version: int, sealed: bytes) -> bool:
    try:
        return open_sealed(key, sealed, check_aad(version)) == _CHECK_TEXT
    except WrongKey:
        return False


def seal_secrets(key: bytes, secrets: dict[str, str | None], aad: bytes) -> bytes:
    return seal(key, json.dumps(secrets, sort_keys=True).encode(), aad)


def open_secrets(key: bytes, sealed: bytes, aad: bytes) -> dict[str, str | None]:
    data = json.loads(open_sealed(key, sealed, aad))
    if not isinstance(data, dict):
        raise WrongKey("sealed credential is not a JSON object")
    return data
