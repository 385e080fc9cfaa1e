"""Users: create, list, edit, suspend/activate, reset a password, and their keys.

An org admin sees and manages the users of their own organization only, can give the roles
member and org_admin only, and cannot touch a super admin.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from admin_web.access import ORG_ADMIN, SUPER, allow, check_org, is_super, org_scope
from admin_web.auth import ROLE_LABELS
from admin_web.db import get_db
from admin_web.views import _keys
from admin_web.writes import FAILED, attempt, field, refuse
from gateway import admin_ops
from gateway.db.models import Organization, User

bp = Blueprint("users", __name__, url_prefix="/users")
PAGE_LIMIT = 500


def roles_offered() -> dict[str, str]:
    if is_super():
        return ROLE_LABELS
    return {k: v for k, v in ROLE_LABELS.items() if k != SUPER}


def orgs_offered() -> list[Organization]:
    query = select(Organization).order_by(Organization.name)
    if not is_super():
        query = query.where(Organization.id == current_user.org_id)
    return list(get_db().scalars(query))


def user_or_404(user_id: int) -> User:
    user = get_db().get(User, user_id)
    if user is None:
        abort(404)
    if not is_super():
        check_org(user.org_id)
        if user.role == SUPER:
            abort(404)
    return user


def _org_slug_from_form() -> str | None:
    if not is_super():
        return get_db().get(Organization, current_user.org_id).slug
    return field("org", 63) or None


def _role_from_form() -> str:
    role = field("role", 20) or "member"
    if role not in roles_offered():
        abort(403)
    return role


@bp.get("/")
@allow(SUPER, ORG_ADMIN)
def index() -> str:
    query = (select(User).options(selectinload(User.org)).order_by(User.name, User.email)
             .limit(PAGE_LIMIT))
    if org_scope() is not None:
        query = query.where(User.org_id == org_scope(), User.role != SUPER)
    search = (request.args.get("q") or "").strip()
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(or_(User.email.like(pattern), User.name.ilike(pattern)))
    return render_template("users.html", users=list(get_db().scalars(query)), search=search,
                           roles=roles_offered(), orgs=orgs_offered(), limit=PAGE_LIMIT)


@bp.post("/")
@allow(SUPER, ORG_ADMIN)
def create() -> Response:
    role, org_slug = _role_from_form(), _org_slug_from_form()
    password = request.form.get("password") or ""  # checked by the one password policy
    email = field("email", 254)
    attempt(lambda s: admin_ops.create_user(
        s, email, field("name", 200), org_slug=org_slug, role=role,
        weekly_cap_usd=field("weekly_cap", 30) or None, password=password or None),
        f"User {email} created.")
    return redirect(url_for("users.index"))


@bp.get("/<int:user_id>")
@allow(SUPER, ORG_ADMIN)
def detail(user_id: int) -> str:
    return render_detail(user_or_404(user_id))


def render_detail(user: User, new_key: str | None = None, new_password: str | None = None) -> str:
    return render_template("user_detail.html", user=user, roles=roles_offered(),
                           orgs=orgs_offered(), keys=_keys.keys_of(get_db(), user),
                           new_key=new_key, new_password=new_password)


@bp.post("/<int:user_id>")
@allow(SUPER, ORG_ADMIN)
def update(user_id: int) -> Response:
    user = user_or_404(user_id)
    role, org_slug = _role_from_form(), _org_slug_from_form()
    if user.id == current_user.id and role != user.role:
        refuse("You cannot change your own role.")
        return redirect(url_for("users.detail", user_id=user.id))
    attempt(lambda s: admin_ops.update_user(s, user.email, name=field("name", 200), role=role,
                                            org_slug=org_slug,
                                            weekly_cap_usd=field("weekly_cap", 30) or None),
            "Saved.")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/<int:user_id>/status")
@allow(SUPER, ORG_ADMIN)
def set_status(user_id: int) -> Response:
    user = user_or_404(user_id)
    status = "active" if field("status", 20) == "active" else "suspended"
    if user.id == current_user.id and status == "suspended":
        refuse("You cannot suspend yourself.")
    else:
        attempt(lambda s: admin_ops.set_user_status(s, user.email, status),
                f"{user.email} is now {status}.")
    if request.form.get("back") == "list":
        return redirect(url_for("users.index"))
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/<int:user_id>/password")
@allow(SUPER, ORG_ADMIN)
def reset_password(user_id: int) -> Response | str:
    user = user_or_404(user_id)
    password = attempt(lambda s: admin_ops.reset_password(s, user.email)[0])
    if password is FAILED:
        return redirect(url_for("users.detail", user_id=user.id))
    return render_detail(user, new_password=password)


@bp.post("/<int:user_id>/keys")
@allow(SUPER, ORG_ADMIN)
def create_key(user_id: int) -> Response | str:
    user = user_or_404(user_id)
    key = attempt(lambda s: _keys.create(s, user, field("name", 200)))
    if key is FAILED:
        return redirect(url_for("users.detail", user_id=user.id))
    return render_detail(user, new_key=key)


@bp.post("/<int:user_id>/keys/revoke")
@allow(SUPER, ORG_ADMIN)
def revoke_key(user_id: int) -> Response:
    user = user_or_404(user_id)
    attempt(lambda s: _keys.revoke(s, user, field("prefix", 40)), "Key revoked.")
    return redirect(url_for("users.detail", user_id=user.id))
