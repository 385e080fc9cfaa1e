"""Alembic environment. The URL comes from `config.attributes["url"]`, the `sqlalchemy.url` option,
or the gateway settings (GATEWAY_DATABASE_URL, else SQLite in the data dir). A caller may pass an
open connection in `config.attributes["connection"]` (that is what `gateway.db.migrate` does).
When autogenerating, every plugin's model module is imported too, so autogenerate never proposes
dropping a plugin's table; a plain upgrade runs the scripts and needs none of them (so a start
never depends on every plugin importing cleanly)."""

from __future__ import annotations

import importlib
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

import gateway.db.models  # noqa: F401  (registers every core table on the metadata)
from gateway.db.base import Base
from gateway.db.engine import make_engine, normalize_url
from gateway.settings import Settings

config = context.config
target_metadata = Base.metadata
# Importing a built-in plugin's package registers its tables on the shared metadata.
PLUGIN_MODELS = ("plugins.routing", "plugins.fallback", "plugins.dlp", "plugins.metering")

if getattr(config.cmd_opts, "autogenerate", False) or config.attributes.get("load_all_models"):
    for module in PLUGIN_MODELS:
        importlib.import_module(module)


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    return str(url or Settings.from_env().database_url)


def _configure(**kwargs: Any) -> None:  # alembic's own keyword arguments, passed through
    context.configure(target_metadata=target_metadata, compare_type=True, **kwargs)


def run_migrations_offline() -> None:
    url = normalize_url(_url())
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    # SQLite cannot ALTER most things; batch mode copies the table instead (alembic batch.rst).
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run_on(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
