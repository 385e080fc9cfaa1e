"""Alembic scripts for the gateway schema. Run them with `gateway.db.migrate.upgrade(url)`.

A package so `env.py` ships with the distribution; nothing imports `env` directly."""
