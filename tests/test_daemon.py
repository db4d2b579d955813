"""``importer run`` as an operator runs it: a subprocess, real files, real signals."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from importer.db.engine import make_engine
from tests.conftest import fresh_postgres_database
from tests.processes import Daemon, TcpProxy, wait_for, write_config

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def data_files(root: Path, outcome: str) -> list[Path]:
    folder = root / outcome
    return (
        sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and not p.name.endswith((".report.json", ".errors.csv"))
            and not p.name.startswith(".")  # a report being written
        )
        if folder.exists()
        else []
    )


def drop(inbox: Path, name: str, content: str) -> Path:
    """A file of partner acme, written straight into ``incoming/``."""
    folder = inbox / "incoming" / "acme"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(content)
    return folder / name


def products(first: int, count: int, price: float) -> str:
    return "sku,name,price\n" + "".join(
        f"S{i},Item {i},{price:.2f}\n" for i in range(first, first + count)
    )


def test_a_slowly_written_file_is_loaded_once_and_only_when_complete(
    tmp_path: Path, database_url: str
) -> None:
    inbox = tmp_path / "inbox"
    config = (
        write_config(tmp_path / "c.toml", database_url, inbox)
        .read_text()
        .replace("stable_seconds = 0.3", "stable_seconds = 1.0")
    )
    (tmp_path / "c.toml").write_text(config)
    daemon = Daemon(tmp_path / "c.toml", tmp_path / "log").start()
    try:
        wait_for(lambda: "watching" in daemon.output(), 60, "the daemon to start")
        target = inbox / "incoming" / "acme" / "products.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w") as handle:
            handle.write("sku,name,price\n")
            for piece in range(8):
                handle.write(products(piece * 100, 100, 1.0).split("\n", 1)[1])
                handle.flush()
                time.sleep(0.5)
                assert target.exists(), f"taken while still being written (piece {piece})"
        wait_for(lambda: bool(data_files(inbox, "done")), 60, "the file to be loaded")
        report = (inbox / "done").rglob("products.csv.report.json").__next__().read_text()
        assert '"row_count": 800' in report and '"inserted_count": 800' in report
    finally:
        assert daemon.stop() == 0
    assert daemon.output().count("COMPLETED acme/products.csv") == 1


def test_a_source_with_done_markers_waits_for_the_marker(tmp_path: Path) -> None:
    inbox, source = tmp_path / "inbox", tmp_path / "upload"
    source.mkdir()
    extra = f'[[sources]]\npath = "{source}"\npartner = "acme"\nrequire_done_marker = true\n'
    config = write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", inbox, extra)
    daemon = Daemon(config, tmp_path / "log").start()
    try:
        wait_for(lambda: "watching" in daemon.output(), 60, "the daemon to start")
        (source / "products.csv").write_text(products(0, 3, 1.0))
        time.sleep(1.5)
        assert (source / "products.csv").exists()
        (source / "products.csv.done").touch()
        wait_for(lambda: bool(data_files(inbox, "done")), 60, "the file to be loaded")
        assert not (source / "products.csv.done").exists()
    finally:
        assert daemon.stop() == 0


def _drop_stream(inbox: Path, count: int) -> list[str]:
    """Files whose order matters: each one reprices a sliding window of shared SKUs."""
    names = []
    for index in range(count):
        partner = f"p{index % 2}"
        name = f"products_{index:03d}.csv"
        folder = inbox / "incoming" / partner
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(products((index * 7) % 400, 1500, 10 + index))
        os.utime(path, (1_700_000_000 + index, 1_700_000_000 + index))
        names.append(name)
    return names


def _state(
    url: str,
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT partner_id, sku, name, CAST(price AS TEXT) FROM products ORDER BY 1, 2"
                )
            ).all()
            changes = connection.execute(
                text(
                    "SELECT row_key, column_name, old_value, new_value FROM row_changes "
                    "ORDER BY 1, 2, 3, 4"
                )
            ).all()
            jobs = connection.execute(
                text("SELECT status, COUNT(*) FROM import_jobs GROUP BY status ORDER BY 1")
            ).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows], [tuple(c) for c in changes], [tuple(j) for j in jobs]


def _in_hand(inbox: Path) -> bool:
    """A file claimed: the kill that follows may cut its load short (a worker process, which
    takes a moment to start, has it by then)."""
    return any((inbox / "processing").rglob("*.csv"))


def _all_done(inbox: Path, names: list[str]) -> bool:
    return len(data_files(inbox, "done")) == len(names)


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, database_url: str
) -> None:
    crash_inbox = tmp_path / "crash"
    names = _drop_stream(crash_inbox, 40)
    config = write_config(
        tmp_path / "crash.toml",
        database_url,
        crash_inbox,
        "[limits]\nmax_interruptions = 1000\n",  # kills at random may hit one file repeatedly
        stable_seconds=0,
    )
    daemon = Daemon(config, tmp_path / "crash.log")
    rng = random.Random(20261123)
    kills = 12
    for started in range(1, kills + 1):
        daemon.start()
        wait_for(lambda n=started: daemon.output().count("watching") >= n, 60, "a start")
        wait_for(lambda: _in_hand(crash_inbox) or _all_done(crash_inbox, names), 60, "a claim")
        time.sleep(rng.uniform(0.0, 0.6))
        daemon.kill()
    daemon.start()
    try:
        wait_for(lambda: daemon.output().count("watching") > kills, 60, "the last start")
        wait_for(
            lambda: _all_done(crash_inbox, names) and not _in_hand(crash_inbox),
            240,
            "every file to be done",
        )
    finally:
        assert daemon.stop() == 0
    filed = [p.name for p in data_files(crash_inbox, "done")]
    assert sorted(filed) == sorted(names), "a file was lost or filed twice"
    assert not data_files(crash_inbox, "failed")
    assert not any((crash_inbox / "incoming").rglob("*.csv"))
    assert "was interrupted" in daemon.output() or "before a restart" in daemon.output()

    with ExitStack() as stack:
        clean_url = (
            f"sqlite:///{tmp_path / 'clean.db'}"
            if database_url.startswith("sqlite")
            else stack.enter_context(fresh_postgres_database())
        )
        clean_rows, clean_changes, clean_jobs = _clean_run(tmp_path, clean_url, names)
    crashed_rows, crashed_changes, crashed_jobs = _state(database_url)
    assert crashed_rows == clean_rows
    assert crashed_changes == clean_changes
    assert ("COMPLETED", len(names)) in crashed_jobs
    assert "DUPLICATE" not in {status for status, _ in crashed_jobs}
    assert clean_jobs == [("COMPLETED", len(names))]


def test_a_file_that_keeps_stopping_the_daemon_waits_in_failed_and_the_rest_loads(
    tmp_path: Path, database_url: str
) -> None:
    inbox = tmp_path / "inbox"
    folder = inbox / "incoming" / "acme"
    folder.mkdir(parents=True)
    (folder / "products.csv").write_text(products(0, 300_000, 1.0))
    extra = "[limits]\nmax_interruptions = 3\n"
    config = write_config(tmp_path / "importer.toml", database_url, inbox, extra, stable_seconds=0)
    daemon = Daemon(config, tmp_path / "daemon.log")
    for _ in range(3):
        before = set((inbox / "processing").rglob("*-products.csv"))
        daemon.start()
        wait_for(
            lambda b=before: bool(set((inbox / "processing").rglob("*-products.csv")) - b),
            60,
            "a new load of the file to start",
        )
        daemon.kill()
    (folder / "products-small.csv").write_text(products(0, 3, 2.0))
    daemon.start()
    try:
        wait_for(lambda: len(data_files(inbox, "done")) == 1, 60, "the other file to load")
    finally:
        assert daemon.stop() == 0
    (loaded,) = data_files(inbox, "done")
    assert loaded.name == "products-small.csv"
    (set_aside,) = data_files(inbox, "failed")
    report = json.loads(Path(f"{set_aside}.report.json").read_text())
    assert "cut short 3 times" in report["message"]
    assert not any((inbox / "incoming").rglob("*.csv"))
    assert not any((inbox / "processing").rglob("*.csv"))


def _clean_run(tmp_path: Path, url: str, names: list[str]) -> tuple[list[tuple[object, ...]], ...]:
    """The same stream through a daemon nobody disturbs: what the database should look like."""
    inbox = tmp_path / "clean"
    _drop_stream(inbox, len(names))
    clean = Daemon(
        write_config(tmp_path / "clean.toml", url, inbox), tmp_path / "clean.log"
    ).start()
    try:
        wait_for(lambda: len(data_files(inbox, "done")) == len(names), 240, "the clean run")
    finally:
        assert clean.stop() == 0
    return _state(url)


def test_sighup_reloads_feed_settings(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = write_config(tmp_path / "c.toml", url, inbox)
    daemon = Daemon(config, tmp_path / "log").start()
    try:
        wait_for(lambda: "watching" in daemon.output(), 60, "the daemon to start")
        drop(inbox, "pricelist_1.csv", products(0, 2, 1.0))
        wait_for(lambda: bool(data_files(inbox, "failed")), 60, "the unroutable file to fail")
        write_config(config, url, inbox, '[feeds.products]\npatterns = ["pricelist*"]\n')
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in daemon.output(), 30, "the reload")
        drop(inbox, "pricelist_2.csv", products(0, 2, 2.0))
        wait_for(
            lambda: bool(data_files(inbox, "done")), 60, "the file to load under the new pattern"
        )
    finally:
        assert daemon.stop() == 0


def test_daemon_speaks_the_notify_protocol(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    receiver.settimeout(60)
    config = write_config(
        tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "inbox"
    )
    daemon = Daemon(config, tmp_path / "log", {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
    daemon.start()
    messages: list[str] = []
    try:
        while not any("WATCHDOG=1" in m for m in messages):
            messages.append(receiver.recv(4096).decode())
        assert messages[0].startswith("READY=1")
    finally:
        assert daemon.stop() == 0
        while not any("STOPPING=1" in m for m in messages):
            messages.append(receiver.recv(4096).decode())
        receiver.close()


def test_a_second_daemon_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "inbox"
    )
    first = Daemon(config, tmp_path / "first.log").start()
    try:
        wait_for(lambda: "watching" in first.output(), 60, "the first daemon")
        second = Daemon(config, tmp_path / "second.log").start()
        assert second.process is not None and second.process.wait(timeout=60) == 2
        assert "allows one daemon" in second.output()
    finally:
        assert first.stop() == 0


@pytest.mark.postgres
def test_three_daemons_on_one_postgres_process_each_file_once(
    tmp_path: Path, postgres_url: str
) -> None:
    inbox = tmp_path / "inbox"
    names = []
    for index in range(240):
        partner = f"p{index % 4}"
        feed, body = (
            ("products", products(index, 5, 1.0 + index))
            if index % 2
            else (
                "inventory",
                f"sku,location_id,quantity_on_hand\nS{index},WH{index % 3},{index}\n",
            )
        )
        name = f"{feed}_{index:03d}.csv"
        folder = inbox / "incoming" / partner
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body)
        names.append(name)
    config = write_config(tmp_path / "c.toml", postgres_url, inbox)
    daemons = [Daemon(config, tmp_path / f"d{i}.log").start() for i in range(3)]
    try:
        wait_for(lambda: len(data_files(inbox, "done")) == len(names), 300, "all files to be done")
    finally:
        assert [d.stop() for d in daemons] == [0, 0, 0]
    assert sorted(p.name for p in data_files(inbox, "done")) == sorted(names)
    _, _, jobs = _state(postgres_url)
    assert jobs == [("COMPLETED", len(names))]
    assert sum(d.output().count("COMPLETED ") for d in daemons) == len(names)


@pytest.mark.postgres
def test_database_outage_leaves_files_waiting_and_catches_up(
    tmp_path: Path, postgres_url: str
) -> None:
    proxy, config, port = _behind_a_proxy(tmp_path, postgres_url)
    inbox = tmp_path / "inbox"
    daemon = Daemon(config, tmp_path / "log").start()
    try:
        wait_for(lambda: "watching" in daemon.output(), 60, "the daemon to start")
        proxy.cut()
        waiting = drop(inbox, "products.csv", products(0, 3, 1.0))
        wait_for(lambda: "database unavailable" in daemon.output(), 60, "the outage to be logged")
        time.sleep(1)
        assert waiting.exists()
        assert not data_files(inbox, "done") and not data_files(inbox, "failed")
        assert daemon.process is not None and daemon.process.poll() is None
        proxy.open()
        wait_for(lambda: bool(data_files(inbox, "done")), 60, "the file to load after the outage")
        body = (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        )
        assert (
            'importer_files_total{feed="products",outcome="COMPLETED",partner="acme"} 1.0' in body
        )
    finally:
        assert daemon.stop() == 0
        proxy.cut()


def _behind_a_proxy(tmp_path: Path, postgres_url: str) -> tuple[TcpProxy, Path, int]:
    """A daemon config whose database is reached through a proxy the test can cut, with its
    metrics endpoint on a free port."""
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.open()
    via_proxy = postgres_url.replace(":5432/", f":{proxy.port}/")
    port = _free_port()
    extra = f"[metrics]\nport = {port}\n"
    return proxy, write_config(tmp_path / "c.toml", via_proxy, tmp_path / "inbox", extra), port


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_logs_are_json_lines_and_never_show_the_password(tmp_path: Path) -> None:
    url = "postgresql://importer:s3cret-pw@127.0.0.1:1/importer"
    config = write_config(
        tmp_path / "c.toml", url, tmp_path / "inbox", "[logging]\njson_lines = true\n"
    )
    daemon = Daemon(config, tmp_path / "log").start()
    try:
        wait_for(
            lambda: "trying again" in daemon.output(), 60, "the unreachable database to be logged"
        )
    finally:
        daemon.kill()
    lines = [json.loads(line) for line in daemon.output().splitlines() if line.strip()]
    assert lines and all({"time", "level", "message"} <= set(entry) for entry in lines)
    assert all(datetime.fromisoformat(entry["time"]).tzinfo for entry in lines)
    assert "s3cret-pw" not in daemon.output()


def test_a_json_log_line_of_a_file_is_flat_with_its_fields(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    config = write_config(
        tmp_path / "c.toml",
        f"sqlite:///{tmp_path / 'importer.db'}",
        inbox,
        "[logging]\njson_lines = true\n",
    )
    daemon = Daemon(config, tmp_path / "log").start()
    try:
        drop(inbox, "products.csv", products(0, 3, 1.0))
        wait_for(lambda: "COMPLETED" in daemon.output(), 60, "the file to load")
    finally:
        assert daemon.stop() == 0
    lines = [json.loads(line) for line in daemon.output().splitlines() if line.strip()]
    (done,) = [entry for entry in lines if entry.get("status") == "COMPLETED"]
    assert (done["partner"], done["feed"], done["file"], done["inserted"]) == (
        "acme",
        "products",
        "products.csv",
        3,
    )
    assert isinstance(done["job_id"], int) and isinstance(done["duration_ms"], int)
    assert done["level"] == "INFO" and done["message"].startswith("COMPLETED acme/products.csv")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=15) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.postgres
def test_metrics_survive_a_restart_and_healthz_follows_the_database(
    tmp_path: Path, postgres_url: str
) -> None:
    proxy, config, port = _behind_a_proxy(tmp_path, postgres_url)
    inbox = tmp_path / "inbox"
    first = Daemon(config, tmp_path / "log1").start()
    try:
        drop(inbox, "products.csv", products(0, 3, 1.0))
        wait_for(lambda: bool(data_files(inbox, "done")), 60, "the file to load")
    finally:
        assert first.stop() == 0
    second = Daemon(config, tmp_path / "log2").start()
    try:
        wait_for(lambda: "watching" in second.output(), 60, "the daemon to start again")
        status, body = _get(f"http://127.0.0.1:{port}/metrics")
        seeded = [
            line
            for line in body.splitlines()
            if line.startswith('importer_last_success_timestamp_seconds{feed="products"')
        ]
        assert status == 200 and len(seeded) == 1
        assert abs(float(seeded[0].split()[-1]) - time.time()) < 600
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/other")[0] == 404
        proxy.cut()
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 503, 60, "health to fail")
        proxy.open()
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 60, "health to return")
    finally:
        assert second.stop() == 0
        proxy.cut()


def test_the_daemons_status_names_a_big_file_while_it_loads(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    receiver.settimeout(60)
    config = write_config(
        tmp_path / "c.toml",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        tmp_path / "inbox",
        "[logging]\nprogress_rows = 1000\nprogress_interval_s = 0\n",
    )
    config.write_text(config.read_text().replace("[database]\n", "[database]\nbatch_rows = 1000\n"))
    messages: list[str] = []

    def listen() -> None:  # as systemd does, all along: a full queue would block the sender
        with contextlib.suppress(OSError):
            while True:
                messages.append(receiver.recv(4096).decode())

    threading.Thread(target=listen, daemon=True).start()
    daemon = Daemon(config, tmp_path / "log", {"NOTIFY_SOCKET": address}).start()
    try:
        drop(tmp_path / "inbox", "products_big.csv", products(0, 20_000, 1.0))
        wait_for(
            lambda: any("loading acme/products_big.csv" in m for m in messages),
            60,
            "the STATUS to name the file",
        )
    finally:
        assert daemon.stop() == 0
        receiver.close()
    assert any("rows of about 20,000" in m for m in messages)
