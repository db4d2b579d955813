"""Poll one SFTP source: fetch complete files once, answer each with its outcome and report.

A remote file is fetched when it is complete (size and mtime unchanged since the last poll, or
its done-marker is there) and the ledger has not fetched that (path, size, mtime) before. It is
streamed into ``incoming/<partner>/`` under a temporary name and renamed only once whole, so the
local pipeline treats it like any dropped file. The remote file is touched only after its job has
an outcome: then it is moved to ``done/``/``failed/`` (or deleted, or left) and the report goes
back to the partner, scrubbed of server paths.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import paramiko
from loguru import logger
from sqlalchemy import Engine

from importer.clock import utc_now
from importer.config import SftpSource
from importer.db.ledger import ImportJob, JobStatus
from importer.db.remote_files import RemoteFile, RemoteLedger, RemoteState
from importer.exceptions import TransientError
from importer.inbox import Inbox, is_temporary
from importer.logs import printable
from importer.ordering import OrderBy, natural_key
from importer.sftp_client import (
    RemoteEntry,
    SftpError,
    SftpSession,
    load_private_key,
    open_session,
)
from importer.stability import MARKER_SUFFIXES, is_marker

_SERVER_PATH = re.compile(r"(?<![\w.~])/(?:[^\s/'\"]+/)*[^\s/'\",;:)]+")


def partner_copy(text: str) -> str:
    """Report text for the partner: no path of ours in it."""
    return _SERVER_PATH.sub("<path>", text)


class SftpPoller:
    def __init__(
        self,
        source: SftpSource,
        inbox: Inbox,
        engine: Engine,
        environ: Mapping[str, str] = os.environ,
        fetch_order: Callable[[str], OrderBy] = lambda _name: "mtime",
    ) -> None:
        """``fetch_order`` tells, of a file name, the order its lane applies files in: files are
        fetched in that order, so the inbox receives them as they will apply."""
        self.source = source
        self.inbox = inbox
        self.remote = RemoteLedger(engine)
        self.environ = environ
        self.fetch_order = fetch_order
        self._last_listing: dict[str, tuple[int, int, float]] = {}
        self._failures = 0
        self._resume_at = 0.0
        self._key: paramiko.PKey | None = None

    def poll(self) -> None:
        """One round: settle finished files, then fetch complete new ones. Never raises."""
        if time.monotonic() < self._resume_at:
            return
        try:
            if self._key is None:
                self._key = load_private_key(self.source, self.environ)
            with open_session(self.source, self.environ, self._key) as session:
                self._settle(session)
                for entry in self._in_fetch_order(self._complete(self._listing(session))):
                    self._fetch(session, entry)
        except (SftpError, TransientError) as exc:
            self._failures += 1
            pause = min(self.source.poll_interval_s * 2**self._failures, self.source.max_backoff_s)
            self._resume_at = time.monotonic() + pause
            level = "ERROR" if "host key" in str(exc) else "WARNING"
            logger.log(
                level,
                "sftp {}: {}; files stay on the server, next attempt in {:.0f} s",
                self.source.id,
                exc,
                pause,
            )
            return
        self._failures = 0

    def _listing(self, session: SftpSession) -> list[RemoteEntry]:
        root = self.source.remote_dir
        skip = {posixpath.join(root, d) for d in self._own_folders()}
        return session.list_files(root, self.source.recursive, skip)

    def _own_folders(self) -> list[str]:
        folders = [self.source.remote_done_dir, self.source.remote_failed_dir]
        return folders + ([self.source.reports_dir] if self.source.reports_dir else [])

    def _in_fetch_order(self, entries: list[RemoteEntry]) -> list[RemoteEntry]:
        """Files of lanes ordered by name in their names' natural order, the others oldest first."""
        by_name = [e for e in entries if self.fetch_order(e.name) == "name"]
        by_time = [e for e in entries if self.fetch_order(e.name) != "name"]
        return sorted(by_name, key=lambda e: natural_key(e.name)) + sorted(
            by_time, key=lambda e: (e.mtime, natural_key(e.name))
        )

    def _complete(self, listing: list[RemoteEntry]) -> list[RemoteEntry]:
        now = time.monotonic()
        paths = {entry.path for entry in listing}
        previous, self._last_listing = self._last_listing, {}
        ready = []
        for entry in listing:
            if (
                is_temporary(entry.name)
                or is_marker(entry.name)
                or entry.name.endswith((".report.json", ".errors.csv"))
            ):
                continue
            seen = previous.get(entry.path)
            unchanged = seen is not None and seen[:2] == (entry.size, entry.mtime)
            since = seen[2] if seen is not None and unchanged else now
            self._last_listing[entry.path] = (entry.size, entry.mtime, since)
            if self.source.require_done_marker:
                complete = any(entry.path + suffix in paths for suffix in MARKER_SUFFIXES)
            else:
                complete = unchanged and now - since >= self.source.stable_seconds
            if complete and not self.remote.seen(
                self.source.id, entry.path, entry.size, entry.mtime
            ):
                ready.append(entry)
        return ready

    def _fetch(self, session: SftpSession, entry: RemoteEntry) -> None:
        folder = self.inbox.incoming / self.source.partner
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{entry.name}.{uuid.uuid4().hex[:8]}.part"
        started = utc_now()
        try:
            sha256 = session.download(entry, temporary)
            target = _free_name(folder, entry.name)
            os.rename(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        self.remote.record(
            RemoteFile(
                source=self.source.id,
                partner_id=self.source.partner,
                remote_path=entry.path,
                size_bytes=entry.size,
                mtime=entry.mtime,
                sha256=sha256,
                local_name=target.name,
                fetched_at=started,
            )
        )
        logger.bind(source=self.source.id, partner=self.source.partner, file=target.name).info(
            "sftp {}: fetched {} ({} bytes)", self.source.id, printable(entry.path), entry.size
        )

    def _settle(self, session: SftpSession) -> None:
        for row in self.remote.unsettled(self.source.id):
            job = self.remote.finished_job(row)
            if job is None or not _filed_away(job):
                continue
            failed = job.status == JobStatus.FAILED
            folder = posixpath.join(
                self.source.remote_dir,
                self.source.remote_failed_dir if failed else self.source.remote_done_dir,
            )
            name = posixpath.basename(row.remote_path)
            if self.source.post_action == "move":
                name = posixpath.basename(session.move(row.remote_path, folder, name))
            elif self.source.post_action == "delete":
                session.remove(row.remote_path)
            if self.source.post_action != "leave":
                for suffix in MARKER_SUFFIXES:
                    session.remove(row.remote_path + suffix)
            self._upload_reports(session, job, folder, name)
            row.state, row.job_id, row.settled_at = RemoteState.SETTLED, job.id, utc_now()
            self.remote.record(row)
            context = {"source": self.source.id, "partner": job.partner_id, "feed": job.feed}
            logger.bind(**context, job_id=job.id, file=job.file_name).info(
                "sftp {}: answered {} ({})", self.source.id, printable(row.remote_path), job.status
            )

    def _upload_reports(self, session: SftpSession, job: ImportJob, folder: str, name: str) -> None:
        target = (
            posixpath.join(self.source.remote_dir, self.source.reports_dir)
            if self.source.reports_dir
            else folder
        )
        for suffix in (".report.json", ".errors.csv"):
            local = Path(f"{job.stored_path}{suffix}")
            if local.exists():
                text = partner_copy(local.read_text(encoding="utf-8"))
                session.upload(text.encode("utf-8"), target, f"{name}{suffix}")


def _filed_away(job: ImportJob) -> bool:
    """The job's file and report are in ``done/``/``failed/`` (its commit comes a moment earlier)."""
    return job.stored_path is not None and Path(f"{job.stored_path}.report.json").exists()


def _free_name(folder: Path, name: str) -> Path:
    """``products.csv``, or ``products.2.csv`` ... while an earlier copy still waits."""
    target = folder / name
    stem, dot, suffix = name.partition(".")
    counter = 2
    while target.exists():
        target = folder / f"{stem}.{counter}{dot}{suffix}"
        counter += 1
    return target
