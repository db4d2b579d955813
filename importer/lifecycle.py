"""A file's lifecycle: claim, route, deduplicate by content, load, report, file away.

The ledger row is the truth about a file; the folder it sits in follows the ledger. A load's
COMPLETED status is committed in the same transaction as its rows (see :mod:`importer.loading`
for what happens inside it), so a crash can never leave a file half-loaded, and a committed file
found in ``processing/`` is moved on, not loaded again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from loguru import logger
from sqlalchemy import Connection, Engine

from importer import metrics
from importer.attempt import Checksum, FileAttempt
from importer.clock import as_utc, utc_now
from importer.config import Settings
from importer.db.ledger import (
    UNFINISHED,
    ImportJob,
    JobStatus,
    Ledger,
    LoadedBytes,
    new_job,
    settle_job,
)
from importer.exceptions import (
    SchemaError,
    TerminalError,
    TransientError,
    UntakeableFileError,
)
from importer.feeds import FeedSpec, feeds_sharing_tables
from importer.inbox import Inbox
from importer.loading import ImportResult, load_file
from importer.logs import printable
from importer.partner_ids import check_partner_id
from importer.problem_log import ProblemLog
from importer.problems import problems_frame
from importer.report import apply_counts, build_report, write_reports
from importer.routing import route
from importer.slots import SMALL_FILE_BYTES

HASH_CHUNK_BYTES = 1 << 20
COMMIT_WORTH_RECORDING = timedelta(seconds=0.25)
"""a load's commit that took longer is added to its job's recorded time, in one more write"""
COUNT_FIELDS = (
    "row_count",
    "processed_count",
    "inserted_count",
    "updated_count",
    "unchanged_count",
    "failed_count",
    "deleted_count",
)


@dataclass(frozen=True)
class Outcome:
    job_id: int
    status: JobStatus
    path: Path
    report_path: Path


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class Pipeline:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.ledger = Ledger(engine)
        self.inbox = Inbox(settings.inbox.root, settings.inbox.host)
        self.counted: Callable[[metrics.Tally], None] = metrics.count
        """where a finished file is counted: here, or handed to the daemon by a worker process"""

    def process(self, path: Path, partner_id: str) -> Outcome | None:
        """Take one file from ``incoming/``; None when another worker claimed it first."""
        check_partner_id(partner_id)
        try:
            spec: FeedSpec | TerminalError = route(path.name, self.settings)
        except TerminalError as exc:
            spec = exc
        feed = spec.name if isinstance(spec, FeedSpec) else None
        sharing = feeds_sharing_tables(spec) if isinstance(spec, FeedSpec) else []
        job = new_job(partner_id, path.name, str(path), feed, self.inbox.host)
        latest = self.ledger.open_job(job, latest_of=sharing)
        assert job.id is not None
        try:
            claimed = self.inbox.claim(path, partner_id, job.id)
        except FileNotFoundError:
            self.ledger.forget(job.id)
            return None
        except OSError as exc:
            self.ledger.forget(job.id)
            raise UntakeableFileError(
                f"{path} cannot be moved to processing/: {exc.strerror} ({exc.filename}); "
                "the file stays where it is until the importer may write both folders"
            ) from exc
        job.stored_path = str(claimed)
        try:
            return self._process_claimed(job, claimed, spec, latest)
        except (TransientError, SchemaError):
            # Not the file's fault: it waits in incoming/ for the database to be mended. A load
            # that may have committed stays in processing/: recovery files it by the ledger, and
            # loading it again later could undo the files applied after it.
            if job.status != JobStatus.COMPLETED:
                self.inbox.put_back(claimed, partner_id, job.file_name)
            raise
        except Exception as exc:
            return self._after_defect(job, claimed, exc)

    def _after_defect(self, job: ImportJob, claimed: Path, exc: Exception) -> Outcome | None:
        """An error nobody planned for still gives the file an outcome: FAILED, in ``failed/``,
        with a report that says so (the traceback goes to the log, never to the partner). A job
        already COMPLETED has its rows committed: it stays in ``processing/``, where recovery
        files it as done at the next start."""
        fields = {"partner": job.partner_id, "job_id": job.id, "file": job.file_name}
        logger.bind(**fields).opt(exception=exc).error(
            "internal error while processing {}/{}", job.partner_id, printable(job.file_name)
        )
        if job.status == JobStatus.COMPLETED:
            return None
        for count in COUNT_FIELDS:  # a count that did not fit the ledger must not fail it again
            setattr(job, count, 0)
        if job.sha256 is None:  # so that a retry of these bytes is recognised as one
            job.sha256, job.size_bytes = sha256_of(claimed)
        job.status = JobStatus.FAILED
        job.message = (
            f"internal error ({type(exc).__name__}) while processing the file; nothing was "
            "loaded; the operator has the details in the log"
        )
        return self._finish(job, claimed, ProblemLog())

    def _process_claimed(
        self,
        job: ImportJob,
        claimed: Path,
        spec: FeedSpec | TerminalError,
        latest: LoadedBytes | None,
    ) -> Outcome:
        """The checksum is taken in a thread while the load starts; it is waited for before
        loading only when the file could repeat the bytes of ``latest``, the latest load of
        the tables the feed writes."""
        job.size_bytes = claimed.stat().st_size
        with ThreadPoolExecutor(1, thread_name_prefix="checksum") as hashing:
            checksum = _checksum(hashing, claimed, job.size_bytes)
            if isinstance(spec, TerminalError):
                _take_checksum(job, checksum)
                job.status, job.message = JobStatus.FAILED, str(spec)
                return self._finish(job, claimed, ProblemLog.of(problems_frame(spec.problems)))
            planned = FileAttempt.plan(self.settings, job=job, path=claimed, spec=spec)
            attempt = replace(planned, checksum=checksum, latest=latest)
            return self._load(attempt)

    def _load(self, attempt: FileAttempt) -> Outcome:
        earlier = self._same_bytes_loaded(attempt)
        if earlier is not None:
            return self._duplicate(attempt, earlier)
        try:
            result = load_file(attempt, self.engine, finish=partial(self._complete, attempt))
        except TerminalError as exc:
            return self._fail(attempt, str(exc), ProblemLog.of(problems_frame(exc.problems)))
        try:
            return self._conclude(attempt, result)
        finally:
            result.problems.close()

    def _conclude(self, attempt: FileAttempt, result: ImportResult) -> Outcome:
        """The outcome of a load that ran: refused, or committed with its rows."""
        if result.rejection is not None:
            return self._fail(attempt, result.rejection, result.problems, result)
        job = attempt.job
        stamped = job.completed_at
        assert stamped is not None
        job.completed_at = utc_now()
        if job.completed_at - stamped < COMMIT_WORTH_RECORDING:
            job.completed_at = stamped
            return self._file_away(job, attempt.path, result.problems, result)
        # The commit, which on SQLite writes a big load out once more, belongs to its time too.
        return self._finish(job, attempt.path, result.problems, result)

    def _same_bytes_loaded(self, attempt: FileAttempt) -> int | None:
        """The job whose bytes these repeat, when it is the attempt's ``latest``, the latest load
        of the tables this feed writes: nothing would change. Bytes that repeat an older load are
        loaded again (the partner may be undoing a later file). The lane is held from before the
        job opened, so no load of it came since. The checksum is waited for only when the sizes
        match."""
        job, spec, latest = attempt.job, attempt.spec, attempt.latest
        assert attempt.checksum is not None
        if latest is None or latest.feed != spec.name or latest.size_bytes != job.size_bytes:
            return None
        return latest.id if _take_checksum(job, attempt.checksum) == latest.sha256 else None

    def _complete(self, attempt: FileAttempt, connection: Connection, result: ImportResult) -> None:
        """Runs inside the load's transaction: the rows and the outcome commit together."""
        job = attempt.job
        assert attempt.checksum is not None
        _take_checksum(job, attempt.checksum)
        apply_counts(job, result)
        job.status = JobStatus.COMPLETED
        self._settle(connection, job)

    def _duplicate(self, attempt: FileAttempt, earlier: int) -> Outcome:
        job = attempt.job
        job.status, job.duplicate_of = JobStatus.DUPLICATE, earlier
        job.message = f"the same bytes as job {earlier}, the latest load; nothing was written"
        return self._finish(job, attempt.path, ProblemLog())

    def _fail(
        self,
        attempt: FileAttempt,
        message: str,
        problems: ProblemLog,
        result: ImportResult | None = None,
    ) -> Outcome:
        job = attempt.job
        assert attempt.checksum is not None
        _take_checksum(job, attempt.checksum)
        job.status, job.message = JobStatus.FAILED, message
        if result is not None:
            apply_counts(job, result)
        return self._finish(job, attempt.path, problems, result)

    def _finish(
        self,
        job: ImportJob,
        claimed: Path,
        problems: ProblemLog,
        result: ImportResult | None = None,
    ) -> Outcome:
        """Record the outcome, then file the file away."""
        with self.engine.begin() as connection:
            self._settle(connection, job)
        return self._file_away(job, claimed, problems, result)

    def _settle(self, connection: Connection, job: ImportJob) -> None:
        """Write a job's outcome: the retry it follows, its times and where its file will be."""
        assert job.id is not None
        job.completed_at = job.completed_at or utc_now()
        job.duration_ms = _elapsed_ms(job)
        outcome_dir = "failed" if job.status == JobStatus.FAILED else "done"
        destination = self.inbox.destination(
            outcome_dir, job.partner_id, job.file_name, job.id, job.completed_at.date()
        )
        job.stored_path = str(destination)
        job.retry_of = settle_job(connection, job)

    def _file_away(
        self,
        job: ImportJob,
        claimed: Path,
        problems: ProblemLog,
        result: ImportResult | None,
    ) -> Outcome:
        """Write the reports beside the recorded destination, then move the file there."""
        assert job.id is not None and job.stored_path is not None
        status, destination = JobStatus(job.status), Path(job.stored_path)
        report = build_report(job, problems, result, self.settings.reports.max_errors_listed)
        report_path = write_reports(report, problems, destination)
        os.rename(claimed, destination)
        self.counted(tally(job, status))
        _log_outcome(job, status)
        for warning in report.warnings:
            logger.bind(job_id=job.id, partner=job.partner_id, feed=job.feed).warning(
                "{}/{}: {}", job.partner_id, printable(job.file_name), warning
            )
        return Outcome(job.id, status, destination, report_path)

    def recover(self, claimed: Path, partner_id: str, job_id: int | None, file_name: str) -> None:
        """Settle a file left in ``processing/`` by a stop or crash, according to the ledger.

        A committed job is filed away without loading again; an unfinished one is marked
        ABANDONED and its file goes back to ``incoming/`` to be processed by a new job, unless
        its loads were cut short ``limits.max_interruptions`` times in a row: a file that brings
        the importer down would otherwise do so at every start.
        """
        job = self.ledger.get(job_id) if job_id is not None else None
        if job is None or job.status in (*UNFINISHED, JobStatus.ABANDONED):
            self._recover_unfinished(job, claimed, partner_id, file_name)
            return
        job.started_at = job.started_at or job.created_at
        job.message = "; ".join(
            filter(None, [job.message, "report written after a restart; row errors were not kept"])
        )
        stored = Path(job.stored_path) if job.stored_path else None
        if stored is None or stored.parent.parent.parent.name not in ("done", "failed"):
            self._finish(job, claimed, ProblemLog())
            return
        stored.parent.mkdir(parents=True, exist_ok=True)
        if not Path(f"{stored}.report.json").exists():
            report = build_report(job, ProblemLog(), None, 0)
            write_reports(report, ProblemLog(), stored)
        os.rename(claimed, stored)
        self.counted(tally(job, JobStatus(job.status)))
        logger.bind(partner=partner_id, job_id=job.id, file=file_name).info(
            "{}/{} was {} before a restart; filed away",
            partner_id,
            printable(file_name),
            job.status,
        )

    def _recover_unfinished(
        self, job: ImportJob | None, claimed: Path, partner_id: str, file_name: str
    ) -> None:
        """An ABANDONED job was already counted: a stop between marking it and putting its
        file back leaves it so, and its file must go back, never be filed as an outcome."""
        if job is not None and job.status != JobStatus.ABANDONED:
            cut_short = self.ledger.interruptions(partner_id, file_name) + 1
            if cut_short >= self.settings.limits.max_interruptions:
                self._set_aside(job, claimed, cut_short)
                return
            job.status, job.completed_at = JobStatus.ABANDONED, utc_now()
            job.message = "interrupted by a stop or crash; the file went back to incoming/"
            self.ledger.update(job)
        self.inbox.put_back(claimed, partner_id, file_name)
        logger.bind(partner=partner_id, job_id=job.id if job else None, file=file_name).warning(
            "{}/{} was interrupted; back in incoming/", partner_id, printable(file_name)
        )

    def _set_aside(self, job: ImportJob, claimed: Path, cut_short: int) -> None:
        """Fail a file whose loads keep being cut short, with a report saying how to retry it."""
        assert job.id is not None
        job.status, job.started_at = JobStatus.FAILED, as_utc(job.started_at or job.created_at)
        job.sha256, job.size_bytes = sha256_of(claimed)
        job.message = (
            f"its load was cut short {cut_short} times in a row (a crash, a kill or running out "
            f"of memory; limits.max_interruptions): it may be what stops the importer, so it "
            f"waits here; `importer retry {job.id}` sends it back"
        )
        self._finish(job, claimed, ProblemLog())


def _checksum(hashing: ThreadPoolExecutor, path: Path, size: int) -> Checksum:
    """Taken in the pool while the load starts, or here at once for a small file."""
    if size >= SMALL_FILE_BYTES:
        return hashing.submit(sha256_of, path)
    taken: Checksum = Future()
    taken.set_result(sha256_of(path))
    return taken


def _take_checksum(job: ImportJob, checksum: Checksum) -> str:
    """The file's checksum, onto its job once it is taken."""
    if job.sha256 is None:
        job.sha256, job.size_bytes = checksum.result()
    return job.sha256


def _log_outcome(job: ImportJob, status: JobStatus) -> None:
    """One line per file; loguru keeps the values it is formatted with as the record's fields."""
    logger.bind(job_id=job.id).log(
        "WARNING" if status == JobStatus.FAILED else "INFO",
        "{status} {partner}/{file} feed={feed} rows={rows} inserted={inserted} "
        "updated={updated} unchanged={unchanged} failed={failed} in {duration_ms} ms{why}",
        status=status.value,
        partner=job.partner_id,
        file=printable(job.file_name),
        feed=job.feed,
        rows=job.row_count,
        inserted=job.inserted_count,
        updated=job.updated_count,
        unchanged=job.unchanged_count,
        failed=job.failed_count,
        duration_ms=job.duration_ms,
        why=f": {job.message}" if job.message else "",
    )


def tally(job: ImportJob, status: JobStatus) -> metrics.Tally:
    completed = as_utc(job.completed_at) if job.completed_at is not None else utc_now()
    return metrics.Tally(
        partner=job.partner_id,
        feed=job.feed or "-",
        outcome=status.value,
        rows={
            "inserted": job.inserted_count,
            "updated": job.updated_count,
            "unchanged": job.unchanged_count,
            "failed": job.failed_count,
        },
        seconds=job.duration_ms / 1000 if job.duration_ms is not None else None,
        completed_at=completed.timestamp(),
    )


def _elapsed_ms(job: ImportJob) -> int:
    assert job.started_at is not None
    end: datetime = job.completed_at or utc_now()
    return round((end - job.started_at).total_seconds() * 1000)
