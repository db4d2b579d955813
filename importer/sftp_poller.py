"""Poll one SFTP source: fetch complete files once, answer each with its outcome and report.

A remote file is fetched when it is complete (size and mtime unchanged since the last poll, or
its done-marker is there) and the ledger has not fetched that (path, size, mtime) before. It is
streamed into ``incoming/<partner>/`` under a temporary name and renamed only once whole, so the
local pipeline treats it like any dropped file. The remote file is touched only after its job has
an outcome: then it is moved to ``done/``/``failed/`` (or deleted, or left) and the report goes
back to the partner, scrubbed of server paths.

Several daemons may share the database (a fleet, each host with its own inbox). One of them polls
a source at a time, under a lease (:mod:`importer.db.source_leases`); each file is claimed before
it is downloaded (:mod:`importer.db.remote_files`) and belongs to the host that fetched it, which
alone answers it. A feed whose earlier file is in another host's hands waits, so files of one
partner's feed apply in order across the fleet.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import paramiko
from loguru import logger
from sqlalchemy import Engine

from importer.clock import as_utc, utc_now
from importer.config import SftpSource
from importer.db.ledger import ImportJob, JobStatus
from importer.db.remote_files import IN_HAND, RemoteFile, RemoteLedger, RemoteState
from importer.db.source_leases import hold
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
UPLOAD_CHUNK_CHARS = 1 << 20
_DOWNLOADING = re.compile(r"^\..+\.(\d+)\.part$")
"""the temporary name of a download (see ``_temporary_name``)"""


def partner_copy(text: str) -> str:
    """Report text for the partner: no path of ours in it."""
    return _SERVER_PATH.sub("<path>", text)


def partner_copy_of(report: Path) -> Iterator[bytes]:
    """A report file as the partner gets it, about ``UPLOAD_CHUNK_CHARS`` at a time, each part
    cut after a line break (no path spans one): an errors.csv can outgrow its file."""
    with report.open(encoding="utf-8", newline="") as handle:
        held = ""
        while chunk := handle.read(UPLOAD_CHUNK_CHARS):
            held += chunk
            cut = held.rfind("\n") + 1
            if cut:
                yield partner_copy(held[:cut]).encode()
                held = held[cut:]
        if held:
            yield partner_copy(held).encode()


class SftpPoller:
    def __init__(
        self,
        source: SftpSource,
        inbox: Inbox,
        engine: Engine,
        environ: Mapping[str, str] = os.environ,
        lanes: Callable[[str], tuple[OrderBy, str | None]] = lambda _name: ("mtime", None),
    ) -> None:
        """``lanes`` tells, of a file name, the order its lane applies files in and its feed:
        files are fetched in that order, so the inbox receives them as they will apply."""
        self.source = source
        self.inbox = inbox
        self.engine = engine
        self.remote = RemoteLedger(engine, inbox.host)
        self.environ = environ
        self.lanes = lanes
        self.started_at = utc_now()
        self._last_listing: dict[str, tuple[int, int, float]] = {}
        self._failures = 0
        self._resume_at = 0.0
        self._key: paramiko.PKey | None = None
        self._swept = False

    def poll(self) -> None:
        """One round: answer this host's finished files, then, holding the source's lease,
        fetch complete new ones. Never raises."""
        if time.monotonic() < self._resume_at:
            return
        try:
            answered = self._answerable()
            holding = self._hold()
            if not answered and not holding:
                return
            if self._key is None:
                self._key = load_private_key(self.source, self.environ)
            with open_session(self.source, self.environ, self._key) as session:
                for row, job in answered:
                    self._answer(session, row, job)
                if holding:
                    self._fetch_round(session)
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

    def _hold(self) -> bool:
        return hold(self.engine, self.source.id, self.inbox.host, self.source.lease_s)

    def _fetch_round(self, session: SftpSession) -> None:
        """Claims left behind first (fetched again), then new files in the order they apply;
        the lease is renewed before each download and the round ends if it was lost."""
        if not self._swept:
            self._sweep_cut_downloads()
            self._swept = True
        lease = timedelta(seconds=self.source.lease_s)
        for row in self.remote.take_over(self.source.id, lease, self.started_at):
            if not self._hold():
                return
            entry = RemoteEntry(
                row.remote_path, posixpath.basename(row.remote_path), row.size_bytes, row.mtime
            )
            logger.bind(source=self.source.id, partner=row.partner_id).warning(
                "sftp {}: {} was claimed by {} but never fetched; fetching it again",
                self.source.id,
                printable(row.remote_path),
                row.host,
            )
            self._download(session, entry, row)
        waiting = self._in_fetch_order(self._complete(self._listing(session)))
        feeds = {entry.path: self.lanes(entry.name)[1] or "" for entry in waiting}
        held = self.remote.held_elsewhere(self.source.partner, sorted(set(feeds.values())))
        for entry in waiting:
            if feeds[entry.path] in held:
                continue
            if not self._hold():
                return
            claimed = self.remote.claim(self._claim_of(entry, feeds[entry.path]))
            if claimed is not None:
                self._download(session, entry, claimed)

    def _claim_of(self, entry: RemoteEntry, feed: str) -> RemoteFile:
        return RemoteFile(
            source=self.source.id,
            partner_id=self.source.partner,
            remote_path=entry.path,
            size_bytes=entry.size,
            mtime=entry.mtime,
            feed=feed,
        )

    def _listing(self, session: SftpSession) -> list[RemoteEntry]:
        root = self.source.remote_dir
        skip = {posixpath.join(root, d) for d in self._own_folders()}
        return session.list_files(root, self.source.recursive, skip)

    def _own_folders(self) -> list[str]:
        folders = [self.source.remote_done_dir, self.source.remote_failed_dir]
        return folders + ([self.source.reports_dir] if self.source.reports_dir else [])

    def _in_fetch_order(self, entries: list[RemoteEntry]) -> list[RemoteEntry]:
        """Files of lanes ordered by name in their names' natural order, the others oldest first."""
        by_name = [e for e in entries if self.lanes(e.name)[0] == "name"]
        by_time = [e for e in entries if self.lanes(e.name)[0] != "name"]
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

    def _sweep_cut_downloads(self) -> None:
        """Remove what downloads cut short by a crash left in the inbox, once their claims are
        no longer this host's (another host fetched the file since): nothing else would. A claim
        still this host's is fetched again over its file; a name no claim gave is left alone."""
        folder = self.inbox.incoming / self.source.partner
        if not folder.is_dir():
            return
        found = {
            path.name: int(match[1])
            for path in folder.iterdir()
            if (match := _DOWNLOADING.match(path.name))
        }
        if not found:
            return
        for row in self.remote.rows(set(found.values())):
            name = _temporary_name(row)
            mine = row.host == self.inbox.host and row.state in IN_HAND
            if name in found and not mine:
                (folder / name).unlink(missing_ok=True)
                logger.bind(source=self.source.id, partner=row.partner_id).info(
                    "sftp {}: removed a download of {} that a stop cut short (fetched since)",
                    self.source.id,
                    printable(row.remote_path),
                )

    def _download(self, session: SftpSession, entry: RemoteEntry, row: RemoteFile) -> None:
        """Download a claim; it becomes FETCHED, then its file is renamed into the inbox. A
        claim another daemon took over meanwhile is thrown away."""
        folder = self.inbox.incoming / self.source.partner
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / _temporary_name(row)
        temporary.unlink(missing_ok=True)
        row.fetched_at = utc_now()
        try:
            try:
                row.sha256 = session.download(entry, temporary)
            except SftpError:
                self.remote.release(row)  # looked at afresh by the next listing
                raise
            target = _free_name(folder, entry.name)
            row.local_name = target.name
            if not self.remote.fetched(row):
                logger.bind(source=self.source.id, partner=self.source.partner).warning(
                    "sftp {}: {} was taken over by another daemon while it downloaded",
                    self.source.id,
                    printable(entry.path),
                )
                return
            os.rename(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        logger.bind(source=self.source.id, partner=self.source.partner, file=target.name).info(
            "sftp {}: fetched {} ({} bytes)", self.source.id, printable(entry.path), entry.size
        )

    def _answerable(self) -> list[tuple[RemoteFile, ImportJob]]:
        """This host's fetched files whose jobs are filed away. A fetch cut short between its
        two steps (marked fetched, not yet renamed into the inbox) is finished first."""
        answerable = []
        for row in self.remote.unsettled(self.source.id):
            job = self.remote.finished_job(row)
            if job is not None:
                if _filed_away(job):
                    answerable.append((row, job))
            elif as_utc(row.fetched_at) < self.started_at:
                self._finish_fetch(row)
        return answerable

    def _finish_fetch(self, row: RemoteFile) -> None:
        """The downloaded bytes were checked before the row was marked: they only need their
        rename (a stop before it left them under the temporary name)."""
        folder = self.inbox.incoming / row.partner_id
        temporary = folder / _temporary_name(row)
        if row.local_name and temporary.exists() and not (folder / row.local_name).exists():
            os.rename(temporary, folder / row.local_name)
            logger.bind(source=self.source.id, partner=row.partner_id, file=row.local_name).info(
                "sftp {}: fetched {} (finished after a restart)",
                self.source.id,
                printable(row.remote_path),
            )

    def _answer(self, session: SftpSession, row: RemoteFile, job: ImportJob) -> None:
        failed = job.status == JobStatus.FAILED
        folder = posixpath.join(
            self.source.remote_dir,
            self.source.remote_failed_dir if failed else self.source.remote_done_dir,
        )
        name = posixpath.basename(row.remote_path)
        if self.source.post_action == "move":
            # Moved already when an answer was cut short after the move: the rest is left.
            moved = not session.exists(row.remote_path) and session.exists(
                posixpath.join(folder, name)
            )
            if not moved:
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
                session.upload(partner_copy_of(local), target, f"{name}{suffix}")


def _temporary_name(row: RemoteFile) -> str:
    """Where a claim is downloaded to: a temporary name, never taken, unique to the claim."""
    return f".{posixpath.basename(row.remote_path)}.{row.id}.part"


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
