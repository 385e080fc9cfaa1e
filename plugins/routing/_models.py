"""The routing plugin's table: model aliases, global (`org_id` NULL) or per organization."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base, UtcDateTime, utcnow


class ModelAlias(Base):
    """`requested` → `routed`. Within one organization a requested name appears once; global
    aliases get the same guarantee from a partial unique index (NULLs never collide in a plain
    unique constraint, on SQLite and PostgreSQL alike)."""

    __tablename__ = "model_aliases"
    __table_args__ = (
        UniqueConstraint("org_id", "requested"),
        Index("ix_model_aliases_global_requested", "requested", unique=True,
              sqlite_where=text("org_id IS NULL"), postgresql_where=text("org_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requested: Mapped[str] = mapped_column(String(200))
    routed: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow,
                                                 nullable=False)

    def __repr__(self) -> str:
        return f"<ModelAlias {self.requested!r} → {self.routed!r} org={self.org_id}>"
