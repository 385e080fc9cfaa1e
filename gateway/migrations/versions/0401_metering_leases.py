"""metering plugin: process leases (a dead process's holds are released in seconds) and released
reservations kept as tombstones (so a settlement replayed from a spool is booked exactly once)

Revision ID: 0401
Revises: 0400
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0401"
down_revision: Union[str, Sequence[str], None] = "0400"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UtcDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "metering_leases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("heartbeat_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metering_leases")),
    )
    op.create_index(op.f("ix_metering_leases_heartbeat_at"), "metering_leases", ["heartbeat_at"])
    with op.batch_alter_table("metering_reservations") as batch:
        batch.add_column(sa.Column("lease_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("released_at", UtcDateTime, nullable=True))
        batch.create_index(batch.f("ix_metering_reservations_lease_id"), ["lease_id"])


def downgrade() -> None:
    with op.batch_alter_table("metering_reservations") as batch:
        batch.drop_index(batch.f("ix_metering_reservations_lease_id"))
        batch.drop_column("released_at")
        batch.drop_column("lease_id")
    op.drop_index(op.f("ix_metering_leases_heartbeat_at"), table_name="metering_leases")
    op.drop_table("metering_leases")
