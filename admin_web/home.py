"""The landing page (`/`, a placeholder until the full dashboard) and `/healthz`."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from admin_web.db import get_db

bp = Blueprint("home", __name__)

CSRF_MESSAGE = ("The form expired or did not come from this site. Go back, reload the page and "
                "try again.")


@bp.get("/")
@login_required
def index() -> str:
    return render_template("home.html")


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        get_db().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    # Start from werkzeug's response to keep its status and headers (Allow on a 405).
    response = error.get_response()
    message = CSRF_MESSAGE if isinstance(error, CSRFError) else error.description
    response.set_data(render_template("error.html", error=error, message=message))
    response.content_type = "text/html; charset=utf-8"
    return response
