"""Many small files through the real daemon: how many a second, first drop to last report.

Partners that send hourly deltas per store send exactly this: N files of 100 rows, across 10
partners, products and inventory, moved into ``incoming/`` at once while ``importer run`` (default
settings) watches. The clock runs from the moment the files are in place to the moment the last
report was written (its modification time).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.ledger import fill_ledger

PARTNERS = 10
ROWS = 100


def write_files(folder: Path, count: int) -> list[Path]:
    """``count`` files of ``ROWS`` rows, spread over the partners and two feeds."""
    files = []
    for n in range(count):
        partner = f"p{n % PARTNERS}"
        if n % 2:
            name = f"inventory_{n:05d}.csv"
            body = "sku,location_id,quantity_on_hand\n" + "".join(
                f"S{(n * ROWS + i) % 5000},WH{n % 7},{i}\n" for i in range(ROWS)
            )
        else:
            name = f"products_{n:05d}.csv"
            body = "sku,name,price\n" + "".join(
                f"S{(n * ROWS + i) % 5000},Item {i},{i}.5\n" for i in range(ROWS)
            )
        path = folder / partner / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        files.append(path)
    return files


def run_small_files(url: str, workdir: Path, count: int, ledger_jobs: int) -> dict[str, object]:
    """Files a second through a daemon on ``url`` whose ledger holds ``ledger_jobs`` already."""
    inbox = workdir / "inbox"
    config = workdir / "importer.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[inbox]\nroot = "{inbox}"\n')
    fill_ledger(url, config, ledger_jobs)
    staged = workdir / "staged"
    write_files(staged, count)
    log = (workdir / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "importer", "--config", str(config), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: (inbox / "incoming").is_dir() and "watching" in _text(workdir / "daemon.log"))
        incoming = inbox / "incoming"
        started = time.time()
        for partner in sorted(staged.iterdir()):
            os.replace(partner, incoming / partner.name)
        _wait(lambda: len(_reports(inbox)) >= count, timeout_s=1800, every_s=0.5)
        seconds = max(report.stat().st_mtime for report in _reports(inbox)) - started
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
        log.close()
    failed = (
        len(list((inbox / "failed").rglob("*.report.json"))) if (inbox / "failed").is_dir() else 0
    )
    return {
        "files": count,
        "ledger_jobs": ledger_jobs,
        "seconds": round(seconds, 2),
        "files_per_s": round(count / seconds, 1),
        "failed": failed,
    }


def _reports(inbox: Path) -> list[Path]:
    folders = (inbox / "done", inbox / "failed")
    return [report for d in folders if d.is_dir() for report in d.rglob("*.report.json")]


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _wait(condition: Callable[[], bool], timeout_s: float = 60, every_s: float = 0.05) -> None:
    """Poll ``condition``; the files' wait is polled seldom, so that counting the reports takes
    little of the machine the daemon runs on (its clock stops at the last report's time)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon did not get there in time")
        time.sleep(every_s)
