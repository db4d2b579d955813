"""The problem log: every problem of a file kept and given back in row order, few in memory."""

import csv
import io
import json
import tempfile
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from importer import problem_log
from importer.lifecycle import Pipeline
from importer.problem_log import ProblemLog
from importer.problems import PROBLEM_SCHEMA
from importer.report import neutralize_formulas
from tests.conftest import SettingsFactory, drop_file


def _problems(rows: list[int], column: str = "price", error: str = "not a number") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row": rows,
            "column": column,
            "value": [f"={r}" for r in rows],
            "error": error,
        },
        schema=PROBLEM_SCHEMA,
    )


BATCHES = [_problems([3, 2, 3]), _problems([10, 8]), _problems([11, 14, 12]), _problems([20])]
"""each batch's rows after the one before it, in the order its columns' checks found them"""
REPEATED = _problems([9, 1, 21, 13], column="sku", error="duplicate key")
WHOLE = pl.concat([*BATCHES, REPEATED]).sort("row", maintain_order=True)
"""what the file's problems are: every one, by row, a row's own in the order they were found"""


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("held", [2, 1000])
def test_problems_come_back_by_row_whether_written_out_or_held(scratch: Path, held: int) -> None:
    log = ProblemLog(held_problems=held)
    for batch in BATCHES:
        log.add(batch)
    log.add_repeated_keys(REPEATED)
    spilled = list(scratch.glob("importer-*/problems-*.arrow"))
    assert bool(spilled) == (held < WHOLE.height)
    assert pl.concat(list(log.in_row_order())).equals(WHOLE)
    assert log.first(4).equals(WHOLE.head(4))
    assert log.first(100).equals(WHOLE)
    assert (log.count, log.failed_rows) == (WHOLE.height, WHOLE.get_column("row").n_unique())
    written = io.BytesIO()
    log.write_csv(written, [neutralize_formulas("value")])
    expected = WHOLE.with_columns(neutralize_formulas("value")).write_csv(quote_style="non_numeric")
    assert written.getvalue().decode() == expected
    log.close()
    assert not list(scratch.glob("importer-*/*"))


def test_a_file_of_bad_rows_is_reported_in_full_from_what_was_written_out(
    make_settings: SettingsFactory,
    engine: Engine,
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches of 4 rows, 5 problems held: every bad price and every repeat of one key, by row."""
    monkeypatch.setattr(problem_log, "HELD_PROBLEMS", 5)
    pipeline = Pipeline(make_settings(database={"batch_rows": 4}), engine)
    pipeline.inbox.ensure()
    skus = ["DUP" if n % 9 == 0 else f"A{n}" for n in range(40)]
    prices = ["2.5" if n % 3 == 0 else "x" for n in range(40)]
    lines = [
        f"{sku},Item {n},{price}" for n, (sku, price) in enumerate(zip(skus, prices, strict=True))
    ]
    path = drop_file(pipeline, "acme", "products.csv", "sku,name,price\n" + "\n".join(lines))
    outcome = pipeline.process(path, "acme")
    assert outcome is not None
    with Path(f"{outcome.path}.errors.csv").open(newline="") as handle:
        listed = [(int(r["row"]), r["column"]) for r in csv.DictReader(handle)]
    expected = sorted(
        [(n + 2, "price") for n in range(40) if n % 3]
        + [(n + 2, "sku+store_id") for n in range(40) if n % 9 == 0]
    )
    assert listed == expected
    report = json.loads(outcome.report_path.read_text())
    assert (report["failed_count"], report["error_count"]) == (len(expected), len(expected))
    assert [(e["row"], e["column"]) for e in report["errors"]] == expected[: len(report["errors"])]
    assert not list(scratch.glob("importer-*"))
