"""Small files in worker processes: loaded there with the daemon's settings, counted in the
daemon, faults carried back as themselves, and no worker outliving the daemon or a lost file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from importer import metrics
from importer.config import Settings
from importer.dispatch import Dispatcher, reconcile
from importer.exceptions import TransientError, WorkerLostError
from importer.lifecycle import Pipeline
from importer.locks import lane_locks_for
from importer.scanning import Candidate
from importer.worker_processes import WorkerProcesses, processes_for
from tests.conftest import SettingsFactory, drop_file
from tests.processes import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

PRODUCTS = "sku,name,price\nA1,One,10.00\nA2,Two,20.00\n"


@pytest.fixture
def workers(settings: Settings) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(settings, 2)
    yield processes
    processes.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _files() -> int:
    value = metrics.REGISTRY.get_sample_value(
        "importer_files_total", {"partner": "acme", "feed": "products", "outcome": "COMPLETED"}
    )
    return int(value or 0)


def test_one_worker_per_cpu_on_postgresql_and_none_on_sqlite(
    make_settings: SettingsFactory,
) -> None:
    assert processes_for(make_settings(), "postgresql") == os.cpu_count()
    assert processes_for(make_settings(), "sqlite") == 0
    assert processes_for(make_settings(daemon={"processes": 3}), "sqlite") == 3


def test_small_files_load_in_the_workers_and_are_counted_in_the_daemon(
    pipeline: Pipeline, engine: Engine, workers: WorkerProcesses
) -> None:
    dispatcher = Dispatcher(pipeline, lane_locks_for(engine), 1, threading.Event())
    dispatcher.small_files = workers.process
    before = _files()
    paths = [
        drop_file(pipeline, "acme", f"products_{n}.csv", PRODUCTS.replace("One", f"One {n}"))
        for n in range(4)
    ]
    try:
        dispatcher.submit([Candidate("acme", p, p.stat().st_mtime, 0.0, False) for p in paths])
        assert dispatcher.drain(timeout_s=120)
    finally:
        dispatcher.shutdown()
    assert dispatcher.failed_files == 0
    assert _files() == before + 4
    with engine.connect() as connection:
        names = connection.scalars(text("SELECT name FROM products ORDER BY sku")).all()
        statuses = connection.scalars(text("SELECT DISTINCT status FROM import_jobs")).all()
    assert names == ["One 3", "Two"], "the lane's files were not applied in order"
    assert statuses == ["COMPLETED"]


def test_a_reload_reaches_the_workers(
    pipeline: Pipeline, make_settings: SettingsFactory, workers: WorkerProcesses
) -> None:
    first = workers.process(drop_file(pipeline, "acme", "products_1.csv", PRODUCTS), "acme")
    assert first is not None and first.status == "COMPLETED"
    workers.settings = make_settings(limits={"max_rows": 1})
    again = PRODUCTS.replace("10.00", "11.00")
    second = workers.process(drop_file(pipeline, "acme", "products_2.csv", again), "acme")
    assert second is not None and second.status == "FAILED"
    assert "limits.max_rows" in second.report_path.read_text()


def test_a_database_fault_comes_back_as_a_transient_error(
    pipeline: Pipeline, make_settings: SettingsFactory
) -> None:
    unreachable = make_settings(database={"url": "postgresql://postgres@127.0.0.1:1/none"})
    processes = WorkerProcesses(unreachable, 1)
    try:
        path = drop_file(pipeline, "acme", "products.csv", PRODUCTS)
        with pytest.raises(TransientError):
            processes.process(path, "acme")
    finally:
        processes.close()
    assert path.exists(), "the file must wait in incoming/ for the database"


def test_workers_ignore_sigterm_and_a_killed_one_is_replaced(
    pipeline: Pipeline, workers: WorkerProcesses
) -> None:
    for n in range(2):  # each worker once: both are past their start-up
        path = drop_file(pipeline, "acme", f"products_{n}.csv", PRODUCTS.replace("Two", f"2 {n}"))
        assert workers.process(path, "acme") is not None
    first, second = workers.pids()
    os.kill(first, signal.SIGTERM)
    os.kill(second, signal.SIGKILL)
    wait_for(lambda: not _alive(second), 10, "the killed worker to end")
    for n in range(2, 5):
        path = drop_file(pipeline, "acme", f"products_{n}.csv", PRODUCTS.replace("One", f"One {n}"))
        outcome = workers.process(path, "acme")
        assert outcome is not None and outcome.status == "COMPLETED"
    pids = workers.pids()
    assert first in pids and second not in pids and len(pids) == 2


def test_a_worker_lost_mid_file_leaves_it_to_recovery(
    pipeline: Pipeline, engine: Engine, settings: Settings
) -> None:
    processes = WorkerProcesses(settings, 1)
    path = drop_file(pipeline, "acme", "products.csv", PRODUCTS)
    errors: list[BaseException] = []

    def load() -> None:
        try:
            processes.process(path, "acme")
        except WorkerLostError as exc:
            errors.append(exc)

    with psycopg.connect(settings.database.url) as blocker:
        blocker.execute("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        loading = threading.Thread(target=load)
        loading.start()
        wait_for(lambda: _waiting_for_a_lock(engine), 60, "the worker's load to wait on the lock")
        os.kill(processes.pids()[0], signal.SIGKILL)
        loading.join(30)
    processes.close()
    assert len(errors) == 1 and "left for recovery" in str(errors[0])
    assert list(pipeline.inbox.processing.rglob("*products.csv"))
    reconcile(pipeline, lane_locks_for(engine))
    assert path.exists(), "recovery must put the file back in incoming/"
    outcome = pipeline.process(path, "acme")
    assert outcome is not None and outcome.status == "COMPLETED"
    with engine.connect() as connection:
        statuses = connection.scalars(text("SELECT status FROM import_jobs ORDER BY id")).all()
    assert statuses == ["ABANDONED", "COMPLETED"]


def _waiting_for_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


def test_a_busy_worker_ends_with_the_daemon(
    tmp_path: Path, pipeline: Pipeline, engine: Engine, settings: Settings
) -> None:
    """Killed mid-file, the daemon takes its lane lock with it: its worker must not go on."""
    config = tmp_path / "importer.toml"
    config.write_text(
        f'[database]\nurl = "{settings.database.url}"\n[inbox]\nroot = "{tmp_path}/inbox"\n'
    )
    path = drop_file(pipeline, "acme", "products.csv", PRODUCTS)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from importer.config import load_settings\n"
        "from importer.worker_processes import WorkerProcesses\n"
        "processes = WorkerProcesses(load_settings(sys.argv[1]), 1)\n"
        "print(*processes.pids(), flush=True)\n"
        "processes.process(Path(sys.argv[2]), 'acme')\n"
    )
    with psycopg.connect(settings.database.url) as blocker:
        blocker.execute("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        with subprocess.Popen(
            [sys.executable, "-c", script, str(config), str(path)],
            stdout=subprocess.PIPE,
            text=True,
        ) as daemon:
            assert daemon.stdout is not None
            (worker,) = (int(pid) for pid in daemon.stdout.readline().split())
            wait_for(lambda: _waiting_for_a_lock(engine), 60, "the worker's load to wait")
            daemon.kill()
        wait_for(lambda: not _alive(worker), 30, "the worker to end with the daemon")
