"""Validation of provider base URLs stored by admins.

The gateway sends provider API keys (and users' prompts) to these URLs, so an admin-editable URL
is a server-side request forgery vector: link-local and cloud metadata addresses are always
refused; private, loopback and shared address space only when explicitly allowed (Ollama on a
LAN is normal, hence the switch rather than a flat ban).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from gateway.netguard import IpAddress, address_problem

# Cloud metadata names (their addresses are refused by `gateway.netguard`).
_METADATA_NAMES = ("metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                   "instance-data.ec2.internal", "metadata.azure.internal")


def validate_base_url(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """The URL without a trailing slash, or ValueError naming the URL and the reason."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("base URL must not be empty")
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base URL {url!r} must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError(f"base URL {url!r} must not carry credentials; use --api-key-stdin")
    if parts.query or parts.fragment:
        raise ValueError(f"base URL {url!r} must not have a query or fragment")
    try:
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise ValueError(f"base URL {url!r} has an invalid port") from None
    host = parts.hostname.rstrip(".").lower()
    if host in _METADATA_NAMES:
        raise ValueError(f"base URL {url!r} points at a cloud metadata service")
    for address in _addresses(host, resolve):
        _check_address(url, address, allow_private)
    if not allow_private and (host == "localhost" or host.endswith(".localhost")):
        raise ValueError(f"base URL {url!r} is a loopback address; private addresses need "
                         f"--allow-private or the setting allow_private_provider_urls")
    return url


def _addresses(host: str, resolve: bool) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []  # unresolvable here: the gateway cannot reach it either, nothing to protect
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _check_address(url: str, address: IpAddress, allow_private: bool) -> None:
    problem = address_problem(address, allow_private)
    if problem is None:
        return
    if problem.startswith("a private address"):
        raise ValueError(f"base URL {url!r} points at {problem}; allow it with --allow-private "
                         f"or the setting allow_private_provider_urls")
    raise ValueError(f"base URL {url!r} points at {problem}")
