"""fallback plugin: fallback chains, encrypted provider credentials, master-key checks

Revision ID: 0200
Revises: 0001
Create Date: 2026-11-27 02:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0200"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = ("fallback",)
depends_on: Union[str, Sequence[str], None] = None

UtcDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fallback_chains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("primary_model", sa.String(length=200), nullable=False),
        sa.Column("models", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"],
                                name=op.f("fk_fallback_chains_org_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fallback_chains")),
        sa.UniqueConstraint("org_id", "primary_model", name=op.f("uq_fallback_chains_org_id")),
    )
    op.create_index(op.f("ix_fallback_chains_org_id"), "fallback_chains", ["org_id"], unique=False)
    op.create_table(
        "provider_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credentials")),
        sa.UniqueConstraint("provider", name=op.f("uq_provider_credentials_provider")),
    )
    op.create_table(
        "provider_credential_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("check_value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_provider_credential_keys")),
    )


def downgrade() -> None:
    op.drop_table("provider_credential_keys")
    op.drop_table("provider_credentials")
    op.drop_table("fallback_chains")  # its index goes with it
