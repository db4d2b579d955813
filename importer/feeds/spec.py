"""What a feed is: its table, its natural key, its file names, and the columns derived from it.

Validation rules are not written twice: each :class:`ColumnRule` is read off the SQLModel field
(type, required, max length, bounds, decimal places), so the table and the checks cannot drift.
"""

from __future__ import annotations

import enum
import inspect
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen
from pydantic.fields import FieldInfo
from sqlmodel import SQLModel

from importer.feeds.base import BOOKKEEPING_COLUMNS, EXTRA_COLUMN, PARTNER_COLUMN


class Kind(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    NUMBER = "number"
    """a double, as the documents type it: any scale"""
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


_KINDS: dict[type, Kind] = {
    str: Kind.STRING,
    int: Kind.INTEGER,
    Decimal: Kind.DECIMAL,
    float: Kind.NUMBER,
    bool: Kind.BOOLEAN,
    date: Kind.DATE,
    datetime: Kind.DATETIME,
}


@dataclass(frozen=True)
class ColumnRule:
    """One file column as validation sees it."""

    name: str
    kind: Kind
    required: bool
    default: Any = None
    max_length: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    exclusive_minimum: bool = False
    max_digits: int | None = None
    decimal_places: int | None = None
    choices: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ChildSpec:
    """A list nested in each record (``orders[].items``) that loads into another feed's table."""

    feed: str
    list_fields: tuple[str, ...]
    inherited: Mapping[str, str]
    """child column <- parent column, copied down from the parent record"""


@dataclass(frozen=True, eq=False)
class FeedSpec:
    """One feed. Compared and hashed by identity: there is one of each, and what is worked out
    from one (its validation expressions) is kept per spec."""

    name: str
    model: type[SQLModel]
    description: str
    patterns: tuple[str, ...]
    tracked: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    copy_defaults: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """column <- the first of these columns with a value, when its own is missing (name <- sku;
    a customer's key <- customer_number, else email)"""
    choices: Mapping[str, type[enum.StrEnum]] = field(default_factory=dict)
    locations: tuple[str, ...] = ()
    """columns stored as ``{partner}-{location}``"""
    weeks: tuple[str, ...] = ()
    """date columns bucketed to the Monday of their week"""
    positions: Mapping[str, str] = field(default_factory=dict)
    """column <- the row's place among the file's rows of the same parent column, where the
    row does not carry it (a nested line: its place in the list)"""
    lowercase: tuple[str, ...] = ()
    uppercase: tuple[str, ...] = ()
    """free text matched without case (no documented list): stored upper-case"""
    date_formats: tuple[str, ...] = ()
    """formats accepted besides ISO-8601, before any configured ones"""
    children: tuple[ChildSpec, ...] = ()
    objects: tuple[str, ...] = ()
    """nested objects whose fields arrive flattened (``billing_address`` for
    ``billingAddress.firstName``), as the partner guide spells them"""
    envelopes: tuple[str, ...] = ()
    """keys of a JSON object wrapping the records: ``{"products": [...]}``"""
    examples: Mapping[str, str] = field(default_factory=dict)

    @property
    def table_name(self) -> str:
        return str(self.model.__tablename__)

    @cached_property
    def key(self) -> tuple[str, ...]:
        """The natural key: the table's primary key, always starting with ``partner_id``."""
        return tuple(column.name for column in self.model.__table__.primary_key.columns)  # type: ignore[attr-defined]

    @cached_property
    def columns(self) -> tuple[ColumnRule, ...]:
        """The columns a file may carry (bookkeeping columns excluded): the model's own first,
        then the groups it shares (addresses, meta)."""
        own = set(inspect.get_annotations(self.model))
        names = sorted(self.model.model_fields, key=lambda name: name not in own)
        return tuple(
            self._rule(name, self.model.model_fields[name])
            for name in names
            if name not in BOOKKEEPING_COLUMNS and name not in (PARTNER_COLUMN, EXTRA_COLUMN)
        )

    @cached_property
    def data_columns(self) -> tuple[str, ...]:
        """Every column loaded from a file, ``partner_id`` first and ``extra`` last."""
        return (PARTNER_COLUMN, *(column.name for column in self.columns), EXTRA_COLUMN)

    def column(self, name: str) -> ColumnRule:
        return next(rule for rule in self.columns if rule.name == name)

    def _rule(self, name: str, info: FieldInfo) -> ColumnRule:
        kind = _kind_of(info.annotation)
        rule: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "required": info.is_required(),
            "default": None if info.is_required() else info.default,
            "description": info.description or "",
        }
        for meta in info.metadata:
            if isinstance(meta, MaxLen):
                rule["max_length"] = meta.max_length
            elif isinstance(meta, Ge):
                rule["minimum"] = Decimal(str(meta.ge))
            elif isinstance(meta, Gt):
                rule["minimum"], rule["exclusive_minimum"] = Decimal(str(meta.gt)), True
            elif isinstance(meta, Le):
                rule["maximum"] = Decimal(str(meta.le))
            elif isinstance(meta, Lt):
                raise TypeError(f"{self.name}.{name}: use le= instead of lt=")
            elif hasattr(meta, "max_digits"):
                rule["max_digits"] = getattr(meta, "max_digits", None)
                rule["decimal_places"] = getattr(meta, "decimal_places", None)
        if name in self.choices:
            rule["choices"] = tuple(member.value for member in self.choices[name])
        return ColumnRule(**rule)


def _kind_of(annotation: Any) -> Kind:
    """``Decimal | None`` -> DECIMAL."""
    if get_origin(annotation) in (Union, types.UnionType):
        (annotation,) = (arg for arg in get_args(annotation) if arg is not type(None))
    try:
        return _KINDS[annotation]
    except KeyError as exc:
        raise TypeError(f"no validation rule for field type {annotation!r}") from exc
