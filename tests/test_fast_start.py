"""Commands start without what they do not need: the names they offer are kept equal to the real
ones, and the heavy modules stay unimported (timings belong to the bench)."""

from __future__ import annotations

import subprocess
import sys

from importer.db import schema
from importer.db.ledger import JobStatus
from importer.feed_names import FEED_NAMES, JOB_STATUSES
from importer.feeds import FEEDS


def imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


def test_the_offered_names_are_the_real_ones() -> None:
    assert tuple(FEEDS) == FEED_NAMES
    assert tuple(status.value for status in JobStatus) == JOB_STATUSES
    assert schema.head_revision() == schema.HEAD


def test_help_imports_no_database_or_dataframe_library() -> None:
    loaded = imported_after("import importer.cli; importer.cli._parser()")
    assert not loaded & {"polars", "sqlalchemy", "pydantic", "alembic", "paramiko"}


def test_the_ledger_commands_import_no_dataframe_library_nor_alembic() -> None:
    loaded = imported_after("import importer.commands")
    assert not loaded & {"polars", "alembic", "paramiko", "watchdog", "apscheduler"}
