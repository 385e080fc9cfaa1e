"""Gateway Settings (super admin only): routing strategy, Ollama, provider credentials (set,
replace, delete; never shown back, last 4 characters only), fallback chains, the user activity
export and the feature toggles users may opt into."""

from __future__ import annotations

import json
import re

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from admin_web import features, ollama
from admin_web.access import SUPER, allow
from admin_web.db import get_db
from admin_web.sources import api, gateway_settings, master_key, model_config
from admin_web.writes import attempt, checkbox, field
from gateway.config import PROVIDER_KINDS
from gateway.db.models import Organization, User
from gateway.errors import ConfigError

bp = Blueprint("settings", __name__, url_prefix="/settings")
_SPLIT = re.compile(r"[\s,]+")


def _fallback():
    plugin = api("fallback")
    if plugin is None:
        abort(404)
    return plugin


@bp.get("/")
@allow(SUPER)
def index(test: ollama.TestResult | None = None) -> str:
    session = get_db()
    fallback, creds_api = api("fallback"), api("credentials")
    credentials, cred_error = [], None
    if creds_api is not None:
        try:
            credentials = creds_api.list_credentials(session, master_key())
        except ConfigError as exc:
            cred_error = str(exc)
    config = model_config()
    return render_template(
        "settings.html", fallback=fallback, strategies=_strategies(),
        values=fallback.get_settings(session) if fallback else {},
        ollama_url=ollama.stored_url(session) or gateway_settings().ollama_base_url,
        ollama_stored=ollama.stored_url(session) is not None, test=test,
        credentials_available=creds_api is not None, credentials=credentials,
        cred_error=cred_error, providers=sorted(config.provider_names()), kinds=PROVIDER_KINDS,
        chains=fallback.list_chains(session) if fallback else [],
        orgs=list(session.scalars(select(Organization).order_by(Organization.name))),
        users=list(session.scalars(select(User).order_by(User.name).limit(2000))),
        features=features.list_features(session), modes=features.MODES,
        catalog=sorted(config.models), interception=_interception())


def _interception() -> dict:
    """Whether a proxy serves interception (it leaves a state file in the data dir), and the CA
    every client must trust for it."""
    from gateway.intercept import ca_cert_path, ca_fingerprint, state_file

    data_dir = gateway_settings().data_dir
    info: dict = {"on": False, "ca": None}
    try:
        info.update(json.loads(state_file(data_dir).read_text()), on=True)
    except (OSError, ValueError):
        pass
    cert = ca_cert_path(data_dir)
    if cert.exists():
        info["ca"] = {"path": str(cert), "fingerprint": ca_fingerprint(cert)}
    return info


@bp.get("/ca.pem")
@allow(SUPER)
def ca_certificate() -> Response:
    from gateway.intercept import ca_cert_path

    cert = ca_cert_path(gateway_settings().data_dir)
    if not cert.exists():
        abort(404)
    return send_file(cert, mimetype="application/x-pem-file", as_attachment=True,
                     download_name="llm-gateway-ca.pem")


def _strategies() -> tuple[str, ...]:
    module = api("strategies")
    return module.STRATEGIES if module else ()


@bp.post("/routing")
@allow(SUPER)
def save_routing() -> Response:
    fallback = _fallback()
    strategy, private = field("strategy", 40), checkbox("allow_private")

    def save(session):
        fallback.set_setting(session, fallback.ROUTING_STRATEGY, strategy)
        fallback.set_setting(session, fallback.ALLOW_PRIVATE, private)
    attempt(save, f"Routing strategy is now {strategy}.")
    return redirect(url_for("settings.index"))


@bp.post("/ollama")
@allow(SUPER)
def save_ollama() -> Response:
    creds = api("credentials")
    if creds is None:
        abort(404)
    url = field("url", 500)
    attempt(lambda s: creds.set_credential(s, master_key(), "ollama", base_url=url,
                                           allow_private=checkbox("allow_private")),
            f"Ollama URL saved: {url}")
    return redirect(url_for("settings.index") + "#ollama")


@bp.post("/ollama/test")
@allow(SUPER)
def test_ollama() -> str:
    url = ollama.stored_url(get_db()) or gateway_settings().ollama_base_url
    return index(test=ollama.test_connection(url, float(current_app.config["OLLAMA_TIMEOUT"])))


@bp.post("/credentials")
@allow(SUPER)
def save_credential() -> Response:
    creds = api("credentials")
    if creds is None:
        abort(404)
    provider = field("provider", 64) or field("other_provider", 64)
    # Empty fields keep what is stored (a replace may change the key alone).
    options = {"api_key": request.form.get("api_key") or None,
               "base_url": field("base_url", 500) or None, "kind": field("kind", 20) or None,
               "organization": field("organization", 200) or None,
               "allow_private": checkbox("allow_private"),
               "configured": model_config().provider_names()}
    attempt(lambda s: creds.set_credential(s, master_key(), provider, **options),
            f"Credentials of {provider} saved.")
    return redirect(url_for("settings.index") + "#credentials")


@bp.post("/credentials/delete")
@allow(SUPER)
def delete_credential() -> Response:
    creds = api("credentials")
    if creds is None:
        abort(404)
    provider = field("provider", 64)
    attempt(lambda s: creds.delete_credential(s, provider), f"Credentials of {provider} deleted.")
    return redirect(url_for("settings.index") + "#credentials")


@bp.post("/chains")
@allow(SUPER)
def save_chain() -> Response:
    fallback = _fallback()
    primary = field("primary", 200)
    models = [m for m in _SPLIT.split(field("models", 2000)) if m]
    scope = field("scope", 63) or None
    attempt(lambda s: fallback.set_chain(s, primary, models, scope, config=model_config()),
            f"Fallback chain of {primary} saved.")
    return redirect(url_for("settings.index") + "#chains")


@bp.post("/chains/delete")
@allow(SUPER)
def delete_chain() -> Response:
    fallback = _fallback()
    primary, scope = field("primary", 200), field("scope", 63) or None
    attempt(lambda s: fallback.delete_chain(s, primary, scope),
            f"Fallback chain of {primary} deleted.")
    return redirect(url_for("settings.index") + "#chains")


@bp.post("/features")
@allow(SUPER)
def save_feature() -> Response:
    key = field("key", 60)
    attempt(lambda s: features.set_feature(s, key, field("label", 200),
                                           field("description", 600), field("mode", 10)),
            f"Feature {key} saved.")
    return redirect(url_for("settings.index") + "#features")


@bp.post("/features/delete")
@allow(SUPER)
def delete_feature() -> Response:
    key = field("key", 60)
    attempt(lambda s: features.delete_feature(s, key), f"Feature {key} removed.")
    return redirect(url_for("settings.index") + "#features")
