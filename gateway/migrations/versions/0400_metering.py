"""metering plugin: spend ledger and reservations, per-scope settings, stored conversations,
response cache, error reports and usage rollups

Revision ID: 0400
Revises: 0001
Create Date: 2026-11-27 04:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0400"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = ("metering",)
depends_on: Union[str, Sequence[str], None] = None

UtcDateTime = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.Numeric(precision=18, scale=8)


def upgrade() -> None:
    op.create_table(
        "metering_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("period_start", UtcDateTime, nullable=False),
        sa.Column("period_end", UtcDateTime, nullable=False),
        sa.Column("carry_usd", Money, nullable=False),
        sa.Column("spent_usd", Money, nullable=False),
        sa.Column("reserved_usd", Money, nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metering_ledger")),
        sa.UniqueConstraint("scope", "scope_id", "period_start",
                            name=op.f("uq_metering_ledger_scope_period")),
    )
    op.create_table(
        "metering_reservations",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("ledger_ids", sa.String(length=100), nullable=False),
        sa.Column("amount_usd", Money, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_metering_reservations")),
    )
    op.create_index(op.f("ix_metering_reservations_created_at"), "metering_reservations",
                    ["created_at"], unique=False)
    op.create_table(
        "metering_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("cap_usd", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("cache_ttl_seconds", sa.Integer(), nullable=True),
        sa.Column("store_bodies", sa.Boolean(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metering_settings")),
        sa.UniqueConstraint("scope", "scope_id", name=op.f("uq_metering_settings_scope")),
    )
    op.create_table(
        "metering_bodies",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_metering_bodies")),
    )
    op.create_index(op.f("ix_metering_bodies_user_id"), "metering_bodies", ["user_id"], unique=False)
    op.create_index(op.f("ix_metering_bodies_expires_at"), "metering_bodies", ["expires_at"],
                    unique=False)
    op.create_table(
        "metering_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("app_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_metering_cache")),
    )
    op.create_index(op.f("ix_metering_cache_expires_at"), "metering_cache", ["expires_at"],
                    unique=False)
    op.create_table(
        "metering_error_reports",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("app_id", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("key_prefix", sa.String(length=20), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metering_error_reports")),
    )
    op.create_index(op.f("ix_metering_error_reports_created_at"), "metering_error_reports",
                    ["created_at"], unique=False)
    op.create_table(
        "metering_rollups",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("grain", sa.String(length=6), nullable=False),
        sa.Column("bucket", UtcDateTime, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("requested_model", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("cache_hits", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", Money, nullable=False),
        sa.Column("latency_ms_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metering_rollups")),
        # Leads with (grain, bucket): it is also the index of every dashboard range query.
        sa.UniqueConstraint("grain", "bucket", "user_id", "org_id", "app_id", "requested_model",
                            "model", "provider", name=op.f("uq_metering_rollups_group")),
    )


def downgrade() -> None:
    for table in ("metering_rollups", "metering_error_reports", "metering_cache",
                  "metering_bodies", "metering_settings", "metering_reservations",
                  "metering_ledger"):
        op.drop_table(table)  # indexes go with their table
