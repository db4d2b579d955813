"""Several daemons on one database: SFTP sources are leased, remote files claimed per host.

- ``source_leases``: which daemon polls each source, until when.
- ``import_jobs`` gains ``host``: the inbox that holds the job's file, the only one that can tell
  whether an unfinished job's file was claimed.
- ``remote_files`` gains ``host`` (who claimed and fetched the file, and answers it), ``feed``
  and ``claimed_at``; a file is now claimed (CLAIMED) before it is downloaded, so its checksum and
  local name are empty until then. Its identity (source, path, size, mtime) becomes unique: of
  rows that repeat one (two daemons that fetched the same file before claims existed) the first
  stays.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "source_leases",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
    op.execute(
        "DELETE FROM remote_files WHERE EXISTS (SELECT 1 FROM remote_files AS first "
        "WHERE first.source = remote_files.source AND first.remote_path = remote_files.remote_path "
        "AND first.size_bytes = remote_files.size_bytes AND first.mtime = remote_files.mtime "
        "AND first.id < remote_files.id)"
    )
    op.drop_index("ix_remote_files_identity", table_name="remote_files")
    with op.batch_alter_table("remote_files") as batch:
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
        batch.add_column(sa.Column("feed", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.alter_column("sha256", existing_type=sa.String(64), nullable=True)
        batch.alter_column("local_name", existing_type=sa.String(255), nullable=True)
    op.create_index(
        "ux_remote_files_identity",
        "remote_files",
        ["source", "remote_path", "size_bytes", "mtime"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_remote_files_identity", table_name="remote_files")
    op.execute("DELETE FROM remote_files WHERE state = 'CLAIMED'")
    with op.batch_alter_table("remote_files") as batch:
        batch.alter_column("local_name", existing_type=sa.String(255), nullable=False)
        batch.alter_column("sha256", existing_type=sa.String(64), nullable=False)
        batch.drop_column("claimed_at")
        batch.drop_column("feed")
        batch.drop_column("host")
    op.create_index(
        "ix_remote_files_identity", "remote_files", ["source", "remote_path", "size_bytes", "mtime"]
    )
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("host")
    op.drop_table("source_leases")
