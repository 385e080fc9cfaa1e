"""Interception mode: unmodified tools reach the gateway through `HTTPS_PROXY`.

`--intercept-port PORT` adds an explicit forward proxy (HTTP `CONNECT`, and plain-HTTP
absolute-form requests) beside the reverse proxy, in the same process. Calls to the provider hosts
(`api.openai.com`, `api.anthropic.com`, more under `intercept: {hosts: …}` in model_config.yaml)
are decrypted with the installation's own CA and become ordinary gateway calls — same endpoints,
routing, DLP, caps, metering, logs and headers — served by the configured providers. Every other
host is tunnelled untouched (the origin's own certificate reaches the client; nothing but the host
name is logged), or refused with `--intercept-only`.

Who may use it: the gateway key, sent as the tool's own API key, or in `Proxy-Authorization`
(Basic, any user name, password = the key; on the CONNECT or on a plain-HTTP request). A request
that carries a provider's own key and no gateway key gets a 401 saying how to set one; a wrong
`Proxy-Authorization` gets 407. Nothing is forwarded in either case.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mitmproxy import http
from mitmproxy.connection import Client
from mitmproxy.tls import ClientHelloData

from gateway.headers import json_response
from gateway.keys import KEY_MARKER
from gateway.pipeline import credential_of

log = logging.getLogger("gateway.intercept")
DEFAULT_HOSTS = {"api.openai.com": "openai", "api.anthropic.com": "anthropic"}
INTERCEPTED = "gw.intercepted"
PASSTHROUGH = "gw.passthrough"
CA_BASENAME = "mitmproxy"  # the name mitmproxy's TLS addon looks for in its confdir


@dataclass(frozen=True)
class InterceptConfig:
    port: int
    hosts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_HOSTS))
    only: bool = False
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


def configured_hosts(raw: Any) -> dict[str, str]:
    """`intercept: {hosts: {host: openai|anthropic}}` from model_config.yaml, over the defaults."""
    hosts = dict(DEFAULT_HOSTS)
    section = raw.get("hosts") if isinstance(raw, dict) else None
    for host, api in (section or {}).items():
        if api not in ("openai", "anthropic"):
            raise ValueError(f"intercept.hosts.{host}: must be openai or anthropic, got {api!r}")
        hosts[str(host).lower().rstrip(".")] = api
    return hosts


# -- the CA ------------------------------------------------------------------------------------

def ca_dir(data_dir: Path) -> Path:
    return data_dir / "mitmproxy"


def ca_cert_path(data_dir: Path) -> Path:
    return ca_dir(data_dir) / f"{CA_BASENAME}-ca-cert.pem"


def ensure_ca(data_dir: Path) -> Path:
    """The installation's CA certificate (PEM), created with its key (mode 0600) on first use."""
    from mitmproxy.certs import CertStore

    directory = ca_dir(data_dir)
    if not (directory / f"{CA_BASENAME}-ca.pem").exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        CertStore.create_store(directory, CA_BASENAME, 2048, organization="llm-gateway",
                               cn="llm-gateway interception CA")
    (directory / f"{CA_BASENAME}-ca.pem").chmod(0o600)
    return ca_cert_path(data_dir)


def ca_fingerprint(cert_path: Path) -> str:
    """SHA-256 of the certificate (DER), as shown by browsers and `openssl x509 -fingerprint`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(cert_path.read_bytes()).public_bytes(
        serialization.Encoding.DER)
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def state_file(data_dir: Path) -> Path:
    """Written by a proxy serving interception, read by the admin's Settings page."""
    return data_dir / "interception.json"


# -- the addon ---------------------------------------------------------------------------------

def _is_forward(client: Client) -> bool:
    """Did this connection come in on the forward-proxy (interception) listener?"""
    return getattr(client.proxy_mode, "type_name", "") == "regular"


class Interceptor:
    def __init__(self, config: InterceptConfig,
                 keystore_check: Callable[[str], Awaitable[bool]]) -> None:
        self.config = config
        self.valid_key = keystore_check
        self.tunnels = 0
        self.proxy_keys: dict[str, str] = {}  # client connection id → key from its CONNECT

    def _refuse(self, flow: http.HTTPFlow, status: int, message: str,
                headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                     "param": None, "code": None}})
        flow.response = json_response(status, body.encode(), headers or {})

    def _client_allowed(self, flow: http.HTTPFlow) -> bool:
        if not self.config.allow:
            return True
        try:
            address = ipaddress.ip_address(flow.client_conn.peername[0])
        except (ValueError, TypeError, IndexError):
            return False
        return any(address in net for net in self.config.allow)

    # -- CONNECT ------------------------------------------------------------------------------

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        if not self._client_allowed(flow):
            self._refuse(flow, 403, "this address may not use the gateway's proxy")
            return
        host = flow.request.host.lower().rstrip(".")
        if host not in self.config.hosts:
            if self.config.only:
                self._refuse(flow, 403, f"this proxy only serves the LLM provider hosts "
                                        f"({', '.join(sorted(self.config.hosts))})")
                return
            self.tunnels += 1
            log.info("tunnel to %s:%d (not intercepted)", host, flow.request.port)
            return
        key = await self._proxy_key(flow)
        if key is False:
            return
        if key:
            self.proxy_keys[flow.client_conn.id] = key  # for the requests inside this tunnel

    def client_disconnected(self, client: Client) -> None:
        self.proxy_keys.pop(client.id, None)

    async def _proxy_key(self, flow: http.HTTPFlow) -> str | None | Literal[False]:
        """The gateway key from Proxy-Authorization, None without one, False after a 407."""
        header = flow.request.headers.get("proxy-authorization", "")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        key = None
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                key = None
        elif scheme.lower() == "bearer":
            key = value.strip()
        if not key or not await self.valid_key(key):
            self._refuse(flow, 407, "Proxy-Authorization must carry a gateway key (Basic, any "
                                    "user name, password = the key)",
                         {"proxy-authenticate": 'Basic realm="llm-gateway"'})
            return False
        return key

    # -- TLS ----------------------------------------------------------------------------------

    def tls_clienthello(self, data: ClientHelloData) -> None:
        if not _is_forward(data.context.client):
            return
        sni = (data.client_hello.sni or "").lower().rstrip(".")
        if sni not in self.config.hosts:
            data.ignore_connection = True  # tunnel untouched: the origin's own certificate

    # -- requests -----------------------------------------------------------------------------

    async def request(self, flow: http.HTTPFlow) -> None:
        if not _is_forward(flow.client_conn):
            return
        host = flow.request.host.lower().rstrip(".")
        if host not in self.config.hosts:
            if self.config.only or not self._client_allowed(flow):
                self._refuse(flow, 403, "this proxy only serves the LLM provider hosts")
            flow.metadata[PASSTHROUGH] = True  # plain HTTP to another host: forwarded as is
            return
        flow.metadata[INTERCEPTED] = True
        if not self._client_allowed(flow):
            self._refuse(flow, 403, "this address may not use the gateway's proxy")
            return
        await self._use_gateway_key(flow)

    async def _use_gateway_key(self, flow: http.HTTPFlow) -> None:
        headers = flow.request.headers
        own = credential_of(headers)
        if own and own.startswith(KEY_MARKER):
            return  # the tool's own API key is a gateway key
        proxy_key = self.proxy_keys.get(flow.client_conn.id)
        if proxy_key is None and "proxy-authorization" in headers:
            presented = await self._proxy_key(flow)
            if presented is False:
                return  # answered 407
            proxy_key = presented
        if not proxy_key:
            self._refuse(flow, 401, "the gateway intercepted this call: set the tool's API key "
                                    "(OPENAI_API_KEY, ANTHROPIC_API_KEY, …) to a gateway key, or "
                                    "send the gateway key as Proxy-Authorization; provider keys "
                                    "are never forwarded")
            return
        headers.pop("x-api-key", None)
        headers["authorization"] = f"Bearer {proxy_key}"
