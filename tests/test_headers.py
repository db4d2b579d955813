import pytest

from importer.exceptions import HeaderError
from importer.feeds import FEEDS
from importer.headers import resolve_headers
from importer.names import snake_case


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("externalId", "external_id"),
        ("  SKU ", "sku"),
        ("\ufeffsku", "sku"),
        ("Unit Price", "unit_price"),
        ("InvoiceNo", "invoice_no"),
        ("rewardsID", "rewards_id"),
        ("HTTPStatus", "http_status"),
        ("address1", "address1"),
    ],
)
def test_snake_case(raw: str, expected: str) -> None:
    assert snake_case(raw) == expected


def test_aliases_from_config_win_and_unknown_columns_are_listed() -> None:
    headers = resolve_headers(
        ["StockCode", "Description", "UnitPrice", "Country"],
        FEEDS["products"],
        {"StockCode": "sku", "description": "name", "unit_price": "price"},
    )
    assert headers.fields == {0: "sku", 1: "name", 2: "price"}
    assert headers.unknown == ["Country"]


def test_builtin_alias_maps_external_id() -> None:
    assert resolve_headers(["externalId"], FEEDS["products"], {}).fields == {0: "sku"}


def test_missing_required_column_names_it() -> None:
    with pytest.raises(HeaderError) as caught:
        resolve_headers(["sku", "quantity_on_hand"], FEEDS["inventory"], {})
    assert "location_id" in str(caught.value)
    assert [(p.row, p.column) for p in caught.value.problems] == [(1, "location_id")]


def test_duplicate_headers_after_normalization_fail() -> None:
    with pytest.raises(HeaderError, match="2 headers map to column 'sku'"):
        resolve_headers(["SKU", "sku", "price"], FEEDS["products"], {})


def test_alias_onto_an_existing_column_is_a_duplicate() -> None:
    with pytest.raises(HeaderError, match="'sku'"):
        resolve_headers(["sku", "externalId"], FEEDS["products"], {})
