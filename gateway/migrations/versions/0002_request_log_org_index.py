"""Index request logs by organization and time (the org admin's log page).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_request_logs_org_id_created_at", "request_logs", ["org_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_request_logs_org_id_created_at", table_name="request_logs")
