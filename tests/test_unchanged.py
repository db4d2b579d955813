import polars as pl

from importer.feeds import FEEDS
from importer.unchanged import (
    UNCHANGED,
    KnownRows,
    hash_seed,
    is_in_sorted,
    text_hash,
    validate_changed,
)
from importer.validation import ValidationContext

PRODUCTS = FEEDS["products"]
CONTEXT = ValidationContext("acme")
SEED = hash_seed(PRODUCTS, ValidationContext("acme"))


def records(rows: list[tuple[int, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"_row": [r[0] for r in rows], "sku": [r[1] for r in rows], "price": [r[2] for r in rows]},
        schema={"_row": pl.Int64, "sku": pl.String, "price": pl.String},
    )


def known_from(frame: pl.DataFrame) -> KnownRows:
    return KnownRows(text_hash(frame, PRODUCTS, SEED).sort(), SEED)


def test_rows_sent_as_before_are_not_validated_again_only_their_key() -> None:
    before = records([(2, "A1", "1.00"), (3, "A2", "not a price")])
    again = records([(2, "A1", "1.00"), (3, "A2", "not a price"), (4, "A3", "2.50")])
    checked = validate_changed(again, PRODUCTS, CONTEXT, known_from(before))
    rows = checked.rows.sort("_row")
    assert rows.get_column(UNCHANGED).to_list() == [True, True, False]
    assert rows.get_column("sku").to_list() == ["A1", "A2", "A3"]
    assert rows.get_column("price").to_list()[:2] == [None, None]
    assert checked.problems.is_empty()


def test_changed_text_is_validated_even_when_the_value_is_the_same() -> None:
    before = records([(2, "A1", "1.00")])
    checked = validate_changed(
        records([(2, "A1", "1.0"), (3, "A2", "x")]), PRODUCTS, CONTEXT, known_from(before)
    )
    assert checked.rows.get_column(UNCHANGED).to_list() == [False]
    assert checked.rows.get_column("price").to_list() == [1.0]
    assert checked.problems.get_column("row").to_list() == [3]


def test_column_order_and_missing_columns_do_not_change_the_hash() -> None:
    frame = records([(2, "A1", "1.00")])
    reordered = frame.select("price", "_row", "sku").with_columns(
        pl.lit(None, pl.String).alias("brand")
    )
    assert text_hash(frame, PRODUCTS, SEED).equals(text_hash(reordered, PRODUCTS, SEED))


def test_the_hash_of_a_record_is_the_one_its_stored_rows_carry() -> None:
    """The live rows keep the hashes written by earlier loads: a hash computed otherwise, for
    the same text, would count every row of every partner's next file as changed."""
    frame = pl.DataFrame(
        {
            "sku": ["S1", "S2"],
            "name": ["Item 1", None],
            "price": ["1.50", "2"],
            "extra": [None, '{"Gift": "x"}'],
        }
    )
    assert text_hash(frame, PRODUCTS, 7).to_list() == [-1914616232526035514, 463565083565311341]


def test_the_seed_follows_partner_date_formats_and_time_zone() -> None:
    seeds = {
        hash_seed(PRODUCTS, ValidationContext("acme")),
        hash_seed(PRODUCTS, ValidationContext("globex")),
        hash_seed(PRODUCTS, ValidationContext("acme", ("%d/%m/%Y",))),
        hash_seed(FEEDS["inventory"], ValidationContext("acme")),
        hash_seed(PRODUCTS, ValidationContext("acme", timezone="America/New_York")),
    }
    assert len(seeds) == 5
    assert hash_seed(PRODUCTS, ValidationContext("acme")) == SEED


def test_is_in_sorted() -> None:
    known = pl.Series([-5, 1, 9, 12], dtype=pl.Int64)
    values = pl.Series([12, 0, -5, 13, 9], dtype=pl.Int64)
    assert is_in_sorted(values, known).to_list() == [True, False, True, False, True]
    assert is_in_sorted(values, known.clear()).to_list() == [False] * 5
