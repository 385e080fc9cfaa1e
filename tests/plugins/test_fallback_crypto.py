"""plugins.fallback._crypto and _urls: sealing provider credentials, validating base URLs."""

from __future__ import annotations

import pytest

from plugins.fallback import _crypto
from plugins.fallback._urls import validate_base_url

KEY, OTHER = bytes(range(32)), bytes(range(1, 33))


def test_seal_round_trips_with_a_fresh_nonce_each_time():
    aad = _crypto.credential_aad("openai", 1, "openai", None)
    first, second = _crypto.seal(KEY, b"sk-secret", aad), _crypto.seal(KEY, b"sk-secret", aad)
    assert first != second and first[:12] != second[:12]  # new nonce per write
    assert b"sk-secret" not in first
    assert _crypto.open_sealed(KEY, first, aad) == b"sk-secret"


@pytest.mark.parametrize("key, aad", [
    (OTHER, _crypto.credential_aad("openai", 1, "openai", None)),           # wrong master key
    (KEY, _crypto.credential_aad("anthropic", 1, "openai", None)),          # copied to another row
    (KEY, _crypto.credential_aad("openai", 2, "openai", None)),             # other key version
    (KEY, _crypto.credential_aad("openai", 1, "openai", "http://evil/v1")),  # base URL edited
])
def test_open_refuses_another_key_or_row(key, aad):
    sealed = _crypto.seal(KEY, b"sk-secret", _crypto.credential_aad("openai", 1, "openai", None))
    with pytest.raises(_crypto.WrongKey):
        _crypto.open_sealed(key, sealed, aad)


def test_tampered_ciphertext_is_refused():
    aad = b"row"
    sealed = bytearray(_crypto.seal(KEY, b"sk-secret", aad))
    sealed[-1] ^= 1
    with pytest.raises(_crypto.WrongKey):
        _crypto.open_sealed(KEY, bytes(sealed), aad)
    with pytest.raises(_crypto.WrongKey):
        _crypto.open_sealed(KEY, b"short", aad)


def test_key_check_tells_the_right_key_from_a_wrong_one():
    check = _crypto.make_key_check(KEY, 3)
    assert _crypto.verify_key_check(KEY, 3, check)
    assert not _crypto.verify_key_check(OTHER, 3, check)
    assert not _crypto.verify_key_check(KEY, 4, check)


def test_secrets_round_trip():
    aad = b"row"
    sealed = _crypto.seal_secrets(KEY, {"api_key": "sk-1", "organization": None}, aad)
    assert _crypto.open_secrets(KEY, sealed, aad) == {"api_key": "sk-1", "organization": None}


def test_parse_key_accepts_hex_and_base64_and_names_the_source():
    import base64

    key = _crypto.generate_key()
    assert len(key) == 32
    assert _crypto.parse_key(_crypto.format_key(key)) == key
    assert _crypto.parse_key(base64.urlsafe_b64encode(key).decode().rstrip("=")) == key
    with pytest.raises(ValueError, match="the new key must hold exactly 32 bytes"):
        _crypto.parse_key("abcd", "the new key")
    with pytest.raises(ValueError, match="not a 32-byte key"):
        _crypto.parse_key("zz" * 32)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest", "http://[fe80::1]:11434", "http://metadata.google.internal/v1",
    "http://metadata.google.internal./v1", "http://[fd00:ec2::254]/", "http://100.100.100.200/",
    "http://[::ffff:169.254.169.254]/", "http://0.0.0.0:11434",
])
def test_link_local_and_metadata_urls_are_always_refused(url):
    with pytest.raises(ValueError, match="metadata|link-local|unusable"):
        validate_base_url(url, allow_private=True)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:11434", "http://localhost:11434", "http://10.1.2.3:11434",
    "http://192.168.1.20:11434", "http://[::1]:8000/v1", "http://100.64.0.9/v1",
])
def test_private_urls_need_permission(url):
    with pytest.raises(ValueError, match="allow_private_provider_urls"):
        validate_base_url(url, allow_private=False)
    assert validate_base_url(url + "/", allow_private=True) == url


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com", "http"), ("http://", "http"), ("", "empty"),
    ("https://user:pw@example.com/v1", "credentials"), ("https://example.com/v1?x=1", "query"),
    ("https://example.com:99999/v1", "port"),
])
def test_malformed_urls_are_refused(url, message):
    with pytest.raises(ValueError, match=message):
        validate_base_url(url, allow_private=True)


def test_public_urls_pass_unchanged_but_for_the_trailing_slash():
    assert validate_base_url("https://8.8.8.8/v1/", allow_private=False) == "https://8.8.8.8/v1"
    assert validate_base_url("https://api.groq.com/openai/v1", allow_private=False,
                             resolve=False) == "https://api.groq.com/openai/v1"
