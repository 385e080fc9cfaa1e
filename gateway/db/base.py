"""The declarative base, its constraint naming convention and two portable column types."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import DateTime, MetaData, Table, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from gateway.jsontext import compact_sorted

# Fixed names so migrations can address constraints by name on every backend (alembic naming.rst).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that always hands back an aware UTC datetime.

    SQLite stores no offset and returns naive values; PostgreSQL returns the session's zone. Both
    become UTC here, so comparisons never mix naive and aware values. Naive input is taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite would store the offset text only on some paths; store naive UTC consistently.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, a datetime becomes SQLAlchemy's stored text in one step: the same text as
        `process_bind_param` followed by SQLite's DATETIME processor (a `%` format of seven
        fields), at half the cost on the writers' threads (a call writes two or three)."""
        general = super().bind_processor(dialect)
        if dialect.name != "sqlite" or general is None:
            return general

        def process(value: Any) -> Any:
            if type(value) is not datetime:  # None, and anything the general path must judge
                return general(value)
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            text = value.isoformat(" ")
            return text if value.microsecond else text + ".000000"

        return process


class JsonText(TypeDecorator[Any]):
    """Any JSON value stored as text, identical on SQLite and PostgreSQL (no jsonb operators)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        return compact_sorted(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model is declared with __tablename__, so its __table__ is a Table (which insert(),
        # update() and delete() accept), not any FromClause as DeclarativeBase allows.
        __table__: ClassVar[Table]
