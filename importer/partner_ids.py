"""The one rule for a partner id, which names folders, ledger rows and every feed row's owner."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from importer.exceptions import UnroutableFileError

PARTNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def is_partner_id(name: str) -> bool:
    """Only a safe alphabet, and never ``..``: a partner id becomes a path under the inbox."""
    return bool(PARTNER_ID.match(name)) and ".." not in name


def check_partner_id(partner_id: str) -> str:
    if not is_partner_id(partner_id):
        raise UnroutableFileError(
            f"partner id {partner_id!r} is not allowed: use letters, digits, '.', '_' or '-'"
        )
    return partner_id


def _valid_in_config(partner_id: str) -> str:
    try:
        return check_partner_id(partner_id)
    except UnroutableFileError as exc:
        raise ValueError(str(exc)) from exc


PartnerId = Annotated[str, AfterValidator(_valid_in_config)]
"""a partner id in the configuration, refused at start with the same words"""
