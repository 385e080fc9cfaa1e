"""Interception mode over real sockets: the official SDKs with their default base URLs, through
`httpx` with `proxy=` and the installation's CA, become ordinary gateway calls (DLP on); a provider
key alone is refused with nothing forwarded; other hosts are tunnelled untouched with their own
certificate; Proxy-Authorization works and a wrong one gets 407."""

from __future__ import annotations

import base64
import datetime
import socket
import ssl
import subprocess
import threading

import anthropic
import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.intercept import InterceptConfig, ca_cert_path, ca_fingerprint
from tests.gateway_fixtures import logged_rows
from tests.plugins.dlp_support import EMAIL, protect_org

MSG = [{"role": "user", "content": f"write to {EMAIL} please"}]


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"


@pytest.fixture
def gw(gateway_factory):
    return gateway_factory(intercept=InterceptConfig(port=0))


def trust(gw) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_cert_path(gw.ctx.settings.data_dir)))


def client_kwargs(gw, **extra):
    return {"http_client": httpx.Client(proxy=gw.extra["proxy_url"], verify=trust(gw), **extra),
            "max_retries": 0}


def rows(gw, at_least: int = 0):
    return logged_rows(gw, at_least)


def test_the_openai_sdk_with_its_default_base_url_is_served_through_the_pipeline(gw):
    protect_org(gw)
    client = openai.OpenAI(api_key=gw.user_key, **client_kwargs(gw))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    assert raw.parse().choices[0].message.content == f"echo: write to {EMAIL} please"
    assert raw.headers["x-gateway-provider"] == "openai" and raw.headers["x-gateway-request-id"]
    assert "[EMAIL_1]" in str(gw.mock.state.requests[-1]["body"])  # the provider saw a placeholder
    stream = client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"echo: write to {EMAIL} please"
    assert [(r.endpoint, r.intercepted) for r in rows(gw, 2)] == \
        [("/v1/chat/completions", True)] * 2


def test_the_anthropic_sdk_with_its_default_base_url_whole_and_streamed(gw):
    protect_org(gw)
    client = anthropic.Anthropic(api_key=gw.user_key, **client_kwargs(gw))
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MSG)
    assert message.content[0].text == f"echo: write to {EMAIL} please"
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=MSG) as s:
        assert "".join(s.text_stream) == f"echo: write to {EMAIL} please"
    assert EMAIL not in str(gw.mock.state.requests[-1]["body"])
    logged = rows(gw, 2)
    assert len(logged) == 2 and all(
        r.intercepted and r.actual_model == "anthropic/claude-sonnet-4-5" for r in logged)


def test_a_provider_key_alone_is_refused_and_nothing_is_forwarded(gw):
    before = len(gw.mock.state.requests)
    client = openai.OpenAI(api_key="sk-proj-realProviderKey123", **client_kwargs(gw))
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert "gateway key" in err.value.message and "sk-proj" not in err.value.response.text
    unknown = openai.OpenAI(api_key="sk-gw-" + "x" * 40, **client_kwargs(gw))
    with pytest.raises(openai.AuthenticationError):
        unknown.chat.completions.create(model="gpt-4o", messages=MSG)
    assert len(gw.mock.state.requests) == before


def test_proxy_authorization_carries_the_key_and_a_wrong_one_gets_407(gw):
    token = base64.b64encode(f"me:{gw.user_key}".encode()).decode()
    client = openai.OpenAI(api_key="sk-whatever-the-tool-has", **client_kwargs(
        gw, headers={"Proxy-Authorization": f"Basic {token}"}))
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user",
                                                                      "content": "hi"}])
    assert reply.choices[0].message.content == "echo: hi"
    proxy = gw.extra["proxy_url"].replace("http://", f"http://me:sk-gw-{'y' * 40}@")
    with pytest.raises(httpx.ProxyError, match="407"):
        httpx.get("https://api.openai.com/v1/models", proxy=proxy, verify=trust(gw))


def _tls_server(tmp_path):
    """A local HTTPS server with its own self-signed certificate for `other.test`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("other.test")]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "other.pem", tmp_path / "other.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close"
                                b"\r\n\r\norigin")
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    return listener, cert, cert_path


def test_another_host_is_tunnelled_untouched_with_its_own_certificate(gw, tmp_path):
    listener, cert, cert_path = _tls_server(tmp_path)
    port = listener.getsockname()[1]
    proxy_port = int(gw.extra["proxy_url"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", proxy_port)) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                     .encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        context = ssl.create_default_context(cafile=str(cert_path))
        context.check_hostname = False
        with context.wrap_socket(sock, server_hostname="other.test") as tls:
            seen = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
            tls.sendall(b"GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")
            answer = tls.recv(4096)
    listener.close()
    assert seen.fingerprint(hashes.SHA256()) == cert.fingerprint(hashes.SHA256())
    assert answer.endswith(b"origin")
    assert not rows(gw)  # nothing of it was a call


def test_intercept_only_refuses_other_hosts(gateway_factory):
    gw = gateway_factory(intercept=InterceptConfig(port=0, only=True))
    proxy_port = int(gw.extra["proxy_url"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", proxy_port)) as sock:
        sock.sendall(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 403")


def test_ca_path_prints_the_certificate_alone_on_the_last_line(tmp_path):
    import os
    import sys

    env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "ca", "path"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip().splitlines()[-1]
    assert path == str(tmp_path / "data" / "mitmproxy" / "mitmproxy-ca-cert.pem")
    key = tmp_path / "data" / "mitmproxy" / "mitmproxy-ca.pem"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert ca_fingerprint(ca_cert_path(tmp_path / "data")) in done.stdout


def test_a_hostile_model_name_through_interception_is_a_400_with_no_injected_header(gw):
    answer = httpx.post("https://api.openai.com/v1/chat/completions", verify=trust(gw),
                        proxy=gw.extra["proxy_url"], timeout=10,
                        headers={"Authorization": f"Bearer {gw.user_key}"},
                        json={"model": "gpt-4o\r\nX-Injected: yes", "messages": MSG})
    assert answer.status_code == 400 and "x-injected" not in answer.headers
    assert "'model'" in answer.json()["error"]["message"]
