"""Guards against a broken export: what each file filled, what it dropped, forced retries.

``import_jobs`` gains ``filled_columns`` (the feed's columns a file filled, JSON, which the
partner's next file is compared with), ``dropped_columns`` (those it lacked that the previous
file filled) and ``retry_forced`` (sent back with ``importer retry --force``). Jobs from before
have no shape: the first file of each feed after the upgrade is compared with nothing.

An index on (partner, feed, id) finds a lane's latest job, which every file asks for twice (the
latest load, the last shape), without reading all the lane's jobs.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("filled_columns", sa.Text(), nullable=True))
        batch.add_column(sa.Column("dropped_columns", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("retry_forced", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_import_jobs_lane", "import_jobs", ["partner_id", "feed", "id"])


def downgrade() -> None:
    op.drop_index("ix_import_jobs_lane", table_name="import_jobs")
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("retry_forced")
        batch.drop_column("dropped_columns")
        batch.drop_column("filled_columns")
