"""Indexes for what every file asks of the ledger, which is never pruned and grows with each file.

- ``ix_import_jobs_checksum`` (partner, sha256) finds the failed job an operator sent back for
  these bytes, and the job that answered a fetched SFTP file, among the partner's own jobs
  with that checksum. It replaces (partner, feed, sha256, status), which neither question could
  use past the partner, so that each file read all the partner's jobs.
- ``ix_import_jobs_loads`` (partner, feed, id) of completed jobs only: a lane's latest load and
  last shape are its first entry, however many of the table's jobs came since.
- ``ix_import_jobs_forced`` and ``ix_import_jobs_retries``, of the few jobs sent back with
  ``--force`` and of the retries: a tripped guard's check for a forced retry read the whole
  table.
- ``ix_import_jobs_created_at``: the last seven days of ``importer status`` and the last 30 of the
  status page are read as a range, not picked out of every job.

A year of hourly deltas (1,000,000 jobs) made a small file take 10 times as long on SQLite.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

PARTIAL = {
    "ix_import_jobs_loads": (["partner_id", "feed", "id"], "status = 'COMPLETED'"),
    "ix_import_jobs_forced": (["partner_id"], "retry_forced"),
    "ix_import_jobs_retries": (["retry_of"], "retry_of IS NOT NULL"),
}


def upgrade() -> None:
    op.drop_index("ix_import_jobs_bytes", table_name="import_jobs")
    op.create_index("ix_import_jobs_checksum", "import_jobs", ["partner_id", "sha256"])
    op.create_index("ix_import_jobs_created_at", "import_jobs", ["created_at"])
    for name, (columns, where) in PARTIAL.items():
        condition = sa.text(where)
        op.create_index(
            name, "import_jobs", columns, postgresql_where=condition, sqlite_where=condition
        )


def downgrade() -> None:
    for name in PARTIAL:
        op.drop_index(name, table_name="import_jobs")
    op.drop_index("ix_import_jobs_created_at", table_name="import_jobs")
    op.drop_index("ix_import_jobs_checksum", table_name="import_jobs")
    op.create_index(
        "ix_import_jobs_bytes", "import_jobs", ["partner_id", "feed", "sha256", "status"]
    )
