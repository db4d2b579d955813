"""Run the benchmark scenarios through the real ``importer process`` and print one JSON line each.

    python -m bench.generate --rows 1000000 --out bench/data
    python -m bench.run --data bench/data --backends sqlite,postgres --repeat 3
    python -m bench.run --small-files 1000 --backends postgres,sqlite
    python -m bench.run --commands --backends postgres,sqlite
    python -m bench.run --small-files 1000 --ledger 1000000   # on a year of history

Scenarios: the first load of a catalog; the next day's catalog (5 % changed prices, 1 % new SKUs);
the same rows in another order (bytes differ, nothing changed); that file's identical bytes again
(the latest load re-sent: nothing to do); and
orders with nested lines, first and changed. Beside them, in the same run: the databases' own bulk
loaders into a table with the same primary key (``psql \\copy``, ``sqlite3 .import``) as ceilings,
and pandas ``read_csv`` + ``to_sql`` as what one would write by hand. ``seconds`` is the pipeline's
own time (claim to filed away, from the job report); ``wall_seconds`` adds interpreter start-up.
``peak_rss_mb`` is the peak resident memory of the process that ran the scenario; ``vs_ceiling``
divides a catalog scenario's seconds by the ceiling's, measured first in the same round. Before each
scenario PostgreSQL is settled (``CHECKPOINT``, ``VACUUM (ANALYZE)``), as a day between files would.
With ``--repeat N`` the ceiling and the scenarios run N times, each round in a fresh database; a
line then gives the medians (peak RSS: the largest) and ``runs``, every round's seconds. pandas runs
once: it is far from the rest.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.commands import run_commands
from bench.small_files import run_small_files

PG_ADMIN = os.environ.get("IMPORTER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CATALOG_COLUMNS = (
    "sku text PRIMARY KEY, name text, description text, brand text, category text, color text, "
    "price numeric, msrp numeric, qoh integer, in_stock boolean, on_sale boolean, "
    "image_url text"
)
SCENARIOS = (
    ("first_load", "products_v1.csv"),
    ("changed_redrop", "products_v2.csv"),
    ("reordered_identical", "products_v2_reordered.csv"),
    ("identical_bytes", "products_v2_reordered.csv"),
    ("orders_first_load", "orders_v1.json"),
    ("orders_changed", "orders_v2.json"),
)

Result = dict[str, Any]
"""one scenario's JSON line"""


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and stderr of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{command[:4]} failed: {stderr[-2000:]}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, stderr


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


class Backend:
    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.database = f"importer_bench_{uuid.uuid4().hex[:8]}"
        if name == "sqlite":
            self.url = f"sqlite:///{workdir / 'bench.db'}"
        else:
            base = PG_ADMIN.rpartition("/")[0]
            self.url = f"{base}/{self.database}"
            self._admin(f"CREATE DATABASE {self.database}")

    def close(self) -> None:
        if self.name == "postgres":
            self._admin(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")

    def _admin(self, sql: str) -> None:
        subprocess.run(["psql", PG_ADMIN, "-q", "-c", sql], check=True, capture_output=True)

    def settle(self) -> None:
        """What a server does on its own between one day's file and the next: write out the last
        scenario's pages and vacuum its tables. Without it the previous scenario's checkpoint and
        autovacuum run inside the next measurement."""
        if self.name == "postgres":
            self._admin_in_database("CHECKPOINT")
            self._admin_in_database("VACUUM (ANALYZE)")

    def _admin_in_database(self, sql: str) -> None:
        subprocess.run(["psql", self.url, "-q", "-c", sql], check=True, capture_output=True)

    def ceiling(self, csv_file: Path) -> float:
        """The database's own bulk load of the same file into a table with the same key; the table
        is dropped at once, so no autovacuum of it runs during the scenarios."""
        if self.name == "sqlite":
            db = self.workdir / "ceiling.db"
            db.unlink(missing_ok=True)
            script = f"CREATE TABLE products ({CATALOG_COLUMNS});\n.import --csv --skip 1 {csv_file} products\n"
            started = time.perf_counter()
            subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True)
            elapsed = time.perf_counter() - started
            db.unlink()
            return elapsed
        subprocess.run(
            ["psql", self.url, "-q", "-c", f"CREATE TABLE ceiling_products ({CATALOG_COLUMNS})"],
            check=True,
        )
        started = time.perf_counter()
        subprocess.run(
            ["psql", self.url, "-q", "-c", f"\\copy ceiling_products FROM '{csv_file}' CSV HEADER"],
            check=True,
        )
        elapsed = time.perf_counter() - started
        self._admin_in_database("DROP TABLE ceiling_products")
        return elapsed

    def pandas(self, csv_file: Path) -> tuple[float, float] | None:
        code = (
            "import sys, pandas, sqlalchemy\n"
            "engine = sqlalchemy.create_engine(sys.argv[2].replace('postgresql://', 'postgresql+psycopg://'))\n"
            "pandas.read_csv(sys.argv[1]).to_sql('pandas_products', engine, if_exists='replace', "
            "index=False, chunksize=50000)\n"
        )
        if importlib.util.find_spec("pandas") is None:
            return None
        url = self.url if self.name == "postgres" else f"sqlite:///{self.workdir / 'pandas.db'}"
        seconds, rss, _ = run_measured([sys.executable, "-c", code, str(csv_file), url])
        return seconds, rss


def run_backend(name: str, data: Path, repeat: int) -> None:
    rounds = [run_round(name, data) for _ in range(repeat)]
    for scenario, first in rounds[0].items():
        measured = [r[scenario] for r in rounds if scenario in r]
        emit(**summarize(first, measured))
    with tempfile.TemporaryDirectory(prefix="importer-bench-") as scratch:
        backend = Backend(name, Path(scratch))
        try:
            pandas = backend.pandas(data / "products_v1.csv")
        finally:
            backend.close()
    rows = rounds[0]["first_load"]["rows"] if "first_load" in rounds[0] else None
    if pandas is None:
        emit(scenario="pandas_to_sql", backend=name, skipped="pandas is not installed")
    else:
        emit(
            scenario="pandas_to_sql",
            backend=name,
            rows=rows,
            seconds=round(pandas[0], 3),
            peak_rss_mb=round(pandas[1], 1),
        )


def summarize(first: Result, measured: list[Result]) -> Result:
    """One line for a scenario over all rounds: medians, the largest peak, every round's seconds."""

    def median(field: str) -> float:
        return statistics.median(float(m[field]) for m in measured)

    line = dict(first)
    for field in ("seconds", "wall_seconds"):
        if field in first:
            line[field] = round(median(field), 3)
    if first.get("vs_ceiling") is not None:
        line["vs_ceiling"] = round(median("vs_ceiling"), 2)
    if first.get("rows_per_s") is not None:
        line["rows_per_s"] = round(first["rows"] / line["seconds"])
    if "peak_rss_mb" in first:
        line["peak_rss_mb"] = max(m["peak_rss_mb"] for m in measured)
    if len(measured) > 1:
        line["runs"] = [m["seconds"] for m in measured]
    return line


def run_round(name: str, data: Path) -> dict[str, Result]:
    """The ceiling, then every scenario in order, in a fresh database; results by scenario."""
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="importer-bench-") as scratch:
        workdir = Path(scratch)
        backend = Backend(name, workdir)
        try:
            config = workdir / "importer.toml"
            config.write_text(
                f'[database]\nurl = "{backend.url}"\n[inbox]\nroot = "{workdir / "inbox"}"\n'
            )
            ceiling = backend.ceiling(data / "products_v1.csv")
            results["ceiling_bulk_load"] = {
                "scenario": "ceiling_bulk_load",
                "backend": name,
                "seconds": round(ceiling, 3),
                "tool": "psql \\copy" if name == "postgres" else "sqlite3 .import",
            }
            rows_first = 0
            for scenario, file_name in SCENARIOS:
                source = data / file_name
                if not source.exists():
                    continue
                target = workdir / "drop" / scenario / file_name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                backend.settle()
                wall, rss, _ = run_measured(
                    [
                        sys.executable,
                        "-m",
                        "importer",
                        "--config",
                        str(config),
                        "process",
                        str(target),
                        "--partner",
                        "bench",
                    ]
                )
                report = _latest_report(workdir / "inbox")
                seconds = report["duration_ms"] / 1000
                rows = report["row_count"] or rows_first
                rows_first = rows_first or report["row_count"]
                results[scenario] = {
                    "scenario": scenario,
                    "backend": name,
                    "rows": rows,
                    "seconds": round(seconds, 3),
                    "wall_seconds": round(wall, 3),
                    "rows_per_s": round(rows / seconds) if seconds else None,
                    "vs_ceiling": round(seconds / ceiling, 2)
                    if file_name.startswith("products")
                    else None,
                    "peak_rss_mb": round(rss, 1),
                    "status": report["status"],
                    "inserted": report["inserted_count"],
                    "updated": report["updated_count"],
                    "unchanged": report["unchanged_count"],
                }
        finally:
            backend.close()
    return results


def _latest_report(inbox: Path) -> dict[str, Any]:
    reports = sorted(inbox.rglob("*.report.json"), key=lambda p: p.stat().st_mtime)
    return dict(json.loads(reports[-1].read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("bench/data"))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; lines give the medians")
    parser.add_argument(
        "--small-files", type=int, default=0, help="only the daemon scenario of N small files"
    )
    parser.add_argument(
        "--commands", action="store_true", help="only the commands' start-to-exit times"
    )
    parser.add_argument(
        "--ledger",
        type=int,
        default=0,
        help="small files and commands: jobs of history in the ledger first (a year is ~1000000)",
    )
    args = parser.parse_args()
    for name in args.backends.split(","):
        if args.commands:
            run_command_times(name.strip(), args.repeat, args.ledger)
        elif args.small_files:
            run_small(name.strip(), args.small_files, args.ledger)
        else:
            run_backend(name.strip(), args.data.resolve(), args.repeat)


def run_small(name: str, count: int, ledger_jobs: int) -> None:
    """``count`` files of 100 rows through ``importer run``, in a fresh database."""
    with tempfile.TemporaryDirectory(prefix="importer-bench-") as scratch:
        backend = Backend(name, Path(scratch))
        try:
            result = run_small_files(backend.url, Path(scratch), count, ledger_jobs)
        finally:
            backend.close()
    emit(scenario="small_files_daemon", backend=name, **result)


def run_command_times(name: str, repeat: int, ledger_jobs: int) -> None:
    """``--help``, ``jobs``, ``status`` and ``process`` of one small file, in a fresh database."""
    with tempfile.TemporaryDirectory(prefix="importer-bench-") as scratch:
        backend = Backend(name, Path(scratch))
        try:
            results = run_commands(backend.url, Path(scratch), max(repeat, 5), ledger_jobs)
        finally:
            backend.close()
    for result in results:
        emit(scenario="command", backend=name, ledger_jobs=ledger_jobs, **result)


if __name__ == "__main__":
    main()
