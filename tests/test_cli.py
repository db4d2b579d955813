"""The real command, run as a subprocess the way an operator runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from importer.feeds import FEEDS
from tests.conftest import SAMPLES


def write_config(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "importer.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n[inbox]\nroot = "{tmp_path / "inbox"}"\n'
        "[daemon]\npoll_interval_s = 0.2\n"
    )
    return config


def importer(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "importer", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("IMPORTER_")},
    )


@pytest.mark.slow
def test_process_loads_samples_then_reprocessing_writes_nothing(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(tmp_path, database_url)
    first = importer(config, "process", str(SAMPLES / "acme"), "--partner", "acme")
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("COMPLETED") == 11
    again = importer(config, "process", str(SAMPLES / "acme"), "--partner", "acme")
    assert again.returncode == 0, again.stderr
    # orders' nested items and order_line_items fill one table: each may be loaded again after
    # the other (writing nothing); every other file repeats the latest load of its table.
    duplicates = again.stderr.count("DUPLICATE")
    assert 9 <= duplicates <= 10
    assert again.stderr.count("COMPLETED") == 11 - duplicates
    assert "inserted=0 updated=0" in again.stderr
    assert again.stderr.count(" inserted=0 updated=0 ") == 11
    listing = importer(config, "jobs", "--status", "duplicate")
    assert listing.stdout.count("DUPLICATE") == duplicates
    shown = importer(config, "job", "1").stdout
    assert "status: COMPLETED" in shown and "row_count:" in shown
    assert shown.index("  id: 1") < shown.index("status:")


def test_broken_files_exit_1_and_land_in_failed(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    result = importer(config, "process", str(SAMPLES / "broken"), "--partner", "acme")
    assert result.returncode == 1
    failed = sorted(p.name for p in (tmp_path / "inbox" / "failed" / "acme").rglob("*.report.json"))
    assert len(failed) == len(list((SAMPLES / "broken").iterdir()))


def test_process_without_partner_outside_inbox_is_a_usage_error(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(tmp_path, database_url)
    result = importer(config, "process", str(SAMPLES / "acme" / "products.csv"))
    assert result.returncode == 2
    assert "--partner" in result.stderr


@pytest.mark.slow
def test_validate_reports_without_writing(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    good = importer(config, "validate", str(SAMPLES / "acme" / "products.csv"))
    assert not (tmp_path / "inbox").exists()
    assert good.returncode == 0, good.stderr
    report = json.loads(good.stdout)
    assert (report["status"], report["inserted_count"], report["dry_run"]) == ("COMPLETED", 5, True)
    out = tmp_path / "report.json"
    bad = importer(
        config,
        "validate",
        str(SAMPLES / "broken" / "products_bad_values.csv"),
        "--report",
        str(out),
    )
    assert bad.returncode == 1
    assert json.loads(out.read_text())["failed_count"] == 5
    again = importer(config, "validate", str(SAMPLES / "acme" / "products.csv"))
    assert json.loads(again.stdout)["inserted_count"] == 5
    assert importer(config, "jobs").stdout.strip().count("\n") == 0
    assert importer(config, "db", "upgrade").returncode == 0


def test_feeds_markdown_describes_every_feed(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    result = importer(config, "feeds", "--markdown")
    assert result.returncode == 0
    for feed in FEEDS:
        assert f"## {feed}\n" in result.stdout
    assert "| `sku` | `sku`, `externalId`, `productId` | text | yes |" in result.stdout


def test_db_upgrade_is_repeatable(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    assert importer(config, "db", "upgrade").returncode == 0
    assert importer(config, "db", "upgrade").returncode == 0


@pytest.mark.slow
def test_run_picks_up_dropped_files_and_stops_on_sigterm(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "importer", "--config", str(config), "run"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        incoming = tmp_path / "inbox" / "incoming" / "acme"
        incoming.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / "acme" / "products.csv", incoming / "products.csv")
        done = tmp_path / "inbox" / "done" / "acme"
        deadline = time.monotonic() + 60
        while not list(done.rglob("products.csv.report.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(done.rglob("products.csv.report.json"))
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr
    assert "SIGTERM received" in stderr


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SAMPLES.parent)


def _printed_under(variable: str, given: str | None, code: str) -> str:
    """What ``code`` prints after importing importer, with ``variable`` unset or ``given``."""
    env = {k: v for k, v in os.environ.items() if k != variable}
    if given is not None:
        env[variable] = given
    shown = subprocess.run(
        [sys.executable, "-c", f"import importer.cli; {code}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout.strip()


@pytest.mark.parametrize(
    ("given", "expected"), [(None, f"narenas:{os.cpu_count()}"), ("narenas:8", "narenas:8")]
)
def test_polars_allocator_gets_one_arena_per_cpu_unless_the_operator_set_it(
    given: str | None, expected: str
) -> None:
    shown = _printed_under(
        "_RJEM_MALLOC_CONF", given, "import os; print(os.environ['_RJEM_MALLOC_CONF'])"
    )
    assert shown.split(",")[-1] == expected  # Polars puts its own before it


@pytest.mark.parametrize(
    ("given", "expected"), [(None, max(1, (os.cpu_count() or 1) // 2)), ("3", 3)]
)
def test_polars_gets_half_the_cpus_unless_the_operator_set_its_threads(
    given: str | None, expected: int
) -> None:
    shown = _printed_under(
        "POLARS_MAX_THREADS", given, "import polars; print(polars.thread_pool_size())"
    )
    assert int(shown) == expected
