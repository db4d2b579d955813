"""Leases and claims that let several daemons share SFTP sources through one database."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import Engine, text

from importer.clock import utc_now
from importer.db.remote_files import RemoteFile, RemoteLedger, RemoteState
from importer.db.source_leases import hold, leases
from tests.test_migrations import (
    empty_database_url,  # noqa: F401  (a fixture)
    upgraded_with,
)

SOURCE = "acme@sftp"


def claim_of(path: str, size: int = 10) -> RemoteFile:
    return RemoteFile(
        source=SOURCE,
        partner_id="acme",
        remote_path=path,
        size_bytes=size,
        mtime=1,
        feed="products",
    )


def test_a_source_is_polled_by_one_host_until_its_lease_runs_out(engine: Engine) -> None:
    assert hold(engine, SOURCE, "host-a", 0.5)
    assert not hold(engine, SOURCE, "host-b", 0.5)
    assert hold(engine, SOURCE, "host-a", 0.5)  # renewed by its holder
    assert hold(engine, "other-source", "host-b", 0.5)  # sources are leased one by one
    time.sleep(0.7)
    assert hold(engine, SOURCE, "host-b", 60)
    assert not hold(engine, SOURCE, "host-a", 60)
    held = {lease.source: lease.holder for lease in leases(engine)}
    assert held == {SOURCE: "host-b", "other-source": "host-b"}


def test_a_file_is_claimed_by_one_host_and_fetched_only_under_its_own_claim(
    engine: Engine,
) -> None:
    a, b = RemoteLedger(engine, "host-a"), RemoteLedger(engine, "host-b")
    mine = a.claim(claim_of("/in/products_1.csv"))
    assert mine is not None
    assert b.claim(claim_of("/in/products_1.csv")) is None
    assert b.claim(claim_of("/in/products_1.csv", size=11)) is not None  # a new version of it
    mine.sha256, mine.local_name = "0" * 64, "products_1.csv"
    assert a.fetched(mine)
    assert [row.remote_path for row in a.unsettled(SOURCE)] == ["/in/products_1.csv"]
    assert b.unsettled(SOURCE) == []


def test_a_claim_left_by_a_dead_host_is_taken_over_and_its_late_download_thrown_away(
    engine: Engine,
) -> None:
    a, b = RemoteLedger(engine, "host-a"), RemoteLedger(engine, "host-b")
    started = utc_now()
    left = a.claim(claim_of("/in/products_1.csv"))
    assert left is not None
    assert b.take_over(SOURCE, timedelta(seconds=60), started) == []
    time.sleep(0.3)
    (taken,) = b.take_over(SOURCE, timedelta(seconds=0.2), started)
    assert taken.host == "host-b"
    left.sha256, left.local_name = "0" * 64, "products_1.csv"
    assert not a.fetched(left)
    taken.sha256, taken.local_name = "1" * 64, "products_1.csv"
    assert b.fetched(taken)


def test_a_host_restarted_fetches_its_own_unfinished_claims_at_once(engine: Engine) -> None:
    before = RemoteLedger(engine, "host-a")
    assert before.claim(claim_of("/in/products_1.csv")) is not None
    restarted_at = utc_now()
    after = RemoteLedger(engine, "host-a")
    (again,) = after.take_over(SOURCE, timedelta(hours=1), restarted_at)
    assert again.remote_path == "/in/products_1.csv"
    assert RemoteLedger(engine, "host-b").take_over(SOURCE, timedelta(hours=1), utc_now()) == []


def test_a_feed_with_a_file_in_another_hosts_hands_waits(engine: Engine) -> None:
    a, b = RemoteLedger(engine, "host-a"), RemoteLedger(engine, "host-b")
    row = a.claim(claim_of("/in/products_1.csv"))
    assert row is not None
    assert b.held_elsewhere("acme", ["products", "inventory"]) == {"products"}
    assert a.held_elsewhere("acme", ["products", "inventory"]) == set()
    row.state = RemoteState.SETTLED
    a.record(row)
    assert b.held_elsewhere("acme", ["products"]) == set()


def test_migration_keeps_the_first_of_remote_rows_that_repeat_a_file(
    empty_database_url: str,  # noqa: F811
) -> None:
    insert = (
        "INSERT INTO remote_files (source, partner_id, remote_path, size_bytes, mtime, sha256, "
        "local_name, state, fetched_at) VALUES ('s', 'acme', '/in/a.csv', 10, 1, '{}', '{}', "
        "'SETTLED', '2026-01-01 00:00:00')"
    )
    engine = upgraded_with(
        empty_database_url, "0007", insert.format("a" * 64, "a.csv"), insert.format("b" * 64, "b")
    )
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT sha256, host, feed FROM remote_files")).all()
    assert [tuple(row) for row in kept] == [("a" * 64, None, None)]
    engine.dispose()
