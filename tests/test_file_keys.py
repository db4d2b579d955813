import polars as pl

from importer.feeds import FEEDS
from importer.file_keys import FileKeys, key_digests

PRODUCTS = FEEDS["rating_summaries"]
"""keyed by partner and SKU alone"""


def batch(rows: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"_row": [r for r, _ in rows], "partner_id": "acme", "sku": [s for _, s in rows]},
        schema={"_row": pl.Int64, "partner_id": pl.String, "sku": pl.String},
    )


def test_repeated_keys_are_found_across_batches_and_forgotten_when_dropped() -> None:
    keys = FileKeys(PRODUCTS)
    keys.add(batch([(2, "A1"), (3, "A2")]))
    keys.add(batch([(4, "A3"), (5, "A1")]))
    keys.add(batch([(6, "A1"), (7, "B")]))
    assert sorted(keys.repeated_rows().to_list()) == [2, 5, 6]
    keys.drop(pl.Series([2, 5]))
    assert keys.repeated_rows().to_list() == []
    assert len(keys.sorted_digests()) == 4


def test_digests_are_sorted_and_match_keys_typed_alike() -> None:
    keys = FileKeys(PRODUCTS)
    keys.add(batch([(2, "Z9"), (3, "A1"), (4, "M5")]))
    digests = keys.sorted_digests()
    assert digests.is_sorted()
    assert keys.schema == pl.Schema({"partner_id": pl.String, "sku": pl.String})
    again = key_digests(batch([(9, "M5")]), PRODUCTS.key)
    assert again.is_in(digests.implode()).all()
