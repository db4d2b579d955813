import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from importer.stability import StabilityGate
from importer.watcher import watch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_file_is_ready_only_after_it_stopped_changing(tmp_path: Path) -> None:
    clock = Clock()
    gate = StabilityGate(clock)
    path = tmp_path / "products.csv"
    path.write_text("sku\n")
    assert not gate.ready(path, 2, require_marker=False)
    clock.now += 1.5
    with path.open("a") as handle:
        handle.write("A1\n")
    assert not gate.ready(path, 2, require_marker=False)
    clock.now += 1.9
    assert not gate.ready(path, 2, require_marker=False)
    clock.now += 0.2
    assert gate.ready(path, 2, require_marker=False)


def test_the_size_and_time_a_scan_found_are_what_the_gate_compares(tmp_path: Path) -> None:
    clock = Clock()
    gate = StabilityGate(clock)
    path = tmp_path / "products.csv"
    path.write_text("sku\nA1\n")
    on_disk = path.stat()
    earlier = (on_disk.st_size - 3, on_disk.st_mtime_ns - 1)
    assert not gate.ready(path, 2, False, earlier)
    clock.now += 2.5
    assert gate.ready(path, 2, False, earlier)
    assert not gate.ready(path, 2, False, (on_disk.st_size, on_disk.st_mtime_ns))


def test_done_marker_decides_when_required(tmp_path: Path) -> None:
    gate = StabilityGate(Clock())
    path = tmp_path / "products.csv"
    path.write_text("sku\nA1\n")
    assert not gate.ready(path, 0, require_marker=True)
    (tmp_path / "products.csv.ok").touch()
    assert gate.ready(path, 0, require_marker=True)


def test_vanished_files_are_forgotten(tmp_path: Path) -> None:
    clock = Clock()
    gate = StabilityGate(clock)
    path = tmp_path / "products.csv"
    path.write_text("sku\n")
    gate.ready(path, 1, require_marker=False)
    gate.forget_missing([])
    clock.now += 5
    assert not gate.ready(path, 1, require_marker=False)


def _eventually(condition: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _renamed_in(folder: Path, elsewhere: Path) -> Path:
    """A file written elsewhere and renamed into ``folder``, the safe way to drop one."""
    staged = elsewhere / "products.csv"
    staged.write_text("sku\nA1\n")
    renamed = folder / "products.csv"
    os.replace(staged, renamed)
    return renamed


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, StabilityGate, threading.Event]]:
    """A real inotify watch on ``incoming/``, as the daemon keeps one."""
    gate, wake = StabilityGate(), threading.Event()
    folder = tmp_path / "incoming"
    observer = watch([folder], wake, gate)
    try:
        yield folder, gate, wake
    finally:
        observer.stop()
        observer.join()


def test_a_file_renamed_into_the_inbox_is_ready_at_once_one_written_there_is_not(
    watched: tuple[Path, StabilityGate, threading.Event], tmp_path: Path
) -> None:
    folder, gate, wake = watched
    written = folder / "inventory.csv"
    written.write_text("sku,location_id,quantity_on_hand\nA1,W1,3\n")
    renamed = _renamed_in(folder, tmp_path)
    assert _eventually(wake.is_set)
    assert _eventually(lambda: gate.ready(renamed, 3600, require_marker=False))
    assert not gate.ready(written, 3600, require_marker=False)


def test_a_renamed_file_written_to_afterwards_waits_for_stability_again(
    watched: tuple[Path, StabilityGate, threading.Event], tmp_path: Path
) -> None:
    folder, gate, _ = watched
    renamed = _renamed_in(folder, tmp_path)
    assert _eventually(lambda: gate.ready(renamed, 3600, require_marker=False))
    with renamed.open("a") as handle:
        handle.write("A2\n")
    assert _eventually(lambda: not gate.ready(renamed, 3600, require_marker=False))


def test_the_files_of_a_folder_renamed_into_the_inbox_are_ready_and_taking_one_wakes_nothing(
    watched: tuple[Path, StabilityGate, threading.Event], tmp_path: Path
) -> None:
    folder, gate, wake = watched
    staged = tmp_path / "acme"
    staged.mkdir()
    for name in ("products_1.csv", "products_2.csv"):
        (staged / name).write_text("sku\nA1\n")
    os.replace(staged, folder / "acme")
    arrived = [folder / "acme" / "products_1.csv", folder / "acme" / "products_2.csv"]
    assert _eventually(lambda: all(gate.ready(p, 3600, require_marker=False) for p in arrived))
    time.sleep(0.3)
    wake.clear()
    os.replace(arrived[0], tmp_path / "taken.csv")
    time.sleep(1.5)  # inotify pairs the two halves of a move within half a second
    assert not wake.is_set()
