from pathlib import Path

from importer.stability import StabilityGate


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
