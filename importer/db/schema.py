"""The database's schema revision, and bringing it to the one this release's code needs.

Migrations are Alembic's, shipped in :mod:`importer.migrations`. Every change runs in one
transaction under a lock (PostgreSQL: an advisory lock; SQLite: its write lock), and the
revision is read again once the lock is held, so daemons starting together migrate once. A
database made by release 0.1.0 (tables, no version table) is taken as the baseline revision,
never recreated; a database newer than the code is refused and left untouched.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlmodel import SQLModel

from importer.db.ledger import ImportJob
from importer.exceptions import SchemaError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = "importer:migrations"
HEAD = "0010"
"""the newest revision in :mod:`importer.migrations` (a test keeps them equal): a database at
it is current without Alembic being imported, which costs a command about half a second"""
SCHEMA_LOCK_KEY = 0x1A9_5C4E
LEDGER_TABLE = ImportJob.__tablename__

METADATA: MetaData = SQLModel.metadata
"""every table of the code's models (importing the models fills it)"""

Standing = Literal["empty", "behind", "current", "ahead"]


@dataclass(frozen=True)
class Revision:
    """Where a database stands against the code."""

    database: str | None
    """its revision; ``0.1.0`` tables without a version table count as the baseline"""
    head: str
    """the newest revision this release ships"""
    standing: Standing

    def describe(self) -> str:
        database = self.database or "none (empty database)"
        return f"database revision {database}, this release's head {self.head} ({self.standing})"


def revision_of(engine: Engine) -> Revision:
    with engine.connect() as connection:
        if _stamped(connection) == HEAD:
            return Revision(HEAD, HEAD, "current")
        return _revision(connection)


def _stamped(connection: Connection) -> str | None:
    """The version table's revision, read without Alembic; None when there is none."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def prepare(engine: Engine, *, auto_upgrade: bool) -> Revision:
    """Bring the database to head at start-up, or refuse with the reason and the command to run.

    An empty database always gets the full schema; an older one only with ``auto_upgrade``.
    """
    found = revision_of(engine)
    if found.standing == "current":
        return found
    if found.standing == "ahead":
        raise SchemaError(_newer(found))
    if found.standing == "behind" and not auto_upgrade:
        raise SchemaError(
            f"the database schema is older than this release ({found.describe()}); "
            "back the database up, then run `importer db upgrade` "
            "(or set database.auto_upgrade = true)"
        )
    return upgrade(engine)


def upgrade(engine: Engine, *, target: str = "head") -> Revision:
    """Run the migrations the database lacks up to ``target``, under the schema lock; returns
    where it started."""
    with engine.connect() as connection, connection.begin():
        _lock(connection)
        found = _revision(connection)  # again, now that no one else can be migrating
        if found.standing == "ahead":
            raise SchemaError(_newer(found))
        if found.standing != "current":
            from alembic import command

            # A 0.1.0 database goes through the baseline too: it creates only what is missing.
            command.upgrade(_config(connection), target)
    return found


def differences(engine: Engine) -> list[str]:
    """How the database's tables differ from the code's models (none once migrated)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        wanted = MetaData()
        for model in _code_tables():
            model.__table__.to_metadata(wanted)  # type: ignore[attr-defined]
        return [_describe(diff) for diff in compare_metadata(context, wanted)]


def _code_tables() -> list[type[SQLModel]]:
    """Every table of the code: the feeds' are imported only when they are compared."""
    from importer.db.ledger import RowChange
    from importer.db.remote_files import RemoteFile
    from importer.db.source_leases import SourceLease
    from importer.feeds import FEEDS

    tables: list[type[SQLModel]] = [ImportJob, RowChange, RemoteFile, SourceLease]
    return [*tables, *(spec.model for spec in FEEDS.values())]


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def _known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


@functools.cache
def _scripts() -> ScriptDirectory:
    """Read once: a start-up asks for the head and the known revisions more than once."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(None))


def _revision(connection: Connection) -> Revision:
    from alembic.migration import MigrationContext

    head = head_revision()
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        legacy = inspect(connection).has_table(LEDGER_TABLE)
        return Revision("0001" if legacy else None, head, "behind" if legacy else "empty")
    if current not in _known_revisions():
        return Revision(current, head, "ahead")
    return Revision(current, head, "current" if current == head else "behind")


def _lock(connection: Connection) -> None:
    """SQLite's write lock is already held: the engine begins every transaction IMMEDIATE."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


def _config(connection: Connection | None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def _newer(found: Revision) -> str:
    return (
        f"the database schema is newer than this release ({found.describe()}): it was upgraded "
        "by a later importer; run that release, this one leaves the database untouched"
    )


def _describe(diff: Any) -> str:
    """One line of what autogenerate found: ``add_column products.store_id`` and the like."""
    if isinstance(diff, list):
        return "; ".join(_describe(part) for part in diff)
    kind = diff[0]
    if kind in ("add_table", "remove_table", "add_index", "remove_index"):
        return f"{kind} {diff[1].name}"
    if kind in ("add_column", "remove_column"):
        return f"{kind} {diff[2]}.{diff[3].name}"
    if kind.startswith("modify_"):
        return f"{kind} {diff[2]}.{diff[3]}: {diff[5]} -> {diff[6]}"
    return repr(diff)
