"""How long the operator's commands take, process start to exit, as a shell runs them.

A ledger of ``LEDGER_FILES`` small files is loaded first, so that ``jobs`` and ``status`` have
rows to read. Then each command runs ``repeat`` times: ``--help``, ``jobs``, ``status``, and
``process`` of one new 100-row file (new rows each time, so every run loads). A line gives the
fastest run, the median and every run's seconds.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.ledger import fill_ledger
from bench.small_files import ROWS, write_files

LEDGER_FILES = 200


def run_commands(url: str, workdir: Path, repeat: int, ledger_jobs: int) -> list[dict[str, object]]:
    """One result per command, on a database at ``url`` with a ledger to read (``ledger_jobs``
    of history before the scenario's own files)."""
    inbox = workdir / "inbox"
    config = workdir / "importer.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[inbox]\nroot = "{inbox}"\n')
    fill_ledger(url, config, ledger_jobs)
    write_files(inbox / "incoming", LEDGER_FILES)
    importer = [sys.executable, "-m", "importer", "--config", str(config)]
    _run([*importer, "process"])
    results = []
    for name, arguments in (("help", ["--help"]), ("jobs", ["jobs"]), ("status", ["status"])):
        runs = [_run([*importer, *arguments]) for _ in range(repeat)]
        results.append(_summary(name, runs))
    drops = workdir / "drops"
    runs = [
        _run([*importer, "process", str(_new_file(drops, n)), "--partner", "bench"])
        for n in range(repeat)
    ]
    results.append(_summary("process_one_small_file", runs))
    return results


def _new_file(folder: Path, n: int) -> Path:
    """A products file of ``ROWS`` rows whose prices no earlier run sent."""
    path = folder / "bench" / f"products_drop_{n:03d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "sku,name,price\n" + "".join(f"D{i},Item {i},{n}.{i:02d}\n" for i in range(ROWS))
    )
    return path


def _run(command: list[str]) -> float:
    """Wall seconds of one command; exit 1 (a late feed in ``status``) is an answer too."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command[4:]} failed: {done.stderr[-2000:]}")
    return seconds


def _summary(command: str, runs: list[float]) -> dict[str, object]:
    return {
        "command": command,
        "fastest_s": round(min(runs), 3),
        "median_s": round(statistics.median(runs), 3),
        "runs": [round(run, 3) for run in runs],
    }
