"""Who may work on what: one lane (partner + feed) at a time, and one daemon per SQLite file.

Files of a partner's feed must be applied in arrival order, so each lane is worked by one worker
at a time. On PostgreSQL the lane lock is a session advisory lock, which several daemons sharing
the database respect and which vanishes with a crashed daemon's connection. SQLite admits one
daemon (an exclusive ``flock`` beside the database file), so its lane locks live in the process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from importer.exceptions import ConfigError

LANE_LOCK_NAMESPACE = 0x1A9_0417

Lane = tuple[str, str | None]
"""(partner, feed); feed None for files no pattern matches"""


def lane_key(lane: Lane) -> int:
    """A stable signed 32-bit key for the lane (advisory locks take two int4s)."""
    digest = hashlib.sha256(f"{lane[0]}/{lane[1] or ''}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


class LaneLocks(Protocol):
    def lease(self, lane: Lane) -> AbstractContextManager[bool]:
        """Yields whether the lane was free and is now held by the caller."""


class ProcessLaneLocks:
    """Lane locks for a single process (SQLite)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: set[Lane] = set()

    @contextmanager
    def lease(self, lane: Lane) -> Iterator[bool]:
        with self._guard:
            acquired = lane not in self._held
            if acquired:
                self._held.add(lane)
        try:
            yield acquired
        finally:
            if acquired:
                with self._guard:
                    self._held.discard(lane)


class AdvisoryLaneLocks:
    """Lane locks shared by every daemon on one PostgreSQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def lease(self, lane: Lane) -> Iterator[bool]:
        with self.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            acquired = bool(_advisory(autocommit, "pg_try_advisory_lock", lane))
            try:
                yield acquired
            finally:
                if acquired:
                    _advisory(autocommit, "pg_advisory_unlock", lane)


def _advisory(connection: Connection, function: str, lane: Lane) -> object:
    return connection.execute(
        text(f"SELECT {function}(:namespace, :key)"),
        {"namespace": LANE_LOCK_NAMESPACE, "key": lane_key(lane)},
    ).scalar_one()


def lane_locks_for(engine: Engine) -> LaneLocks:
    if engine.dialect.name == "postgresql":
        return AdvisoryLaneLocks(engine)
    return ProcessLaneLocks()


class SingleDaemonLock:
    """An exclusive lock on ``<sqlite file>.lock``; a second process is refused at once."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.path: Path | None = None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self.path = Path(f"{url.database}.lock")
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"another importer (pid {holder}) is using the SQLite database {self.path.with_suffix('')}; "
                "SQLite allows one daemon: stop it first, or use PostgreSQL to run several"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
