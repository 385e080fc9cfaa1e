"""One engine per app, one SQLAlchemy session per request (closed when the app context ends).

Views call `get_db()`; they commit their own writes. Nothing is committed implicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.db.engine import make_engine, session_factory

EXTENSION = "admin_web.db"


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[EXTENSION] = Database(engine, session_factory(engine))
    app.teardown_appcontext(close_db)


def database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions[EXTENSION]


def get_db() -> Session:
    if "db" not in g:
        g.db = database().sessions()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()  # rolls back anything a view left uncommitted
