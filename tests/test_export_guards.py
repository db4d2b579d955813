"""Guards against a partner's broken export, through the real command on both databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from importer.db.engine import make_engine
from tests.test_cli import importer

pytestmark = pytest.mark.slow

HEADER = "sku,name,price\n"


def catalog(skus: range, price: float = 1.0) -> str:
    return HEADER + "".join(f"S{n},Item {n},{price + n}\n" for n in skus)


class Partner:
    """One partner's files through ``importer process``, and what the database then holds."""

    def __init__(
        self, tmp_path: Path, database_url: str, settings: str = "", name: str = "acme"
    ) -> None:
        self.tmp_path, self.database_url, self.name = tmp_path, database_url, name
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.inbox = tmp_path / "inbox"
        self.config = tmp_path / "importer.toml"
        self.config.write_text(
            f'[database]\nurl = "{database_url}"\n[inbox]\nroot = "{self.inbox}"\n{settings}'
        )
        self.sent = 0

    def send(
        self, body: str, name: str = "products", suffix: str = ".csv"
    ) -> tuple[int, dict[str, Any], str]:
        """Exit code, report and log of one file."""
        self.sent += 1
        path = self.tmp_path / f"{name}_{self.sent}{suffix}"
        path.write_text(body)
        done = importer(self.config, "process", "--partner", self.name, str(path))
        (report,) = self.inbox.glob(f"*/{self.name}/*/{path.name}.report.json")
        return done.returncode, json.loads(report.read_text()), done.stderr

    def retry(self, job_id: object, *extra: str) -> str:
        done = importer(self.config, "retry", str(job_id), *extra)
        assert done.returncode == 0, done.stderr
        again = importer(self.config, "process")
        assert again.returncode == 0, again.stderr
        return again.stderr

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql))]
        finally:
            engine.dispose()

    def live(self) -> int:
        live = (
            f"SELECT COUNT(*) FROM products WHERE deleted_at IS NULL AND partner_id = '{self.name}'"
        )
        (count,) = self.rows(live)[0]
        return int(count)


def test_a_snapshot_cut_short_deletes_nothing_until_forced(
    tmp_path: Path, database_url: str
) -> None:
    partner = Partner(tmp_path, database_url, '[feeds.products]\nmode = "snapshot"\n')
    assert partner.send(catalog(range(10)))[0] == 0
    code, report, _ = partner.send(catalog(range(9)))  # one of ten gone: 10 %, below 20 %
    assert (code, report["deleted_count"]) == (0, 1)
    code, report, _ = partner.send(catalog(range(2)))
    assert (code, report["status"], report["deleted_count"]) == (1, "FAILED", 0)
    assert "would mark 7 of the partner's 9 live rows deleted (77.8%)" in report["message"]
    assert f"importer retry {report['job_id']} --force" in report["message"]
    assert partner.live() == 9
    partner.retry(report["job_id"], "--force")
    (forced,) = partner.inbox.glob("done/acme/*/products_3.csv.report.json")
    after = json.loads(forced.read_text())
    assert (after["status"], after["deleted_count"]) == ("COMPLETED", 7)
    assert any(f"retry {report['job_id']} --force" in w for w in after["warnings"])
    assert partner.live() == 2
    ledger = partner.rows(
        f"SELECT retry_forced FROM import_jobs WHERE id = {report['job_id']}"
    ) + partner.rows(f"SELECT retry_of FROM import_jobs WHERE id = {after['job_id']}")
    assert [bool(ledger[0][0]), ledger[1][0]] == [True, report["job_id"]]


def test_a_column_that_disappeared_is_warned_about_and_fails_where_configured(
    tmp_path: Path, database_url: str
) -> None:
    partner = Partner(tmp_path, database_url, '[partners.acme]\non_dropped_column = "warn"\n')
    assert partner.send(catalog(range(3)))[0] == 0
    code, report, log = partner.send("sku,name\nS0,Item 0\n")
    assert (code, report["status"], report["dropped_columns"]) == (0, "COMPLETED", ["price"])
    assert "lacks columns the partner's last file filled: price" in log
    code, report, _ = partner.send("sku,name,price,msrp\nS0,Item 0,1,2\n")
    assert (report["dropped_columns"], report["new_columns"]) == ([], ["msrp", "price"])
    status = importer(partner.config, "status")
    assert status.stdout.splitlines()[1].split()[-1] == "-"

    strict = Partner(
        tmp_path / "strict",
        database_url,
        '[feeds.products]\non_dropped_column = "fail"\n',
        name="globex",
    )
    assert strict.send(catalog(range(3)))[0] == 0
    code, report, _ = strict.send("sku,name\nS0,Renamed\n")
    assert (code, report["status"], report["dropped_columns"]) == (1, "FAILED", ["price"])
    assert "on_dropped_column = fail" in report["message"]
    kept = "SELECT name FROM products WHERE sku = 'S0' AND partner_id = 'globex'"
    assert strict.rows(kept) == [("Item 0",)]
    (globex,) = (
        line
        for line in importer(strict.config, "status").stdout.splitlines()
        if line.startswith("globex")
    )
    assert globex.endswith(" price")


def test_a_file_that_changes_too_many_rows_fails_with_a_sample_of_the_changes(
    tmp_path: Path, database_url: str
) -> None:
    partner = Partner(tmp_path, database_url, "[feeds.products]\nmax_changed_fraction = 0.5\n")
    assert partner.send(catalog(range(10)))[0] == 0
    code, report, _ = partner.send(catalog(range(10), price=100.0))
    assert (code, report["status"], report["updated_count"]) == (1, "FAILED", 0)
    assert "would change 10 of the partner's 10 existing rows (100.0%)" in report["message"]
    sample = report["changes_sample"]
    assert sample and {"key", "column", "old", "new"} == set(sample[0])
    assert {change["column"] for change in sample} == {"price"}
    assert float(sample[0]["old"]) + 99 == float(sample[0]["new"])
    assert partner.rows("SELECT MAX(price) FROM products")[0][0] == 10
    code, report, _ = partner.send(catalog(range(10)).replace("S1,Item 1,2.0", "S1,Item 1,3"))
    assert (code, report["updated_count"]) == (0, 1)


def test_orders_whose_lines_change_too_much_fail_though_no_order_changes(
    tmp_path: Path, database_url: str
) -> None:
    partner = Partner(tmp_path, database_url, "[feeds.orders]\nmax_changed_fraction = 0.5\n")

    def orders(quantity: int) -> str:
        return json.dumps(
            [
                {"orderNumber": f"O{n}", "items": [{"sku": "A", "quantity": quantity}]}
                for n in range(4)
            ]
        )

    assert partner.send(orders(1), "orders", ".json")[0] == 0
    code, report, _ = partner.send(orders(100), "orders", ".json")
    assert (code, report["status"]) == (1, "FAILED")
    assert "would change 4 of the partner's 4 existing order_line_items rows" in report["message"]
    assert {change["column"] for change in report["changes_sample"]} == {"quantity"}
    assert partner.rows("SELECT MAX(quantity) FROM order_line_items")[0][0] == 1
