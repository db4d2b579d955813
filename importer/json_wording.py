"""Python's JSON errors in words a partner can act on, with where the error is.

The decoder says what it expected next (``Expecting value``); a partner needs what is wrong in
the file, and its usual cause (a trailing comma, single quotes, an unescaped tab).
"""

from __future__ import annotations

import json

PLAIN_WORDS = {
    "Expecting value": (
        "a value is missing or is not JSON (a trailing comma, an unquoted word, single quotes?)"
    ),
    "Expecting property name enclosed in double quotes": (
        "a field name must be in double quotes (a trailing comma, or single quotes?)"
    ),
    "Expecting ':' delimiter": "a ':' is missing after a field name",
    "Expecting ',' delimiter": "a ',' is missing between two values",
    "Unterminated string starting at": 'a string is never closed (a missing ")',
    "Invalid control character at": ("a tab or line break inside a string: write it as \\t or \\n"),
    "Invalid \\escape": "a backslash that starts no JSON escape: write it as \\\\",
    "Invalid \\uXXXX escape": "a \\u escape without four hexadecimal digits",
    "Extra data": "more text after the JSON ended (several documents? send NDJSON, one a line)",
}


def worded(error: json.JSONDecodeError) -> str:
    """What is wrong, as :data:`PLAIN_WORDS` says it (Python's own words for any other)."""
    for python, plain in PLAIN_WORDS.items():
        if error.msg.startswith(python):
            return plain
    return error.msg
