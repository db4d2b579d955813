"""Writes the bad-input corpus beside this file: ``python tests/corpus/make_corpus.py``.

Each file is small and deterministic; ``expected.json`` says how each must end and which words its
report must contain. Files too big to keep (10 MB lines) are made by the tests themselves.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
H = b"sku,name,price\n"
GOOD = H + b"A1,One,1.00\nA2,Two,2.00\nA3,Three,3.00\n"
MANY = H + b"".join(b"B%d,Item,%d.00\n" % (i, i) for i in range(12))
WIDE = 2001  # one past limits.max_columns


def zipped(members: dict[str, bytes]) -> bytes:
    """A ZIP archive of fixed bytes (member times fixed), as a spreadsheet program writes one."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), content)
    return buffer.getvalue()


def gzipped(content: bytes) -> bytes:
    return gzip.compress(content, mtime=0)


CASES: dict[str, tuple[bytes, str, list[str]]] = {
    "products_empty.csv": (b"", "FAILED", ["empty"]),
    "products_header_only.csv": (H, "FAILED", ["no data rows"]),
    "products_no_header.csv": (
        b"A1,One,1.00\nA2,Two,2.00\n",
        "FAILED",
        ["sku", "required column is missing"],
    ),
    "products_binary.csv": (bytes(range(256)) * 8, "FAILED", ["not UTF-8"]),
    "products_nul_bytes.csv": (H + b"A1,On\x00e,1.00\n", "FAILED", ["NUL", "name"]),
    "products_invalid_utf8.csv": (H + b"A1,\xff\xfe,1.00\n", "FAILED", ["line 2", "not UTF-8"]),
    "products_cp1252_as_utf8.csv": (H + "A1,Café,1.00\n".encode("cp1252"), "FAILED", ["cp1252"]),
    "products_truncated.csv.gz": (gzipped(GOOD * 50)[:60], "FAILED", ["gzip", "cut short"]),
    "products_gzip_bomb.csv.gz": (
        gzipped(H + b"A" * (24 << 20)),
        "FAILED",
        ["max_decompressed_bytes"],
    ),
    "products_wrong_delimiter.csv": (
        b"sku:name:price\nA1:One:1.00\n",
        "FAILED",
        ["sku", "required column is missing"],
    ),
    "products_ragged_rows.csv": (H + b"A1,One,1.00,extra,more\nA2\n", "FAILED", ["more fields"]),
    "products_unclosed_quote.csv": (
        H + b'A1,"One,1.00\nA2,Two,2.00\n',
        "FAILED",
        ["line 2", "never closed"],
    ),
    "products_duplicate_headers.csv": (
        b"sku,name,sku\nA1,x,A1\n",
        "FAILED",
        ["2 headers map to column 'sku'"],
    ),
    "products_case_clashing_headers.csv": (b"SKU,sku\nA1,A2\n", "FAILED", ["'SKU'", "'sku'"]),
    "products_json_syntax.json": (b'[{"sku": "A1",}]', "FAILED", ["invalid JSON"]),
    "products_json_scalar.json": (b"42", "FAILED", ["invalid JSON"]),
    "products_json_array_of_strings.json": (
        b'["a", "b"]',
        "FAILED",
        ["record 1", "not a JSON object"],
    ),
    "products_ndjson_bad_line.ndjson": (
        b"".join(b'{"sku": "A%d", "price": %d}\n' % (i, i) for i in range(30))
        + b'{"sku": "B1", "price": \n{"sku": "B2", "price": NaN}\n{"sku": "B3"}\n',
        "COMPLETED",
        ["31", "not JSON", "32", "NaN or Infinity"],
    ),
    "products_json_infinity.json": (
        b'{"products": ['
        + b", ".join(b'{"sku": "A%d", "price": %d}' % (i, i) for i in range(12))
        + b', {"sku": "B1", "price": Infinity}]}',
        "COMPLETED",
        ["13", "NaN or Infinity"],
    ),
    "products_json_nested_object_key.json": (
        b'[{"sku": {"id": 1}, "price": 1}]',
        "FAILED",
        ["sku", "required column is missing"],
    ),
    "products_json_list_for_number.json": (
        b'[{"sku": "A1", "price": [1, 2]}]',
        "FAILED",
        ["price", "[1, 2]"],
    ),
    "products_json_two_lists.json": (
        b'{"products": [{"sku": "A1"}], "orders": [{"orderNumber": "1"}]}',
        "FAILED",
        ["several lists"],
    ),
    "products_ndjson_mixed_shapes.ndjson": (
        b'{"sku": "A1"}\n[1, 2]\n',
        "FAILED",
        ["2", "not a JSON object"],
    ),
    "products_huge_numbers.csv": (
        H + b"A1,x,1e400\nA2,x,99999999999999999999999\n",
        "FAILED",
        ["price", "not a number"],
    ),
    "products_non_finite_numbers.csv": (
        H + b"A1,x,NaN\nA2,x,inf\nA3,x,-Infinity\n",
        "FAILED",
        ["NaN", "inf"],
    ),
    "inventory_negative_quantity.csv": (
        b"sku,location_id,quantity_on_hand\nA1,WH,-5\n",
        "FAILED",
        ["quantity_on_hand", "must be at least 0"],
    ),
    "reviews_dates_out_of_range.csv": (
        b"review_id,sku,rating,submitted_at\nR1,A,5,0001-01-01\nR2,A,5,9999-12-31T00:00:00\n",
        "FAILED",
        ["submitted_at", "0001-01-01"],
    ),
    "competitor_prices_serial_dates.csv": (
        b"sku,competitor,observed_on,price\nA,B,45231,1.00\n",
        "FAILED",
        ["observed_on", "45231", "not a date"],
    ),
    "demand_history_bad_week.csv": (
        b"sku,location_id,week_starting\nA,WH,2026-02-30\n",
        "FAILED",
        ["week_starting", "2026-02-30"],
    ),
    "products_formula_values.csv": (
        MANY + b"A4,=HYPERLINK(1),=1+1\n",
        "COMPLETED",
        ["price", "'=1+1"],
    ),
    "products_bom_only.csv": (b"\xef\xbb\xbf", "FAILED", ["empty"]),
    "products_blank_lines_only.csv": (b"\n\n\r\n", "FAILED", ["empty"]),
    "products_only_separators.csv": (b",,,\n,,,\n", "FAILED", ["required column is missing"]),
    "products_long_header.csv": (b"x" * 200_000 + b"\nA\n", "FAILED", ["header"]),
    "products_duplicate_keys.csv": (
        H + b"A1,x,1\nA1,y,2\nA2,z,3\n",
        "FAILED",
        ["duplicate key", "rows 2, 3"],
    ),
    "products_value_too_long.csv": (
        H + b"A1," + b"n" * 300 + b",1\n",
        "FAILED",
        ["name", "longer than 250"],
    ),
    "products_bad_boolean.csv": (b"sku,in_stock\nA1,maybe\n", "FAILED", ["in_stock", "maybe"]),
    "inventory_too_many_decimals.csv": (
        b"sku,location_id,quantity_on_hand\nA1,WH1,1.23456\n",
        "FAILED",
        ["quantity_on_hand", "4 decimal places"],
    ),
    "products_price_not_a_number.csv": (H + b"A1,x,NaN\n", "FAILED", ["price", "not a number"]),
    "orders_bad_status.json": (
        b'[{"orderNumber": "1", "status": "Teleported"}]',
        "FAILED",
        ["status", "Teleported", "must be one of"],
    ),
    "orders_items_not_a_list.json": (
        b'[{"orderNumber": "1", "items": "nope"}]',
        "FAILED",
        ["items", "list of objects"],
    ),
    "orders_items_of_numbers.json": (
        b'[{"orderNumber": "1", "items": [1, 2]}]',
        "FAILED",
        ["items", "list of objects"],
    ),
    "orders_bad_nested_line.json": (
        b'[{"orderNumber": "1", "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": "two"}]}]',
        "FAILED",
        ["items[2].quantity", "two"],
    ),
    "customers_without_identity.json": (
        b'{"customers": [{"firstName": "Ana"}]}',
        "FAILED",
        ["customer_key", "send customer_number or email"],
    ),
    "products_inch_marks.csv": (
        H + b'A1,Monitor 27" wide,1.00\nA2,"Desk, 4\' x 2\'",2.00\nA3,Cable 6" USB-C,3.00\n',
        "COMPLETED",
        ['"inserted_count": 3'],
    ),
    "products_lone_cr.csv": (GOOD.replace(b"\n", b"\r"), "COMPLETED", ['"inserted_count": 3']),
    "products_utf16_bom.csv": (
        GOOD.decode().encode("utf-16"),
        "COMPLETED",
        ['"inserted_count": 3'],
    ),
    "products_sep_line.csv": (
        b"sep=;\r\n" + GOOD.replace(b",", b";"),
        "COMPLETED",
        ['"inserted_count": 3'],
    ),
    "products_workbook.csv": (
        zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
        "FAILED",
        ["an Excel workbook", "export the sheet as CSV"],
    ),
    "products_archive.csv": (zipped({"products.csv": GOOD}), "FAILED", ["a ZIP archive"]),
    "products_gzip_twice.csv.gz": (gzipped(gzipped(GOOD)), "FAILED", ["compressed twice"]),
    "products_error_page.csv": (
        b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n",
        "FAILED",
        ["an HTML or XML page"],
    ),
    "products_utf16_no_mark.csv": (
        GOOD.decode().encode("utf-16-le"),
        "FAILED",
        ["UTF-16", "without a byte-order mark", "utf-16-le"],
    ),
    "products_too_wide.csv": (
        b"sku," + b",".join(b"c%d" % i for i in range(WIDE - 1)) + b"\nA1\n",
        "FAILED",
        ["2001 columns", "limits.max_columns"],
    ),
    "products_unclosed_quote_late.csv": (
        MANY + b'C1,"never closed,1.00\n' + b"C2,x,1.00\n" * 20,
        "FAILED",
        ["line 14", "never closed"],
    ),
    "products_too_many_fields_late.csv": (
        MANY + b'C1,"a ""quoted"" name",1.00,extra\n',
        "FAILED",
        ["line 14", "4 fields"],
    ),
    "pricelist_unknown_feed.csv": (GOOD, "FAILED", ["matches no feed pattern", "products*"]),
    "products with spaces.csv": (GOOD, "COMPLETED", ['"inserted_count": 3']),
    "products_ünïcödé_名前.csv": (GOOD, "COMPLETED", ['"inserted_count": 3']),
    "products_$(touch pwned);`id`.csv": (GOOD, "COMPLETED", ['"inserted_count": 3']),
}


def main() -> None:
    files = HERE / "files"
    files.mkdir(exist_ok=True)
    for name, (content, _, _) in CASES.items():
        (files / name).write_bytes(content)
    expected = {
        name: {"outcome": outcome, "words": words} for name, (_, outcome, words) in CASES.items()
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
