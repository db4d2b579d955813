"""Alembic's entry point: migrations run on the connection :mod:`importer.db.schema` hands over,
inside the transaction (and under the lock) it already holds."""

from __future__ import annotations

from alembic import context

from importer.db.schema import METADATA

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=METADATA,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
