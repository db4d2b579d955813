"""Small files in worker processes, so that the daemon's Python runs on every core.

A 100-row file is mostly Python between Polars and driver calls, and threads share one
interpreter lock: with threads alone the daemon used one core. Each worker process has a pipeline
and engine of its own and takes one small file at a time from a lane thread, which keeps the
lane's lock and its order and waits for the answer: the file's outcome and what it adds to the
metrics. A worker dies with the daemon (it watches its parent), so no load outlives the lane lock
that guards it; a worker that dies mid-file leaves the file in ``processing/`` for recovery, as a
crash would, and is replaced. Large files stay in the daemon, in its memory slots.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import signal
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

from loguru import logger

from importer import metrics
from importer.config import Settings
from importer.db.engine import make_engine
from importer.exceptions import (
    SchemaError,
    TransientError,
    UntakeableFileError,
    WorkerLostError,
)
from importer.lifecycle import Outcome, Pipeline
from importer.logs import configure_logging

SPAWN = multiprocessing.get_context("spawn")
"""a fresh interpreter: forking a process that runs threads copies locks held by them"""
STOP_WAIT_S = 5.0
"""how long a worker asked to stop may take to finish before it is killed"""
PARENT_GONE_EXIT = 3
FAULTS: dict[str, type[Exception]] = {
    "transient": TransientError,
    "schema": SchemaError,
    "untakeable": UntakeableFileError,
}
"""the errors a file's processing may end with on purpose, by the name a worker sends"""


@dataclass(frozen=True)
class _Task:
    path: str
    partner: str
    settings: Settings | None
    """sent only when the daemon's settings changed since the worker's last file (a reload)"""


@dataclass(frozen=True)
class _Answer:
    outcome: Outcome | None
    tallies: list[metrics.Tally]
    fault: tuple[str, str] | None = None
    """(kind, message) of an error the file ended with instead of an outcome"""


def processes_for(settings: Settings, backend: str) -> int:
    """``daemon.processes``, or one per CPU on PostgreSQL: SQLite takes one writer at a time and
    holds it for the whole load, so more processes only queue for it."""
    if settings.daemon.processes is not None:
        return settings.daemon.processes
    return (os.cpu_count() or 1) if backend == "postgresql" else 0


@dataclass
class _Worker:
    process: BaseProcess
    channel: Connection
    settings: Settings
    """the settings the worker runs with"""

    def ask(self, path: Path, partner_id: str, settings: Settings) -> _Answer:
        fresh = None if settings is self.settings else settings
        self.channel.send(_Task(str(path), partner_id, fresh))
        self.settings = settings
        answer: _Answer = self.channel.recv()
        return answer


@dataclass
class WorkerProcesses:
    """A fixed number of worker processes; :meth:`process` waits for an idle one."""

    settings: Settings
    count: int
    _idle: queue.SimpleQueue[_Worker] = field(default_factory=queue.SimpleQueue)
    _all: list[_Worker] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for _ in range(self.count):
            self._idle.put(self._start())

    def pids(self) -> list[int]:
        with self._guard:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def process(self, path: Path, partner_id: str) -> Outcome | None:
        """What :meth:`Pipeline.process` does, in a worker; its metrics are counted here."""
        worker = self._idle.get()
        while not worker.process.is_alive():  # killed while idle: nothing of a file was lost
            self._replace(worker)
            worker = self._idle.get()
        try:
            answer = worker.ask(path, partner_id, self.settings)
        except (EOFError, OSError) as exc:
            self._replace(worker)
            raise WorkerLostError(
                f"the worker process loading {path.name} ended "
                f"(exit code {worker.process.exitcode}); the file is left for recovery"
            ) from exc
        self._idle.put(worker)
        for tally in answer.tallies:
            metrics.count(tally)
        if answer.fault is not None:
            kind, message = answer.fault
            raise FAULTS.get(kind, WorkerLostError)(message)
        return answer.outcome

    def close(self) -> None:
        """Ask every worker to stop; one still loading after ``STOP_WAIT_S`` is killed (its file
        is settled at the next start, as after a crash)."""
        with self._guard:
            workers, self._all = self._all, []
        for worker in workers:
            worker.channel.close()
        for worker in workers:
            worker.process.join(STOP_WAIT_S)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()

    def _start(self) -> _Worker:
        ours, theirs = SPAWN.Pipe()
        process = SPAWN.Process(
            target=serve, args=(theirs, self.settings), name="importer-worker", daemon=True
        )
        process.start()
        theirs.close()
        worker = _Worker(process, ours, self.settings)
        with self._guard:
            self._all.append(worker)
        return worker

    def _replace(self, lost: _Worker) -> None:
        lost.channel.close()
        lost.process.join(STOP_WAIT_S)
        with self._guard:
            if lost not in self._all:
                return
            self._all.remove(lost)
        self._idle.put(self._start())


def serve(channel: Connection, settings: Settings) -> None:
    """A worker's life: one file at a time, until the daemon closes the channel or dies.

    SIGTERM and SIGINT are the daemon's to handle (systemd and a terminal send them to every
    process of the service): the daemon lets the file in hand finish, then closes the channel.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _exit_with_parent()
    pipeline = _pipeline(settings)
    gc.freeze()  # what the imports built is never garbage: no collection walks it again
    while True:
        try:
            task: _Task = channel.recv()
        except EOFError:
            pipeline.engine.dispose()
            return
        if task.settings is not None:
            pipeline.engine.dispose()
            pipeline = _pipeline(task.settings)
        channel.send(_answer(pipeline, task))


def _pipeline(settings: Settings) -> Pipeline:
    configure_logging(settings.logging)
    engine = make_engine(
        settings.database.url, connect_timeout_s=settings.database.connect_timeout_s, pool_size=2
    )
    return Pipeline(settings, engine)


def _answer(pipeline: Pipeline, task: _Task) -> _Answer:
    tallies: list[metrics.Tally] = []
    pipeline.counted = tallies.append
    try:
        outcome = pipeline.process(Path(task.path), task.partner)
    except (TransientError, SchemaError, UntakeableFileError) as exc:
        kind = next(name for name, error in FAULTS.items() if isinstance(exc, error))
        return _Answer(None, tallies, (kind, str(exc)))
    except Exception as exc:
        logger.opt(exception=exc).error("internal error in a worker process on {}", task.path)
        return _Answer(None, tallies, ("defect", f"{type(exc).__name__}: {exc}"))
    return _Answer(outcome, tallies)


def _exit_with_parent() -> None:
    """A load must not outlive the daemon: its lane lock went with the daemon's connection."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(PARENT_GONE_EXIT)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
