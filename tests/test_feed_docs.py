"""The partner guide's list of every field is what the code accepts."""

from __future__ import annotations

import re
from pathlib import Path

from importer.config import Settings
from importer.feed_docs import documented_name, feeds_markdown
from importer.feeds import FEEDS
from importer.names import snake_case

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- feeds:begin[^>]*-->\n(.*)<!-- feeds:end -->", re.DOTALL)


def test_the_readme_lists_every_field_as_the_code_reads_it() -> None:
    match = BLOCK.search(README.read_text())
    assert match is not None, "README.md lost its generated feeds section"
    assert match.group(1) == feeds_markdown(Settings.model_validate({}), level=3), (
        "regenerate the README's feeds section: python -c 'from importer.config import Settings; "
        "from importer.feed_docs import feeds_markdown; "
        'print(feeds_markdown(Settings.model_validate({}), 3), end="")\''
    )


def test_every_documented_spelling_lands_in_its_column() -> None:
    for spec in FEEDS.values():
        for rule in spec.columns:
            flattened = documented_name(spec, rule.name).replace(".", "_")
            assert snake_case(flattened) == rule.name, (spec.name, rule.name)
