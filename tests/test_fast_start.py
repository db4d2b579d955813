"""Commands start without what they do not need: the names they offer are kept equal to the real
ones, and the heavy modules stay unimported (timings belong to the bench)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from importer import commands
from importer.db import schema
from importer.db.ledger import JobStatus
from importer.feed_names import FEED_NAMES, FEED_PATTERNS, JOB_STATUSES
from importer.feeds import FEEDS


def imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


def test_the_offered_names_are_the_real_ones() -> None:
    assert tuple(FEEDS) == FEED_NAMES
    assert {name: spec.patterns for name, spec in FEEDS.items()} == FEED_PATTERNS
    assert tuple(status.value for status in JobStatus) == JOB_STATUSES
    assert schema.head_revision() == schema.HEAD


def test_help_imports_no_database_or_dataframe_library() -> None:
    loaded = imported_after("import importer.cli; importer.cli._parser()")
    assert not loaded & {"polars", "sqlalchemy", "pydantic", "alembic", "paramiko"}


def test_the_ledger_commands_import_no_dataframe_library_nor_alembic() -> None:
    loaded = imported_after("import importer.commands")
    assert not loaded & {"polars", "alembic", "paramiko", "watchdog", "apscheduler"}


def test_status_names_waiting_files_feeds_without_the_feed_models_or_a_database_driver() -> None:
    loaded = imported_after(
        "from importer.commands import import_work_modules; import_work_modules('status')"
    )
    assert "importer.status" in loaded
    assert not loaded & {"importer.feeds", "polars", "psycopg"}


def test_the_program_runs_its_command_with_the_collector_on_and_start_up_frozen(
    tmp_path: Path,
) -> None:
    config = tmp_path / "importer.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/x.db"\n')
    probe = (
        "import gc, sys\n"
        "from importer import cli, commands\n"
        "seen = {}\n"
        "def jobs(args, settings):\n"
        "    seen.update(on=gc.isenabled(), frozen=gc.get_freeze_count(), work=sys.modules)\n"
        "    return 0\n"
        "commands.jobs = jobs\n"
        f"sys.argv = ['importer', '--config', {str(config)!r}, 'jobs']\n"
        "code = cli.program()\n"
        "print(code, seen['on'], seen['frozen'], 'sqlalchemy' in seen['work'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    code, collector_on, frozen, ledger_imported = result.stdout.split()
    assert (code, collector_on, ledger_imported) == ("0", "True", "True")
    assert int(frozen) > 10_000


def test_every_command_named_for_early_imports_exists_and_its_modules_import() -> None:
    for handler, modules in commands.WORK_MODULES.items():
        assert callable(getattr(commands, handler)), handler
        for module in modules:
            assert importlib.import_module(module).__name__ == module
