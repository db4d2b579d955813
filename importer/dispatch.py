"""Hand waiting files to a pool of workers: one lane (partner + feed) per worker at a time.

Within a lane files are applied in arrival order; different lanes run in parallel. A lane is
worked only under its lane lock, so several daemons on one PostgreSQL never apply two files of
the same lane at once, and never touch a file another daemon has in hand. A large file is loaded
only in one of ``workers`` memory slots; small files run beside them (:mod:`importer.slots`), in
the daemon's worker processes where it has them (:mod:`importer.worker_processes`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

from loguru import logger

from importer.config import Settings
from importer.db.ledger import JobStatus
from importer.exceptions import (
    SchemaError,
    TerminalError,
    TransientError,
    UntakeableFileError,
)
from importer.lifecycle import Outcome, Pipeline
from importer.locks import Lane, LaneLocks
from importer.logs import printable
from importer.ordering import natural_key, order_of
from importer.routing import route
from importer.scanning import Candidate
from importer.slots import MemorySlots, lane_threads


def lane_of(pipeline: Pipeline, partner_id: str, file_name: str) -> Lane:
    try:
        return partner_id, route(file_name, pipeline.settings).name
    except TerminalError:
        return partner_id, None


class Dispatcher:
    def __init__(
        self,
        pipeline: Pipeline,
        locks: LaneLocks,
        workers: int,
        stopping: threading.Event,
        lane_done: threading.Event | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.locks = locks
        self.stopping = stopping
        self.lane_done = lane_done
        """set when a worker lets go of a lane: files that arrived for it meanwhile are due"""
        self.threads = lane_threads(workers, pipeline.engine.dialect.name)
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="lane")
        self.slots = MemorySlots(workers)
        self.small_files: Callable[[Path, str], Outcome | None] = pipeline.process
        """who loads a file that needs no slot: this process, or the daemon's worker processes"""
        self._guard = threading.Lock()
        self._busy: set[Lane] = set()
        self._futures: set[Future[None]] = set()
        self.failed_files = 0
        """files that ended FAILED or could not be taken (``importer process`` exits 1 on any)"""
        self._told_untakeable: set[Path] = set()
        self._lanes: dict[tuple[str, str], Lane] = {}
        """the lane of each file waiting at the last submit, under ``_lanes_by``"""
        self._lanes_by: Settings | None = None
        self.fault: TransientError | None = None
        """the last transient fault a worker met; the caller backs off and clears it"""
        self.fatal: SchemaError | None = None
        """a fault no retry mends (the schema does not fit): workers stop, and so must the caller"""

    def submit(self, ready: list[Candidate]) -> int:
        """Start a worker for every lane with ready files that is not already being worked."""
        lanes: dict[Lane, list[Candidate]] = defaultdict(list)
        lane_by_file = self.lanes_of(ready)
        for candidate in ready:
            lanes[lane_by_file[candidate.partner, candidate.path.name]].append(candidate)
        started = 0
        for lane, files in lanes.items():
            if order_of(self.pipeline.settings, *lane) == "name":
                files.sort(key=lambda c: natural_key(c.path.name))
            with self._guard:
                if lane in self._busy:
                    continue
                self._busy.add(lane)
            future = self._executor.submit(self._work_lane, lane, files)
            with self._guard:
                self._futures.add(future)
            future.add_done_callback(self._forget)
            started += 1
        return started

    def lanes_of(self, ready: list[Candidate]) -> dict[tuple[str, str], Lane]:
        """The lane of every ready file, routed once while it waits and again only after the
        settings changed: every scan submits the whole backlog, and routing 10,000 waiting
        files again cost the loop 80 ms a scan."""
        if self._lanes_by is not self.pipeline.settings:
            self._lanes, self._lanes_by = {}, self.pipeline.settings
        known, self._lanes = self._lanes, {}
        for candidate in ready:
            name = (candidate.partner, candidate.path.name)
            self._lanes[name] = known.get(name) or lane_of(self.pipeline, *name)
        return self._lanes

    def drain(self, timeout_s: float | None = None) -> bool:
        """Wait for the workers; True when all finished within the timeout."""
        with self._guard:
            pending = set(self._futures)
        _, not_done = wait(pending, timeout=timeout_s)
        return not not_done

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _forget(self, future: Future[None]) -> None:
        with self._guard:
            self._futures.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.opt(exception=future.exception()).error("a worker stopped unexpectedly")

    def _work_lane(self, lane: Lane, files: list[Candidate]) -> None:
        try:
            with self.locks.lease(lane) as held:
                if held:
                    self._process_in_order(files)
        except TransientError as exc:
            self.fault = exc
        except SchemaError as exc:
            self.fatal = exc
            self.stopping.set()
        finally:
            with self._guard:
                self._busy.discard(lane)
            if self.lane_done is not None:
                self.lane_done.set()

    def _process_in_order(self, files: list[Candidate]) -> None:
        for candidate in files:
            with self.slots.held_for(candidate.path) as large:
                if self.stopping.is_set():
                    return
                if candidate.path.exists() and not self._process(candidate, large=large):
                    return

    def _process(self, candidate: Candidate, *, large: bool) -> bool:
        """False after a transient fault: the lane's later files wait for the next attempt."""
        load = self.pipeline.process if large else self.small_files
        try:
            outcome = load(candidate.path, candidate.partner)
        except TransientError as exc:
            self.fault = exc
            return False
        except UntakeableFileError as exc:
            self._untakeable(candidate.path, exc)
            return True
        except SchemaError:
            raise
        except Exception:
            # The pipeline could not even record a failure: recovery settles the file at the
            # next start; this worker goes on with the lane's next file.
            logger.exception("internal error; {} is left for recovery", candidate.path.name)
            with self._guard:
                self.failed_files += 1
            return True
        if outcome is not None and outcome.status == JobStatus.FAILED:
            with self._guard:
                self.failed_files += 1
        return True

    def _untakeable(self, path: Path, exc: UntakeableFileError) -> None:
        """Told once per file, not at every rescan; counted as a failure for ``process``."""
        with self._guard:
            self.failed_files += 1
            first = path not in self._told_untakeable
            self._told_untakeable.add(path)
        if first:
            logger.error("{}", exc)


def reconcile(pipeline: Pipeline, locks: LaneLocks) -> None:
    """Settle every file in ``processing/`` and every unfinished job nobody is working on."""
    processing = pipeline.inbox.processing
    seen: set[int] = set()
    if processing.is_dir():
        for partner_dir in sorted(p for p in processing.iterdir() if p.is_dir()):
            for claimed in sorted(partner_dir.iterdir()):
                if claimed.name.startswith("."):
                    continue
                job_id, file_name = _parse_claimed(claimed)
                with locks.lease(lane_of(pipeline, partner_dir.name, file_name)) as held:
                    if held and claimed.exists():
                        pipeline.recover(claimed, partner_dir.name, job_id, file_name)
                if job_id is not None:
                    seen.add(job_id)
    for job in pipeline.ledger.unfinished(pipeline.inbox.host):
        if job.id in seen or job.id is None:
            continue
        with locks.lease(lane_of(pipeline, job.partner_id, job.file_name)) as held:
            current = pipeline.ledger.get(job.id) if held else None
            if current is not None and current.status in (JobStatus.PENDING, JobStatus.PROCESSING):
                claimed = pipeline.inbox.processing / job.partner_id / f"{job.id}-{job.file_name}"
                if not claimed.exists():
                    current.status = JobStatus.ABANDONED
                    current.message = "interrupted before its file was claimed; nothing was loaded"
                    pipeline.ledger.update(current)
                    logger.bind(partner=job.partner_id, job_id=job.id, file=job.file_name).warning(
                        "job {} ({}) abandoned", job.id, printable(job.file_name)
                    )


def _parse_claimed(path: Path) -> tuple[int | None, str]:
    """``processing/<partner>/<job>-<file>`` -> (job, file)."""
    prefix, dash, rest = path.name.partition("-")
    if dash and prefix.isdigit():
        return int(prefix), rest
    return None, path.name
