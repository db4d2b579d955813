"""JSON errors worded for the partner who sent the file, with where they are."""

import json

import pytest

from importer.json_wording import worded
from importer.lifecycle import Pipeline
from tests.conftest import process
from tests.test_pipeline import errors_of, report_of


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"sku": "A1",}', "a field name must be in double quotes"),
        ("{'sku': 'A1'}", "a field name must be in double quotes"),
        ('{"sku": A1}', "a value is missing or is not JSON"),
        ('{"sku" "A1"}', "a ':' is missing after a field name"),
        ('{"sku": "A1" "name": "x"}', "a ',' is missing between two values"),
        ('{"sku": "A1', "a string is never closed"),
        ('{"sku": "A\t1"}', "a tab or line break inside a string"),
        ('{"sku": "A\\q"}', "a backslash that starts no JSON escape"),
        ('{"sku": "\\u12"}', "a \\u escape without four hexadecimal digits"),
        ('{"sku": "A1"} {"sku": "A2"}', "more text after the JSON ended"),
    ],
)
def test_each_decoder_error_is_worded_as_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(text)
    assert worded(caught.value).startswith(words)


def test_a_bad_ndjson_line_and_a_bad_array_say_what_is_wrong_and_where(pipeline: Pipeline) -> None:
    lines = [f'{{"sku": "A{n}", "name": "Item", "price": 1}}' for n in range(30)]
    lines.insert(10, "{'sku': 'B1', 'price': 1}")
    loaded = process(pipeline, "acme", "products.ndjson", "\n".join(lines) + "\n")
    assert [(e["row"], e["error"]) for e in errors_of(loaded.path)] == [
        (
            "11",
            "not JSON: a field name must be in double quotes (a trailing comma, or single "
            "quotes?) (column 2)",
        )
    ]
    refused = process(pipeline, "acme", "products-2.json", '[{"sku": "A1", "price": 1,}]')
    assert report_of(refused.path)["message"] == (
        "invalid JSON: a field name must be in double quotes (a trailing comma, or single "
        "quotes?) (line 1, column 27)"
    )
