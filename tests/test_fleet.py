"""Three hosts, one PostgreSQL, one SFTP server: every remote file fetched and loaded once.

Each "host" is a daemon with an inbox of its own (no shared filesystem); only the database is
shared. One of them is killed while it has files in hand and started again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from importer.db.engine import make_engine
from tests.processes import Daemon, wait_for, write_config
from tests.sftp_server import SftpServer
from tests.test_cli import importer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PARTNERS = ("p0", "p1", "p2")
FILES = 100


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpServer]:
    sftp = SftpServer(tmp_path / "sftp", {p: f"{p}-pw" for p in PARTNERS}, {})
    sftp.start()
    yield sftp
    sftp.close()


def upload(server: SftpServer) -> None:
    """Each file reprices the two shared SKUs and adds one of its own; the last file's prices
    win only if every host applies a partner's files in order."""
    for partner in PARTNERS:
        folder = server.folder(partner)
        for n in range(1, FILES + 1):
            path = folder / f"products_{n:03d}.csv"
            path.write_text(f"sku,name,price\nS1,Shared,{n}\nS2,Shared,{n}\nU{n},Own,{n}\n")
            os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))


def host_config(tmp_path: Path, server: SftpServer, url: str, host: str) -> Path:
    sources = "".join(
        f'[[sources]]\ntype = "sftp"\npartner = "{p}"\nhost = "127.0.0.1"\nport = {server.port}\n'
        f'username = "{p}"\npassword_env = "{p.upper()}_PW"\n'
        f'host_key_fingerprint = "{server.fingerprint}"\npoll_interval_s = 0.3\nlease_s = 2\n'
        "connect_timeout_s = 5\nread_timeout_s = 5\n"
        for p in PARTNERS
    )
    config = write_config(tmp_path / f"{host}.toml", url, tmp_path / host / "inbox", sources)
    config.write_text(config.read_text().replace("[inbox]\n", f'[inbox]\nhost = "{host}"\n'))
    return config


def answered(server: SftpServer) -> int:
    return sum(
        len(list((server.folder(p) / "done").glob("products_*.csv.report.json"))) for p in PARTNERS
    )


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def test_three_hosts_fetch_and_load_each_remote_file_once_through_a_kill(
    tmp_path: Path, server: SftpServer, postgres_url: str
) -> None:
    upload(server)
    server.throttle_s = 0.005
    env = {f"{p.upper()}_PW": f"{p}-pw" for p in PARTNERS}
    hosts = ["host-a", "host-b", "host-c"]
    daemons = {
        host: Daemon(
            host_config(tmp_path, server, postgres_url, host), tmp_path / f"{host}.log", env
        )
        for host in hosts
    }
    for daemon in daemons.values():
        daemon.start()
    try:
        wait_for(lambda: answered(server) >= 60, 180, "a fifth of the files to be answered")
        busiest = query(
            postgres_url,
            "SELECT host FROM remote_files WHERE state IN ('CLAIMED', 'FETCHED') "
            "GROUP BY host ORDER BY COUNT(*) DESC LIMIT 1",
        )
        victim = str(busiest[0][0]) if busiest else hosts[0]
        daemons[victim].kill()
        in_hand = query(
            postgres_url,
            f"SELECT COUNT(*) FROM remote_files WHERE host = '{victim}' AND state <> 'SETTLED'",
        )
        daemons[victim].start()
        wait_for(lambda: answered(server) == len(PARTNERS) * FILES, 300, "every file answered")
        shown = importer(tmp_path / "host-a.toml", "status").stdout
    finally:
        codes = [daemon.stop() for daemon in daemons.values()]
    assert codes == [0, 0, 0]
    assert in_hand[0][0] > 0  # the kill did leave files in a host's hands

    polled_by = {line.split()[0]: line.split()[1] for line in shown.splitlines() if "@" in line}
    assert set(polled_by) == {f"{p}@127.0.0.1:{server.port}" for p in PARTNERS}
    assert set(polled_by.values()) <= set(hosts)
    logs = "".join(daemon.output() for daemon in daemons.values())
    assert logs.count(": fetched ") == len(PARTNERS) * FILES
    for partner in PARTNERS:
        folder = server.folder(partner)
        assert not list(folder.glob("products_*.csv"))  # nothing left behind on the server
        done = sorted(p.name for p in (folder / "done").glob("products_*.csv"))
        assert done == [f"products_{n:03d}.csv" for n in range(1, FILES + 1)]
        for name in done:
            report = json.loads((folder / "done" / f"{name}.report.json").read_text())
            assert report["status"] == "COMPLETED"
    outcomes = query(
        postgres_url,
        "SELECT status, COUNT(*) FROM import_jobs WHERE status <> 'ABANDONED' GROUP BY status",
    )
    assert outcomes == [("COMPLETED", len(PARTNERS) * FILES)]
    remote = query(postgres_url, "SELECT state, COUNT(*) FROM remote_files GROUP BY state")
    assert remote == [("SETTLED", len(PARTNERS) * FILES)]
    fetched_by = {str(host) for (host,) in query(postgres_url, "SELECT host FROM remote_files")}
    assert fetched_by <= set(hosts)
    assert query(postgres_url, "SELECT COUNT(*) FROM import_jobs WHERE host IS NULL") == [(0,)]
    for partner in PARTNERS:
        rows = query(
            postgres_url, f"SELECT sku, price FROM products WHERE partner_id = '{partner}'"
        )
        expected = {"S1": FILES, "S2": FILES} | {f"U{n}": n for n in range(1, FILES + 1)}
        assert {sku: float(str(price)) for sku, price in rows} == expected  # as one daemon
