"""The operator's everyday questions, each one command, through the real CLI."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from tests.test_cli import importer, write_config

PRODUCTS_1 = "sku,name,price\nA1,Lamp,10\nA2,Desk,99.5\n"
PRODUCTS_2 = "sku,name,price\nA1,Lamp,12\nA2,Desk,99.5\n"


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m importer`` without --config, in ``cwd``, with only the given IMPORTER_* set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTER_")}
    return subprocess.run(
        [sys.executable, "-m", "importer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), **env},
    )


def load_twice(tmp_path: Path, config: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    for name, content in (("products_1.csv", PRODUCTS_1), ("products_2.csv", PRODUCTS_2)):
        (drop / name).write_text(content)
        loaded = importer(config, "process", str(drop / name), "--partner", "acme")
        assert loaded.returncode == 0, loaded.stderr


def test_version_and_config_after_the_command(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    version = run(tmp_path, "--version")
    after = run(tmp_path, "jobs", "--config", str(config))

    assert version.returncode == 0 and version.stdout.startswith("importer ")
    assert after.returncode == 0, after.stderr
    assert after.stdout.split()[:2] == ["id", "status"]


def test_the_config_is_found_in_config_and_every_place_is_named_when_not(
    tmp_path: Path, database_url: str
) -> None:
    missing = run(tmp_path, "jobs")
    (tmp_path / "config").mkdir()
    write_config(tmp_path, database_url).rename(tmp_path / "config" / "importer.toml")
    found = run(tmp_path, "jobs", IMPORTER_TEST_POSTGRES="postgresql://elsewhere/x")

    assert missing.returncode == 2
    assert "$IMPORTER_CONFIG" in missing.stderr
    assert "config/importer.toml" in missing.stderr
    assert "/etc/importer/importer.toml" in missing.stderr
    assert found.returncode == 0, found.stderr


def test_a_misspelt_setting_in_the_environment_is_still_refused(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(tmp_path, database_url)
    refused = run(tmp_path, "--config", str(config), "jobs", IMPORTER_DATABASE__URLL="x")

    assert refused.returncode == 2
    assert "database.urll" in refused.stderr


def test_jobs_filter_by_file_feed_status_and_time(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    load_twice(tmp_path, config)

    second = importer(config, "jobs", "--file", "products_2*", "--feed", "products")
    nothing = importer(config, "jobs", "--status", "failed", "--since", "2000-01-01")
    before = importer(config, "jobs", "--until", "2000-01-01")

    rows = second.stdout.strip().splitlines()
    assert rows[0].split()[4:6] == ["received", "completed"]
    assert [row.split()[-1] for row in rows[1:]] == ["products_2.csv"]
    assert len(nothing.stdout.strip().splitlines()) == 1
    assert len(before.stdout.strip().splitlines()) == 1


def test_job_says_where_its_file_and_reports_are(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    load_twice(tmp_path, config)

    shown = importer(config, "job", "1")

    lines = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in shown.stdout.splitlines()
        if ":" in line
    }
    assert Path(lines["file now"]).read_text() == PRODUCTS_1
    assert Path(lines["report.json"]).exists()


def test_history_lists_the_changes_of_one_row_oldest_first(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(tmp_path, database_url)
    load_twice(tmp_path, config)

    changed = importer(config, "history", "products", "A1", "--partner", "acme")
    untouched = importer(config, "history", "products", "A2", "--partner", "acme")
    bad_key = importer(config, "history", "competitor_prices", "A1", "--partner", "acme")

    assert changed.returncode == 0, changed.stderr
    lines = changed.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "price: 10" in lines[0] and "-> 12" in lines[0] and "products_2.csv" in lines[0]
    assert untouched.stdout.startswith("no recorded changes")
    assert bad_key.returncode == 1
    assert "keyed by sku, competitor, observed_on, store_id" in bad_key.stderr


def test_help_describes_every_argument_of_every_command() -> None:
    from importer.cli import _parser

    parser = _parser()
    commands = [parser]
    undescribed = []
    while commands:
        command = commands.pop()
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                commands.extend(action.choices.values())
            elif not action.help and action.dest != "help":
                undescribed.append(f"{command.prog} {action.dest}")
    assert undescribed == []


def test_status_shows_every_feed_seen_or_expected_and_exits_1_when_one_is_late(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(tmp_path, database_url)
    config.write_text(
        config.read_text()
        + '\n[[expected_feeds]]\npartner = "acme"\nfeed = "inventory"\nby = "00:00"\n'
    )
    load_twice(tmp_path, config)
    waiting = tmp_path / "inbox" / "incoming" / "acme" / "products_3.csv"
    waiting.write_text(PRODUCTS_2)

    table = importer(config, "status")
    as_json = importer(config, "status", "--json")

    assert table.returncode == as_json.returncode == 1
    assert table.stdout.splitlines()[0].split()[:3] == ["partner", "feed", "health"]
    lanes = {(lane["partner"], lane["feed"]): lane for lane in json.loads(as_json.stdout)}
    products, inventory = lanes[("acme", "products")], lanes[("acme", "inventory")]
    assert (products["last_file"], products["last_status"], products["files_7d"]) == (
        "products_2.csv",
        "COMPLETED",
        2,
    )
    assert (products["waiting"], products["healthy"]) == (1, True)
    assert (inventory["late"], inventory["last_file"], inventory["healthy"]) == (True, None, False)


def test_status_exits_0_when_all_is_well_and_1_after_a_failed_file(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(tmp_path, database_url)
    load_twice(tmp_path, config)
    well = importer(config, "status")
    bad = tmp_path / "drop" / "products_bad.csv"
    bad.write_text("name\nno sku\n")
    importer(config, "process", str(bad), "--partner", "acme")
    failing = importer(config, "status", "--json")

    assert well.returncode == 0, well.stdout
    assert failing.returncode == 1
    (products,) = json.loads(failing.stdout)
    assert (products["last_status"], products["failed_files_7d"]) == ("FAILED", 1)


def big_file(tmp_path: Path, config: Path) -> tuple[Path, Path]:
    config.write_text(
        config.read_text().replace("[database]\n", "[database]\nbatch_rows = 100\n", 1)
        + "\n[logging]\nprogress_rows = 100\nprogress_interval_s = 0\n"
    )
    path = tmp_path / "products_big.csv"
    path.write_text("sku,name\n" + "".join(f"S{i},Item {i}\n" for i in range(1000)))
    return config, path


def test_a_big_file_logs_its_progress_and_no_bar_without_a_terminal(
    tmp_path: Path, database_url: str
) -> None:
    config, path = big_file(tmp_path, write_config(tmp_path, database_url))
    loaded = importer(config, "process", str(path), "--partner", "acme")

    assert loaded.returncode == 0, loaded.stderr
    progress = [line for line in loaded.stderr.splitlines() if "rows read of about" in line]
    assert len(progress) >= 5
    assert "acme/products_big.csv: 1,000 rows read of about 1,000" in progress[-1]
    assert "\r" not in loaded.stderr


def test_on_a_terminal_a_big_file_shows_a_progress_bar(tmp_path: Path, database_url: str) -> None:
    config, path = big_file(tmp_path, write_config(tmp_path, database_url))
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    command = [sys.executable, "-m", "importer", "--config", str(config), "process"]
    with subprocess.Popen(
        [*command, str(path), "--partner", "acme"],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env={k: v for k, v in os.environ.items() if not k.startswith("IMPORTER_")},
    ) as running:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
        assert running.wait(timeout=120) == 0
    os.close(controller)
    text = shown.decode(errors="replace")
    assert "acme/products_big.csv" in text and "1000/1000" in text and "\r" in text
