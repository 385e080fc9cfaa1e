"""The landing page (`/`: the dashboard for admins, "My dashboard" for members), `/healthz`
and the error pages."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from admin_web.access import EVERYONE, MEMBER, allow, public
from admin_web.db import get_db

bp = Blueprint("home", __name__)

CSRF_MESSAGE = ("The form expired or did not come from this site. Go back, reload the page and "
                "try again.")


@bp.get("/")
@allow(*EVERYONE)
def index() -> str:
    from admin_web.views import dashboard, me

    return me.render() if current_user.role == MEMBER else dashboard.render()


@bp.get("/healthz")
@public
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
