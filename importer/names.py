"""How a partner's field name is read: trimmed, camelCase and spaces to snake_case."""

from __future__ import annotations

import re

_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^0-9A-Za-z]+")


def snake_case(header: str) -> str:
    """``"  externalId"`` -> ``external_id``; ``"Unit Price"`` -> ``unit_price``."""
    text = header.replace("\ufeff", "").strip()
    text = _ACRONYM_BOUNDARY.sub(r"\1_\2", text)
    text = _CAMEL_BOUNDARY.sub(r"\1_\2", text)
    return _NON_WORD.sub("_", text).strip("_").lower()


def camel_case(column: str) -> str:
    """``billing_address_first_name`` -> ``billingAddressFirstName``: the documents' spelling."""
    head, *rest = column.split("_")
    return head + "".join(part.capitalize() for part in rest)
