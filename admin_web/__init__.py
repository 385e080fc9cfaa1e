"""The admin site: a Flask app over the gateway's database (never imports mitmproxy).

`create_app(test_config=None)` builds the app (flaskr style); `serve(settings, host, port)` runs
it under waitress, a multi-threaded production WSGI server.

Configuration, from `Settings.from_env()` unless `test_config` gives it:
    DATABASE_URL            the gateway database
    SECRET_KEY              signs the session cookie; derived from the gateway master key
    ADMIN_SECURE_COOKIES    send cookies only over HTTPS (env GATEWAY_ADMIN_SECURE_COOKIES=1);
                            they are also Secure whenever the request itself came over HTTPS
    ADMIN_TRUSTED_PROXIES   how many reverse proxies to trust for X-Forwarded-For/-Proto/-Host
                            (env GATEWAY_ADMIN_TRUSTED_PROXIES, default 0)
    LOGIN_MAX_FAILURES, LOGIN_WINDOW_SECONDS   the sign-in throttle (5 per 300 s per email+IP)
    GATEWAY_SETTINGS        the gateway `Settings` (model_config.yaml path, master key for the
                            provider credentials, Ollama URL); `Settings.from_env()` when absent
    OLLAMA_TIMEOUT          seconds the Ollama connection test waits (default 3)
    LIVE_REFRESH_SECONDS    how often the dashboard's live tiles refresh (default 5)
    ROLLUP_CACHE_SECONDS    how long sums over whole past days are reused (default 60)
    EXPORT_DIR              where user activity exports are written (default: data dir/exports)
    PLUGIN_MANAGER          the plugins whose admin hooks run (tests); by default the process's
                            manager with GATEWAY_SETTINGS' plugins folder (see views/plugins.py)

Areas (one blueprint each, see `admin_web.views`) declare who may use them with
`admin_web.access.allow`; `access.guard` refuses everything else before any view runs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.errors import ConfigError
from gateway.settings import Settings

# Changing this label signs everyone out: it is the only input besides the master key.
SECRET_KEY_LABEL = b"llm-gateway/admin_web/flask-secret-key/v1"
_TRUE = ("1", "true", "yes", "on")

DEFAULTS: dict[str, Any] = {
    "SESSION_COOKIE_NAME": "llmgw_admin",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    # The token lives as long as the session; a login page left open for an hour still works.
    "WTF_CSRF_TIME_LIMIT": None,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "ADMIN_SECURE_COOKIES": False,
    "ADMIN_TRUSTED_PROXIES": 0,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_WINDOW_SECONDS": 300,
    "OLLAMA_TIMEOUT": 3.0,
    "LIVE_REFRESH_SECONDS": 5,
    "ROLLUP_CACHE_SECONDS": 60,
}

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None, *,
               settings: Settings | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    overrides = dict(test_config or {})
    if not {"DATABASE_URL", "SECRET_KEY"} <= overrides.keys():
        app.config.from_mapping(config_from_settings(settings or Settings.from_env()))
    app.config.from_mapping(overrides)
    if settings is not None:
        app.config["GATEWAY_SETTINGS"] = settings
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config["ADMIN_SECURE_COOKIES"])
    _init_extensions(app)
    return app


def config_from_settings(settings: Settings, env: dict[str, str] | None = None) -> dict[str, Any]:
    env = dict(os.environ if env is None else env)
    proxies = env.get("GATEWAY_ADMIN_TRUSTED_PROXIES") or "0"
    if not proxies.isdigit():
        raise ConfigError(f"GATEWAY_ADMIN_TRUSTED_PROXIES must be a whole number, got {proxies!r}")
    return {
        "GATEWAY_SETTINGS": settings,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": flask_secret_key(settings.secret_key()),
        "ADMIN_SECURE_COOKIES": env.get("GATEWAY_ADMIN_SECURE_COOKIES", "").lower() in _TRUE,
        "ADMIN_TRUSTED_PROXIES": int(proxies),
    }


def flask_secret_key(master_key: bytes) -> str:
    """A key for Flask alone, so a leaked session-signing key never reveals the master key."""
    return hmac.new(master_key, SECRET_KEY_LABEL, hashlib.sha256).hexdigest()


def _init_extensions(app: Flask) -> None:
    from admin_web import access, auth, db, fmt, home, security
    from admin_web.views import BLUEPRINTS, plugins

    for key in ("DATABASE_URL", "SECRET_KEY"):
        if not app.config.get(key):
            raise ConfigError(f"admin_web needs {key} in its configuration")
    trusted = int(app.config["ADMIN_TRUSTED_PROXIES"])
    if trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted)
    db.init_app(app)
    csrf.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    access.init_app(app)
    fmt.init_app(app)
    for blueprint in (auth.bp, home.bp, *BLUEPRINTS):
        app.register_blueprint(blueprint)
    plugins.init_app(app)  # plugin pages and links, behind the same guard, CSRF and CSP


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Run the admin site until the process is stopped. Prepares the database first (and creates
    the super-admin when there is none, printing its password once)."""
    from waitress import create_server

    from gateway.bootstrap import ADMIN_EMAIL, bootstrap

    password = bootstrap(settings)
    if password:
        print(f"Super-admin created: {ADMIN_EMAIL} / {password} (shown once: save it now)",
              flush=True)
    app = create_app(settings=settings)
    server = create_server(app, host=host, port=port, threads=8, ident="llm-gateway-admin")
    print(f"llm-gateway admin listening on {', '.join(_listen_urls(server))} "
          f"(pid {os.getpid()})", flush=True)
    server.run()


def _listen_urls(server: Any) -> list[str]:
    # One socket per address the host name resolves to (e.g. "localhost": IPv4 and IPv6).
    pairs = getattr(server, "effective_listen", None) or [
        (server.effective_host, server.effective_port)]
    return [f"http://[{h}]:{p}" if ":" in str(h) else f"http://{h}:{p}" for h, p in pairs]
