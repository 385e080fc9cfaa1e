"""routing: model aliases

Written by hand: `model_aliases` (global when `org_id` is NULL, else per organization, removed
with its organization). Uniqueness of a requested name per organization is a constraint; for
global aliases a partial unique index, since NULL org ids never collide in a constraint.

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = ("routing",)
depends_on: Union[str, Sequence[str], None] = None

UtcDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested", sa.String(length=200), nullable=False),
        sa.Column("routed", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"],
            name=op.f("fk_model_aliases_org_id_organizations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_aliases")),
        sa.UniqueConstraint("org_id", "requested", name=op.f("uq_model_aliases_org_id")),
    )
    op.create_index(op.f("ix_model_aliases_org_id"), "model_aliases", ["org_id"], unique=False)
    op.create_index("ix_model_aliases_global_requested", "model_aliases", ["requested"],
                    unique=True, sqlite_where=sa.text("org_id IS NULL"),
                    postgresql_where=sa.text("org_id IS NULL"))


def downgrade() -> None:
    op.drop_table("model_aliases")  # its indexes go with it
