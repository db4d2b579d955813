"""SFTP sources against a real SFTP server on loopback: fetch once, verify hosts, answer partners."""

from __future__ import annotations

import json
import os
import posixpath
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from loguru import logger
from sqlalchemy import Engine, text

from importer import sftp_poller
from importer.config import Settings, SftpSource
from importer.db.ledger import JobStatus
from importer.db.remote_files import RemoteFile, RemoteLedger
from importer.lifecycle import Pipeline
from importer.ordering import OrderBy
from importer.scanning import waiting
from importer.sftp_poller import SftpPoller, partner_copy
from tests.conftest import SettingsFactory
from tests.processes import Daemon, wait_for, write_config
from tests.sftp_server import SftpServer

pytestmark = pytest.mark.slow

PRODUCTS = "sku,name,price\nA1,One,1.00\nA2,Two,2.00\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpServer]:
    acme_key = asyncssh.generate_private_key("ssh-ed25519")
    acme_key.write_private_key(str(tmp_path / "acme_ed25519"), passphrase="key-pass")
    sftp = SftpServer(tmp_path / "sftp", {"globex": "globex-pw"}, {"acme": acme_key})
    sftp.start()
    (tmp_path / "known_hosts").write_text(sftp.known_hosts_line())
    yield sftp
    sftp.close()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    handler = logger.add(lambda message: lines.append(str(message)), format="{level} {message}")
    yield lines
    logger.remove(handler)


ENV = {"ACME_KEY_PASS": "key-pass", "GLOBEX_PW": "globex-pw"}


def acme_source(server: SftpServer, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "sftp",
        "partner": "acme",
        "host": "127.0.0.1",
        "port": server.port,
        "username": "acme",
        "private_key_file": str(tmp_path / "acme_ed25519"),
        "passphrase_env": "ACME_KEY_PASS",
        "known_hosts_file": str(tmp_path / "known_hosts"),
        "connect_timeout_s": 5,
        "read_timeout_s": 5,
        **overrides,
    }


def globex_source(server: SftpServer, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "sftp",
        "partner": "globex",
        "host": "127.0.0.1",
        "port": server.port,
        "username": "globex",
        "password_env": "GLOBEX_PW",
        "host_key_fingerprint": server.fingerprint,
        "connect_timeout_s": 5,
        **overrides,
    }


def pollers(settings: Settings, pipeline: Pipeline, engine: Engine) -> list[SftpPoller]:
    return [SftpPoller(s, pipeline.inbox, engine, ENV) for s in settings.sftp_sources]


def acme_only(
    make_settings: SettingsFactory, engine: Engine, source: dict[str, Any]
) -> tuple[Settings, Pipeline, SftpPoller]:
    """Settings with the one acme source, its pipeline and its poller."""
    settings = make_settings(sources=[source])
    pipeline = Pipeline(settings, engine)
    (poller,) = pollers(settings, pipeline, engine)
    return settings, pipeline, poller


def process_waiting(pipeline: Pipeline, settings: Settings) -> list[JobStatus]:
    outcomes = [pipeline.process(c.path, c.partner) for c in waiting(settings, pipeline.inbox)]
    return [o.status for o in outcomes if o is not None]


def round_trip(settings: Settings, pipeline: Pipeline, engine: Engine) -> list[JobStatus]:
    """Two polls to see the files stable and fetch them, processing, one poll to answer."""
    sources = pollers(settings, pipeline, engine)
    for _ in range(2):
        for poller in sources:
            poller.poll()
    statuses = process_waiting(pipeline, settings)
    for poller in sources:
        poller.poll()
    return statuses


def test_two_partners_are_fetched_loaded_and_answered(
    server: SftpServer, tmp_path: Path, make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(sources=[acme_source(server, tmp_path), globex_source(server)])
    pipeline = Pipeline(settings, engine)
    (server.folder("acme") / "products.csv").write_text(PRODUCTS)
    (server.folder("globex") / "inventory.csv").write_text("sku,location_id\nA1,WH1\n")
    assert sorted(round_trip(settings, pipeline, engine)) == [JobStatus.COMPLETED] * 2
    acme_done = server.folder("acme") / "done"
    assert (acme_done / "products.csv").read_text() == PRODUCTS
    report = json.loads((acme_done / "products.csv.report.json").read_text())
    assert (report["status"], report["inserted_count"]) == ("COMPLETED", 2)
    assert (server.folder("globex") / "done" / "inventory.csv.report.json").exists()
    assert not (server.folder("acme") / "products.csv").exists()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM products")).scalar_one() == 2
        states = connection.execute(text("SELECT state FROM remote_files")).scalars().all()
    assert states == ["SETTLED", "SETTLED"]


def test_a_growing_file_is_fetched_only_once_it_stops_changing(
    server: SftpServer, tmp_path: Path, make_settings: SettingsFactory, engine: Engine
) -> None:
    settings, pipeline, poller = acme_only(make_settings, engine, acme_source(server, tmp_path))
    remote = server.folder("acme") / "products.csv"
    remote.write_text(PRODUCTS[:20])
    poller.poll()
    with remote.open("a") as handle:
        handle.write(PRODUCTS[20:])
    poller.poll()
    assert not waiting(settings, pipeline.inbox)
    poller.poll()
    (fetched,) = waiting(settings, pipeline.inbox)
    assert fetched.path.read_text() == PRODUCTS


def test_failed_file_goes_back_with_its_report_and_no_server_paths(
    server: SftpServer, tmp_path: Path, make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(sources=[acme_source(server, tmp_path)])
    pipeline = Pipeline(settings, engine)
    (server.folder("acme") / "products.csv").write_text("sku,price\nA1,abc\n")
    assert round_trip(settings, pipeline, engine) == [JobStatus.FAILED]
    failed = server.folder("acme") / "failed"
    assert (failed / "products.csv").exists()
    report = (failed / "products.csv.report.json").read_text()
    assert '"status": "FAILED"' in report
    assert str(tmp_path) not in report
    assert "abc" in (failed / "products.csv.errors.csv").read_text()


def test_a_large_report_goes_back_a_part_at_a_time_as_the_whole_would(
    server: SftpServer,
    tmp_path: Path,
    make_settings: SettingsFactory,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sftp_poller, "UPLOAD_CHUNK_CHARS", 50)
    parts: list[int] = []
    whole_copy = sftp_poller.partner_copy_of

    def counted(report: Path) -> Iterator[bytes]:
        parts.append(0)
        for part in whole_copy(report):
            parts[-1] += 1
            yield part

    monkeypatch.setattr(sftp_poller, "partner_copy_of", counted)
    settings = make_settings(sources=[acme_source(server, tmp_path)])
    pipeline = Pipeline(settings, engine)
    rows = "".join(f"A{n},/srv/x{n}\n" for n in range(200))
    (server.folder("acme") / "products.csv").write_text("sku,price\n" + rows)
    assert round_trip(settings, pipeline, engine) == [JobStatus.FAILED]
    (local,) = (pipeline.inbox.root / "failed").rglob("products.csv.errors.csv")
    sent = (server.folder("acme") / "failed" / "products.csv.errors.csv").read_text()
    assert sent == partner_copy(local.read_text())
    assert sent.count("\n") == 201 and "/srv/x199" not in sent
    assert max(parts) > 100  # errors.csv went a line or two at a time


def test_partner_copy_hides_paths() -> None:
    text = "cannot parse /var/lib/importer/inbox/processing/acme/7-x.csv: bad; date 11/02/2026"
    assert partner_copy(text) == "cannot parse <path>: bad; date 11/02/2026"


@pytest.mark.parametrize("action", ["delete", "leave"])
def test_post_actions_delete_and_leave(
    action: str, server: SftpServer, tmp_path: Path, make_settings: SettingsFactory, engine: Engine
) -> None:
    source = acme_source(server, tmp_path, post_action=action, reports_dir="reports")
    settings = make_settings(sources=[source])
    pipeline = Pipeline(settings, engine)
    remote = server.folder("acme") / "products.csv"
    remote.write_text(PRODUCTS)
    assert round_trip(settings, pipeline, engine) == [JobStatus.COMPLETED]
    assert remote.exists() == (action == "leave")
    assert (server.folder("acme") / "reports" / "products.csv.report.json").exists()
    assert not (server.folder("acme") / "done").exists()
    assert round_trip(settings, pipeline, engine) == []


def test_done_marker_is_required_when_configured(
    server: SftpServer, tmp_path: Path, make_settings: SettingsFactory, engine: Engine
) -> None:
    settings, pipeline, poller = acme_only(
        make_settings, engine, acme_source(server, tmp_path, require_done_marker=True)
    )
    (server.folder("acme") / "products.csv").write_text(PRODUCTS)
    poller.poll()
    poller.poll()
    assert not waiting(settings, pipeline.inbox)
    (server.folder("acme") / "products.csv.ok").touch()
    poller.poll()
    assert len(waiting(settings, pipeline.inbox)) == 1
    process_waiting(pipeline, settings)
    poller.poll()
    assert not (server.folder("acme") / "products.csv.ok").exists()


def test_changed_host_key_is_refused_and_nothing_is_downloaded(
    server: SftpServer,
    tmp_path: Path,
    make_settings: SettingsFactory,
    engine: Engine,
    log_lines: list[str],
) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "known_hosts").write_text(
        f"[127.0.0.1]:{server.port} {impostor.export_public_key().decode().strip()}\n"
    )
    settings = make_settings(sources=[acme_source(server, tmp_path)])
    pipeline = Pipeline(settings, engine)
    (server.folder("acme") / "products.csv").write_text(PRODUCTS)
    assert round_trip(settings, pipeline, engine) == []
    refused = [line for line in log_lines if "CHANGED" in line]
    assert refused and server.fingerprint in refused[0] and refused[0].startswith("ERROR")
    assert (server.folder("acme") / "products.csv").exists()


def test_unknown_host_key_is_refused_unless_pinned(
    server: SftpServer, make_settings: SettingsFactory, engine: Engine, log_lines: list[str]
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").get_fingerprint("sha256")
    settings = make_settings(sources=[globex_source(server, host_key_fingerprint=other)])
    pipeline = Pipeline(settings, engine)
    (server.folder("globex") / "inventory.csv").write_text("sku,location_id\nA1,WH1\n")
    assert round_trip(settings, pipeline, engine) == []
    assert any("not trusted" in line and server.fingerprint in line for line in log_lines)
    pinned = make_settings(sources=[globex_source(server)])
    assert round_trip(pinned, Pipeline(pinned, engine), engine) == [JobStatus.COMPLETED]


def test_wrong_password_backs_off_while_other_sources_work(
    server: SftpServer,
    tmp_path: Path,
    make_settings: SettingsFactory,
    engine: Engine,
    log_lines: list[str],
) -> None:
    settings = make_settings(
        sources=[acme_source(server, tmp_path), globex_source(server, password_env="ACME_KEY_PASS")]
    )
    pipeline = Pipeline(settings, engine)
    (server.folder("acme") / "products.csv").write_text(PRODUCTS)
    (server.folder("globex") / "inventory.csv").write_text("sku,location_id\nA1,WH1\n")
    assert round_trip(settings, pipeline, engine) == [JobStatus.COMPLETED]
    assert any("authentication as 'globex' failed" in line for line in log_lines)
    assert (server.folder("globex") / "inventory.csv").exists()
    assert all("globex-pw" not in line and "key-pass" not in line for line in log_lines)


def test_server_killed_mid_download_loses_nothing(
    server: SftpServer, tmp_path: Path, make_settings: SettingsFactory, engine: Engine
) -> None:
    settings, pipeline, poller = acme_only(make_settings, engine, acme_source(server, tmp_path))
    big = "sku,name,price\n" + "".join(f"S{i},Item {i},{i}.00\n" for i in range(200_000))
    remote = server.folder("acme") / "products.csv"
    remote.write_text(big)
    poller.poll()
    server.throttle_s = 0.01
    fetching = threading.Thread(target=poller.poll)
    fetching.start()
    incoming = pipeline.inbox.incoming / "acme"
    deadline = time.monotonic() + 30
    while not any(p.name.endswith(".part") and p.stat().st_size for p in incoming.glob(".*")):
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.01)
    server.stop()
    fetching.join(timeout=30)
    assert not list(incoming.iterdir()), "a partial file was left behind"
    assert remote.read_text() == big
    server.throttle_s = 0
    server.start()
    poller._resume_at = 0
    poller.poll()
    (fetched,) = waiting(settings, pipeline.inbox)
    assert fetched.path.read_text() == big


def test_sftp_source_config_requires_trust_and_credentials() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="known_hosts_file or host_key_fingerprint"):
        SftpSource.model_validate(
            {"type": "sftp", "partner": "a", "host": "h", "username": "u", "password_env": "P"}
        )
    with pytest.raises(ValidationError, match="private_key_file or password_env"):
        SftpSource.model_validate(
            {
                "type": "sftp",
                "partner": "a",
                "host": "h",
                "username": "u",
                "accept_unknown_host_keys": True,
            }
        )


def test_daemon_fetches_a_slow_upload_once_and_answers_a_bad_file(
    server: SftpServer, tmp_path: Path, database_url: str
) -> None:
    extra = (
        '[[sources]]\ntype = "sftp"\npartner = "globex"\nhost = "127.0.0.1"\n'
        f'port = {server.port}\nusername = "globex"\npassword_env = "GLOBEX_PW"\n'
        f'host_key_fingerprint = "{server.fingerprint}"\npoll_interval_s = 0.5\nstable_seconds = 1.0\n'
    )
    config = write_config(tmp_path / "c.toml", database_url, tmp_path / "inbox", extra)
    daemon = Daemon(config, tmp_path / "log", {"GLOBEX_PW": "globex-pw"}).start()
    folder = server.folder("globex")
    try:
        wait_for(lambda: "watching" in daemon.output(), 60, "the daemon to start")
        with (folder / "products.csv").open("w") as upload:
            upload.write("sku,name,price\n")
            for piece in range(6):
                upload.write("".join(f"S{piece}-{i},Item,{i}.50\n" for i in range(50)))
                upload.flush()
                time.sleep(0.4)
        (folder / "products_bad.csv").write_text("sku,price\nA1,abc\n")
        wait_for(
            (folder / "failed" / "products_bad.csv.report.json").exists,
            90,
            "the failed report",
        )
        wait_for((folder / "done" / "products.csv.report.json").exists, 90, "the done report")
    finally:
        assert daemon.stop() == 0
    report = json.loads((folder / "done" / "products.csv.report.json").read_text())
    assert (report["status"], report["row_count"]) == ("COMPLETED", 300)
    assert daemon.output().count(": fetched ./products") == 2
    assert "globex-pw" not in daemon.output()


@pytest.mark.parametrize("case", [("mtime", [2, 1, 0]), ("name", [0, 1, 2])])
def test_files_are_fetched_in_the_order_their_lane_applies_them(
    server: SftpServer,
    tmp_path: Path,
    make_settings: SettingsFactory,
    engine: Engine,
    case: tuple[OrderBy, list[int]],
) -> None:
    order, expected = case
    names = ["inventory_2026-2-9.csv", "inventory_2026-2-10.csv", "inventory_2026-2-11.csv"]
    for age, name in enumerate(names):
        path = server.folder("acme") / name
        path.write_text(f"sku,location_id,quantity_on_hand\nA1,WH1,{age}\n")
        mtime = 1_700_000_000 - age  # the last day was uploaded first
        os.utime(path, (mtime, mtime))
    settings = make_settings(sources=[acme_source(server, tmp_path)])
    pipeline = Pipeline(settings, engine)
    poller = SftpPoller(
        settings.sftp_sources[0], pipeline.inbox, engine, ENV, lanes=lambda _name: (order, None)
    )
    for _ in range(2):
        poller.poll()
    with engine.connect() as connection:
        fetched = connection.execute(text("SELECT remote_path FROM remote_files ORDER BY id"))
        order_seen = [names.index(posixpath.basename(p)) for p in fetched.scalars()]
    assert order_seen == expected


def test_a_download_a_crash_cut_short_is_removed_once_another_host_has_its_file(
    server: SftpServer, tmp_path: Path, make_settings: SettingsFactory, engine: Engine
) -> None:
    _, pipeline, poller = acme_only(make_settings, engine, acme_source(server, tmp_path))
    folder = pipeline.inbox.incoming / "acme"
    folder.mkdir(parents=True)
    here, elsewhere = RemoteLedger(engine, pipeline.inbox.host), RemoteLedger(engine, "host-b")

    def cut_short(ledger: RemoteLedger, name: str) -> Path:
        row = ledger.claim(
            RemoteFile(
                source=poller.source.id,
                partner_id="acme",
                remote_path=f"/{name}",
                size_bytes=3,
                mtime=1,
            )
        )
        assert row is not None
        left = folder / f".{name}.{row.id}.part"
        left.write_text("par")
        return left

    taken_over = cut_short(elsewhere, "products_1.csv")
    still_mine = cut_short(here, "products_2.csv")
    claim_id = taken_over.name.split(".")[-2]
    partners_own = folder / f".products_3.csv.{claim_id}.part"  # no claim gave this name
    partners_own.write_text("uploading")
    poller.poll()
    assert not taken_over.exists()
    assert still_mine.read_text() == "par"
    assert partners_own.read_text() == "uploading"
