"""The database shared by the gateway and the admin site: typed SQLAlchemy 2.0 models (`models`),
engines and sessions (`engine`), and the Alembic upgrade entry point (`migrate`).

Nothing here imports Flask. Alembic owns the schema: never call `Base.metadata.create_all` outside
tests; call `gateway.db.migrate.upgrade(url)` instead.
"""
