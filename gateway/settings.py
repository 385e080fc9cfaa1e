"""Process settings from the environment (see README "Environment"). Loaded once, frozen."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from gateway.errors import ConfigError


def _float_env(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    config_path: Path
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str = "https://api.anthropic.com"
    ollama_base_url: str = "http://127.0.0.1:11434"
    body_limit: int = 32 * 1024 * 1024
    connect_timeout: float = 10.0
    first_byte_timeout: float = 120.0
    chunk_timeout: float = 120.0
    secret_key_env: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)  # GATEWAY_METRICS_TOKEN
    max_connections: int = 0  # 0: derived from the process's descriptor limit
    max_connections_per_client: int = 0  # 0: half of max_connections
    header_timeout: float = 10.0
    body_timeout: float = 120.0
    body_budget: int = 256 * 1024 * 1024
    keepalive_timeout: float = 75.0
    plugins_dir: Path | None = None  # GATEWAY_PLUGINS_DIR: every *.py in it is a plugin

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("GATEWAY_DATA_DIR") or "./data").resolve()
        db_url = env.get("GATEWAY_DATABASE_URL") or f"sqlite:///{data_dir / 'gateway.db'}"
        limit_raw = env.get("GATEWAY_BODY_LIMIT") or str(32 * 1024 * 1024)
        if not limit_raw.isdigit():
            raise ConfigError(f"GATEWAY_BODY_LIMIT must be a number of bytes, got {limit_raw!r}")
        return cls(
            data_dir=data_dir,
            database_url=db_url,
            config_path=Path(env.get("GATEWAY_CONFIG") or "./model_config.yaml").resolve(),
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            openai_base_url=(env.get("OPENAI_BASE_URL") or cls.openai_base_url).rstrip("/"),
            anthropic_api_key=env.get("ANTHROPIC_API_KEY") or None,
            anthropic_base_url=(env.get("ANTHROPIC_BASE_URL") or cls.anthropic_base_url).rstrip("/"),
            ollama_base_url=(env.get("OLLAMA_BASE_URL") or cls.ollama_base_url).rstrip("/"),
            body_limit=int(limit_raw),
            connect_timeout=_float_env(env, "GATEWAY_CONNECT_TIMEOUT", 10.0),
            first_byte_timeout=_float_env(env, "GATEWAY_FIRST_BYTE_TIMEOUT", 120.0),
            chunk_timeout=_float_env(env, "GATEWAY_CHUNK_TIMEOUT", 120.0),
            secret_key_env=env.get("GATEWAY_SECRET_KEY") or None,
            metrics_token=env.get("GATEWAY_METRICS_TOKEN") or None,
            max_connections=int(_float_env(env, "GATEWAY_MAX_CONNECTIONS", 0)),
            max_connections_per_client=int(_float_env(env, "GATEWAY_MAX_CONNECTIONS_PER_CLIENT", 0)),
            header_timeout=_float_env(env, "GATEWAY_HEADER_TIMEOUT", 10.0),
            body_timeout=_float_env(env, "GATEWAY_BODY_TIMEOUT", 120.0),
            body_budget=int(_float_env(env, "GATEWAY_BODY_BUDGET", 256 * 1024 * 1024)),
            keepalive_timeout=_float_env(env, "GATEWAY_KEEPALIVE_TIMEOUT", 75.0),
            plugins_dir=Path(env["GATEWAY_PLUGINS_DIR"]).resolve()
            if env.get("GATEWAY_PLUGINS_DIR") else None,
        )

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def secret_key(self) -> bytes:
        """The 32-byte master key: GATEWAY_SECRET_KEY (hex or urlsafe base64), else a file in the
        data dir created with mode 0600 on first use."""
        if self.secret_key_env:
            return _decode_key(self.secret_key_env, "GATEWAY_SECRET_KEY")
        path = self.ensure_data_dir() / "secret.key"
        if not path.exists():
            _create_key_file(path)
        return _decode_key(path.read_text().strip(), str(path))


def _create_key_file(path: Path) -> None:
    """Write the key to a private temp file, then link it into place: a process racing us either
    wins the link or finds the complete file, never an empty one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def _decode_key(text: str, source: str) -> bytes:
    import base64
    import binascii

    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.urlsafe_b64decode(text + "==")
    except (ValueError, binascii.Error):
        raise ConfigError(f"{source} is not a 32-byte key in hex or base64") from None
    if len(raw) != 32:
        raise ConfigError(f"{source} must hold exactly 32 bytes, got {len(raw)}")
    return raw
