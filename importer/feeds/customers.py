"""Customers (Listrak Customer, with its nested address flattened)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field

from importer.feeds.base import FeedRow
from importer.feeds.spec import FeedSpec


class Customer(FeedRow, table=True):
    __tablename__ = "customers"

    email: str = Field(primary_key=True, max_length=100, description="stored lower-case")
    customer_number: str | None = Field(default=None, max_length=20)
    first_name: str | None = Field(default=None, max_length=50)
    last_name: str | None = Field(default=None, max_length=50)
    birthday: date | None = Field(default=None)
    gender: str | None = Field(default=None, max_length=50)
    home_phone: str | None = Field(default=None, max_length=50)
    mobile_phone: str | None = Field(default=None, max_length=50)
    work_phone: str | None = Field(default=None, max_length=50)
    zip_code: str | None = Field(default=None, max_length=20)
    address_address1: str | None = Field(default=None, max_length=100)
    address_address2: str | None = Field(default=None, max_length=100)
    address_city: str | None = Field(default=None, max_length=100)
    address_state: str | None = Field(default=None, max_length=100)
    address_country: str | None = Field(default=None, max_length=100)
    preferred_store_number: str | None = Field(default=None, max_length=100)
    registered: bool | None = Field(default=None)


CUSTOMERS = FeedSpec(
    name="customers",
    model=Customer,
    description="Customers keyed by e-mail address; a nested address object is flattened.",
    patterns=("customers*",),
    envelopes=("customers",),
    aliases={"email_address": "email", "zip": "zip_code", "postal_code": "zip_code"},
    lowercase=("email",),
    tracked=("registered", "preferred_store_number", "zip_code"),
    examples={"email": "ana@example.com", "first_name": "Ana", "birthday": "1990-04-01"},
)
