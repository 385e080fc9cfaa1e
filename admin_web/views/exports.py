"""User activity export (CSV): start a background job, watch its progress (static/admin.js
polls the status), download the file. Super admins export anyone; an org admin exports the
users of their organization."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_web.access import ORG_ADMIN, SUPER, allow
from admin_web.db import database
from admin_web.export_jobs import Job, Jobs
from admin_web.sources import api, gateway_settings
from admin_web.views.users import user_or_404

bp = Blueprint("exports", __name__, url_prefix="/exports")
EXTENSION = "admin_web.exports"


def jobs(app: Flask | None = None) -> Jobs:
    app = app or current_app
    found = app.extensions.get(EXTENSION)
    if found is None:
        directory = app.config.get("EXPORT_DIR") or gateway_settings().data_dir / "exports"
        found = app.extensions[EXTENSION] = Jobs(Path(directory))
    return found


def _user_id(text: str | None) -> int:
    if not text or not text.isdigit():
        abort(404)
    return int(text)


@bp.get("/new")
@allow(SUPER, ORG_ADMIN)
def new() -> str:
    user = user_or_404(_user_id(request.args.get("user")))
    return render_template("export.html", user=user, job=None,
                           available=api("export") is not None)


@bp.post("/")
@allow(SUPER, ORG_ADMIN)
def start() -> Response:
    exporter = api("export")
    if exporter is None:
        abort(404)
    user = user_or_404(_user_id(request.form.get("user")))
    job = jobs().start(database().engine, exporter.write_user_csv, user.id, user.email,
                       current_user.id)
    return redirect(url_for("exports.show", job_id=job.id))


def job_or_404(job_id: str) -> Job:
    job = jobs().get(job_id)
    if job is None or job.owner_id != current_user.id:
        abort(404)
    return job


@bp.get("/<job_id>")
@allow(SUPER, ORG_ADMIN)
def show(job_id: str) -> str:
    job = job_or_404(job_id)
    return render_template("export.html", user=user_or_404(job.user_id), job=job,
                           available=True)


@bp.get("/<job_id>/status")
@allow(SUPER, ORG_ADMIN)
def status(job_id: str) -> Response:
    return jsonify(job_or_404(job_id).as_json())


@bp.get("/<job_id>/download")
@allow(SUPER, ORG_ADMIN)
def download(job_id: str) -> Response:
    job = job_or_404(job_id)
    if job.status != "done":
        abort(409, "The export is not finished yet.")
    return send_file(job.path, mimetype="text/csv", as_attachment=True,
                     download_name=job.filename, max_age=0)
