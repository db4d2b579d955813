"""Feed hostile and everyday-odd files to ``importer process`` and print each outcome and peak RSS.

    python -m bench.hostile                 # the corpus and the large cases
    python -m bench.hostile --skip-large    # the corpus only
    python -m bench.hostile --skip-corpus   # the large cases only

Each file runs in its own ``importer process`` (SQLite, a fresh inbox) so that its peak resident
memory is its own. The large cases are written to a scratch folder first: a 600 MB line inside a
600 KB gzip file, a quote never closed at the top of a 200 MB CSV, 300,000 rows behind a stray
inch mark, 200,000 columns, a 1 GB NDJSON file, 2 million rows all bad, and 2 million rows of one
key. One JSON line a file, then a summary line with the largest peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run import emit, run_measured

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "files"
MB = 1 << 20


def one_long_line_gz(path: Path) -> None:
    with gzip.open(path, "wb", compresslevel=9) as sink:
        sink.write(b"sku,name\nA1,")
        for _ in range(600):
            sink.write(b"x" * MB)
        sink.write(b"\n")


def quote_never_closed(path: Path) -> None:
    with path.open("wb") as sink:
        sink.write(b'sku,name,price\nA1,"never closed,1\n')
        row = b"A2,plain,2\n" * 100_000
        while sink.tell() < 200 * MB:
            sink.write(row)


def stray_inch_mark(path: Path) -> None:
    with path.open("wb") as sink:
        sink.write(b'sku,name,price\nA0,Monitor 27" wide,1\n')
        sink.writelines(b"A%d,Item %d,%d.50\n" % (i, i, i) for i in range(1, 300_000))


def very_wide(path: Path) -> None:
    width = 200_000
    path.write_bytes(
        b"sku," + b",".join(b"c%d" % i for i in range(width)) + b"\nA1" + b",v" * width + b"\n"
    )


def big_ndjson(path: Path) -> None:
    """1 GB of distinct products (a repeated SKU would fail every row as a repeated key)."""
    with path.open("wb") as sink:
        start = 0
        while sink.tell() < 1024 * MB:
            sink.write(
                b"".join(
                    b'{"sku": "A%d", "name": "Item %d with a longer name to fill space", '
                    b'"price": %d.5}\n' % (i, i, i % 1000)
                    for i in range(start, start + 100_000)
                )
            )
            start += 100_000


def every_row_bad(path: Path) -> None:
    """2 million rows, three bad values each: a partner's export with its columns shifted."""
    with path.open("wb") as sink:
        sink.write(b"sku,name,price,msrp,qoh\n")
        sink.writelines(
            b"A%d,Item %d with a longer name,price-%d,msrp-%d,q%d\n" % (i, i, i, i, i)
            for i in range(2_000_000)
        )


def one_key(path: Path) -> None:
    """2 million rows of the same SKU: an export whose key column lost its values."""
    with path.open("wb") as sink:
        sink.write(b"sku,name,price\n")
        sink.writelines(b"A1,Item %d with a longer name,1.5\n" % i for i in range(2_000_000))


LARGE: dict[str, Callable[[Path], None]] = {
    "products_600mb_line.csv.gz": one_long_line_gz,
    "products_quote_never_closed.csv": quote_never_closed,
    "products_stray_inch_mark.csv": stray_inch_mark,
    "products_200k_columns.csv": very_wide,
    "products_1gb.ndjson": big_ndjson,
    "products_every_row_bad.csv": every_row_bad,
    "products_one_key.csv": one_key,
}


def run_file(source: Path, workdir: Path) -> dict[str, Any]:
    """One ``importer process`` of ``source`` in a fresh inbox and database."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    config = workdir / "importer.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{workdir / "bench.db"}"\n'
        f'[inbox]\nroot = "{workdir / "inbox"}"\n'
    )
    target = workdir / "drop" / source.name
    target.parent.mkdir()
    shutil.copyfile(source, target)
    command = [sys.executable, "-m", "importer", "--config", str(config)]
    wall, rss, _ = run_measured([*command, "process", str(target), "--partner", "acme"])
    reports = list((workdir / "inbox").rglob("*.report.json"))
    report = json.loads(reports[0].read_text()) if reports else {}
    return {
        "file": source.name,
        "bytes": source.stat().st_size,
        "status": report.get("status", "NO REPORT"),
        "rows": report.get("row_count"),
        "message": (report.get("message") or "")[:160],
        "wall_seconds": round(wall, 2),
        "peak_rss_mb": round(rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true", help="only the corpus")
    parser.add_argument("--skip-corpus", action="store_true", help="only the large files")
    args = parser.parse_args()
    peak = 0.0
    with tempfile.TemporaryDirectory(prefix="importer-hostile-") as scratch:
        files = [] if args.skip_corpus else sorted(CORPUS.iterdir())
        if not args.skip_large:
            for name, write in LARGE.items():
                write(Path(scratch) / name)
                files.append(Path(scratch) / name)
        for source in files:
            result = run_file(source, Path(scratch) / "run")
            peak = max(peak, result["peak_rss_mb"])
            emit(**result)
    emit(summary="hostile inputs", files=len(files), largest_peak_rss_mb=peak)


if __name__ == "__main__":
    main()
