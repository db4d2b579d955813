"""Customers (Listrak Customer, with its nested address flattened)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field

from importer.feed_names import FEED_PATTERNS
from importer.feeds.base import FeedRow
from importer.feeds.spec import FeedSpec


class Customer(FeedRow, table=True):
    __tablename__ = "customers"

    customer_key: str = Field(
        primary_key=True,
        max_length=100,
        description="who the customer is: customer_number when sent, else the e-mail address",
    )
    email: str | None = Field(default=None, max_length=100, description="required without a number")
    customer_number: str | None = Field(
        default=None, max_length=20, description="the CRM identity, where the account has one"
    )
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
    address_address3: str | None = Field(default=None, max_length=100)
    address_city: str | None = Field(default=None, max_length=100)
    address_state: str | None = Field(default=None, max_length=100)
    address_country: str | None = Field(default=None, max_length=100)
    preferred_store_number: str | None = Field(default=None, max_length=100)
    registered: bool | None = Field(default=None)
    meta1: str | None = Field(default=None, max_length=250, description="additional information")
    meta2: str | None = Field(default=None, max_length=250)
    meta3: str | None = Field(default=None, max_length=250)
    meta4: str | None = Field(default=None, max_length=250)
    meta5: str | None = Field(default=None, max_length=250)


CUSTOMERS = FeedSpec(
    name="customers",
    model=Customer,
    description="Customers keyed by customer number, else by e-mail address; a nested address "
    "object is flattened.",
    patterns=FEED_PATTERNS["customers"],
    envelopes=("customers",),
    aliases={"email_address": "email", "zip": "zip_code", "postal_code": "zip_code"},
    lowercase=("email",),
    objects=("address",),
    copy_defaults={"customer_key": ("customer_number", "email")},
    tracked=("registered", "preferred_store_number", "zip_code"),
    examples={"email": "ana@example.com", "first_name": "Ana", "birthday": "1990-04-01"},
)
