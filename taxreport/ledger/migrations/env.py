"""Alembic environment: runs on the connection handed over by :func:`taxreport.ledger.migrate`."""

from alembic import context

from taxreport.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for the alembic command line
    from sqlalchemy import create_engine

    from taxreport.config import database_url

    connection = create_engine(database_url()).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
