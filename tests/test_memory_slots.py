"""A large file waits for one of ``daemon.workers`` memory slots; on PostgreSQL small files run
beside them, on SQLite (one writer at a time) they share the slots' threads."""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from importer.dispatch import Dispatcher
from importer.lifecycle import Pipeline
from importer.locks import lane_locks_for
from importer.scanning import Candidate
from importer.slots import SMALL_FILE_BYTES, SMALL_FILE_THREADS, lane_threads, needs_slot
from tests.conftest import drop_file
from tests.processes import wait_for

PRODUCTS = "sku,name,price\nA1,One,10.00\nA2,Two,20.00\n"
INVENTORY = "sku,location_id,quantity_on_hand\nA1,WH1,5\n"


def test_large_and_compressed_files_need_a_slot_and_small_ones_do_not(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_text(PRODUCTS)
    large = tmp_path / "large.csv"
    large.write_bytes(b"x" * SMALL_FILE_BYTES)
    packed = tmp_path / "packed.csv.gz"
    packed.write_bytes(gzip.compress(PRODUCTS.encode()))
    assert [needs_slot(p) for p in (small, large, packed)] == [False, True, True]
    assert needs_slot(tmp_path / "gone.csv") is False


def test_only_postgresql_runs_lane_threads_beyond_the_slots() -> None:
    assert lane_threads(3, "postgresql") == 3 + SMALL_FILE_THREADS
    assert lane_threads(3, "sqlite") == 3


def _candidate(path: Path) -> Candidate:
    return Candidate("acme", path, path.stat().st_mtime, 0.0, False)


def _filed(pipeline: Pipeline, name: str) -> bool:
    """In ``done/``: moved there only after its load committed."""
    return any((pipeline.inbox.root / "done").rglob(name))


def _skus(engine: Engine, table: str) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text(f"SELECT sku FROM {table} ORDER BY sku")))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_small_files_load_while_every_slot_is_held(pipeline: Pipeline, engine: Engine) -> None:
    dispatcher = Dispatcher(pipeline, lane_locks_for(engine), 1, threading.Event())
    occupant = pipeline.inbox.root / "occupant.csv.gz"
    occupant.write_bytes(gzip.compress(PRODUCTS.encode()))
    compressed = drop_file(pipeline, "acme", "products.csv.gz", gzip.compress(PRODUCTS.encode()))
    try:
        with dispatcher.slots.held_for(occupant):
            inventory = drop_file(pipeline, "acme", "inventory.csv", INVENTORY)
            dispatcher.submit([_candidate(compressed), _candidate(inventory)])
            wait_for(lambda: _filed(pipeline, "inventory.csv"), 60, "the small file's load")
            assert _skus(engine, "inventory_levels") == ["A1"]
            time.sleep(0.5)
            assert compressed.exists(), "a compressed file was loaded without a slot"
            assert _skus(engine, "products") == []
        assert dispatcher.drain(timeout_s=60)
        assert _skus(engine, "products") == ["A1", "A2"]
    finally:
        dispatcher.shutdown()
