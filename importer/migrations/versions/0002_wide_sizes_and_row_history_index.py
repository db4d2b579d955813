"""File sizes in 64 bits (a file over 2 GiB overflowed them); an index for one row's history.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.alter_column("size_bytes", type_=sa.BigInteger(), existing_type=sa.Integer())
    with op.batch_alter_table("remote_files") as batch:
        batch.alter_column(
            "size_bytes", type_=sa.BigInteger(), existing_type=sa.Integer(), nullable=False
        )
    op.create_index(
        "ix_row_changes_row", "row_changes", ["table_name", "partner_id", "row_key", "changed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_row_changes_row", table_name="row_changes")
    with op.batch_alter_table("remote_files") as batch:
        batch.alter_column(
            "size_bytes", type_=sa.Integer(), existing_type=sa.BigInteger(), nullable=False
        )
    with op.batch_alter_table("import_jobs") as batch:
        batch.alter_column("size_bytes", type_=sa.Integer(), existing_type=sa.BigInteger())
