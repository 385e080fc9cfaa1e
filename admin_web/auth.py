"""Sign in and sign out (`/login`, `/logout`), and who the current user is (flask-login)."""

from __future__ import annotations

import functools
import secrets
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from admin_web.access import public
from admin_web.db import get_db
from admin_web.security import LoginThrottle, safe_next
from gateway.db.models import User

BAD_LOGIN = "Incorrect email or password."
SUSPENDED = "This account is suspended. Ask an administrator to reactivate it."
ROLE_LABELS = {"super_admin": "Super admin", "org_admin": "Organization admin",
               "member": "Member"}
THROTTLE = "admin_web.login_throttle"
EPOCH = "session_epoch"

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"


class LoginUser(UserMixin):
    """The signed-in `User` row as flask-login sees it; other attributes read through to the row."""

    def __init__(self, row: User) -> None:
        self.row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)

    def get_id(self) -> str:
        return str(self.row.id)

    @property
    def is_active(self) -> bool:
        return self.row.status == "active"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.row.role, self.row.role)


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.extensions[THROTTLE] = LoginThrottle(int(app.config["LOGIN_MAX_FAILURES"]),
                                             float(app.config["LOGIN_WINDOW_SECONDS"]))


@login_manager.user_loader
def load_user(user_id: str) -> LoginUser | None:
    if not user_id.isdigit():
        return None
    row = get_db().get(User, int(user_id))
    # Suspending a user ends their sessions at their next request; so does anything that moved
    # their session epoch on (sign-out anywhere, a new password, a role change).
    if row is None or row.status != "active" or session.get(EPOCH) != row.session_epoch:
        return None
    return LoginUser(row)


@bp.route("/login", methods=("GET", "POST"))
@public
def login() -> Response | tuple[str, int] | str:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        return _sign_in(form)
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


def _sign_in(form: LoginForm) -> Response | tuple[str, int, dict[str, str]] | tuple[str, int]:
    email = form.email.data.strip().lower()
    key = (email, request.remote_addr or "")
    throttle: LoginThrottle = current_app.extensions[THROTTLE]
    wait = throttle.retry_after(key)
    if wait:
        minutes = max(1, round(wait / 60))
        error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes != 1)}."
        return (render_template("login.html", form=form, error=error), 429,
                {"Retry-After": str(wait)})
    user = get_db().scalar(select(User).where(User.email == email))
    if not _password_matches(user, form.password.data):
        throttle.record_failure(key)
        return render_template("login.html", form=form, error=BAD_LOGIN), 200
    throttle.reset(key)
    if user.status != "active":
        return render_template("login.html", form=form, error=SUSPENDED), 403
    session.clear()  # nothing from before sign-in carries over
    session.permanent = True
    session[EPOCH] = user.session_epoch
    login_user(LoginUser(user))
    return redirect(safe_next(form.next.data) or url_for("home.index"))


def _password_matches(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash:
        # Hash anyway so an unknown email takes as long to refuse as a wrong password.
        check_password_hash(_decoy_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


@functools.cache
def _decoy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


@bp.post("/logout")
@public
def logout() -> Response:
    if current_user.is_authenticated:
        # Server-side: a copy of this session cookie (or any other session) stops working too.
        db = get_db()
        row = db.get(User, current_user.row.id)
        row.session_epoch = (row.session_epoch or 0) + 1
        db.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
