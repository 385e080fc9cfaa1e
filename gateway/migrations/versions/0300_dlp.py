"""dlp plugin: rule switches per scope, bypass grants, audit events (hashes, never values)

Revision ID: 0300
Revises: 0001
Create Date: 2026-11-27 03:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0300"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = ("dlp",)
depends_on: Union[str, Sequence[str], None] = None

UtcDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dlp_rule_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope_kind", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("scope_kind IN ('global', 'org', 'app')",
                           name=op.f("ck_dlp_rule_settings_scope_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dlp_rule_settings")),
        sa.UniqueConstraint("scope_kind", "scope_id", "rule",
                            name=op.f("uq_dlp_rule_settings_scope_rule")),
    )
    op.create_table(
        "dlp_bypass_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("app_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL AND app_id IS NOT NULL) OR (user_id IS NOT NULL AND app_id IS NULL)",
            name=op.f("ck_dlp_bypass_grants_one_owner"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_dlp_bypass_grants_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"],
                                name=op.f("fk_dlp_bypass_grants_app_id_apps"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dlp_bypass_grants")),
        sa.UniqueConstraint("user_id", name=op.f("uq_dlp_bypass_grants_user_id")),
        sa.UniqueConstraint("app_id", name=op.f("uq_dlp_bypass_grants_app_id")),
    )
    # No foreign keys: the audit trail outlives the organization, app or key it names.
    op.create_table(
        "dlp_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope_kind", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("scope_slug", sa.String(length=63), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("match_count", sa.Integer(), nullable=False),
        sa.Column("request_size", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=20), nullable=True),
        sa.Column("value_hashes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dlp_events")),
    )
    op.create_index(op.f("ix_dlp_events_created_at"), "dlp_events", ["created_at"], unique=False)
    op.create_index(op.f("ix_dlp_events_request_id"), "dlp_events", ["request_id"], unique=False)
    op.create_index("ix_dlp_events_scope", "dlp_events", ["scope_kind", "scope_id", "created_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_dlp_events_scope", table_name="dlp_events")
    op.drop_index(op.f("ix_dlp_events_request_id"), table_name="dlp_events")
    op.drop_index(op.f("ix_dlp_events_created_at"), table_name="dlp_events")
    op.drop_table("dlp_events")
    op.drop_table("dlp_bypass_grants")
    op.drop_table("dlp_rule_settings")
