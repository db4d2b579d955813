"""Column groups the Listrak documents repeat across records: order addresses and meta fields.

A nested object arrives flattened (``billingAddress.firstName`` -> ``billing_address_first_name``),
so each group is the object's fields under its name. Where a document gives no maximum length,
the bound is a generous 250 characters.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

UNDOCUMENTED_LENGTH = 250


class MetaColumns(SQLModel):
    """Listrak's ``meta1``..``meta5`` of orders, order items and products."""

    meta1: str | None = Field(default=None, max_length=500, description="additional information")
    meta2: str | None = Field(default=None, max_length=500)
    meta3: str | None = Field(default=None, max_length=500)
    meta4: str | None = Field(default=None, max_length=500)
    meta5: str | None = Field(default=None, max_length=500)


class BillingAddressColumns(SQLModel):
    """Listrak Order ``billingAddress``."""

    billing_address_first_name: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    billing_address_last_name: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    billing_address_phone: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    billing_address_mobile_phone: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    billing_address_address1: str | None = Field(default=None, max_length=100)
    billing_address_address2: str | None = Field(default=None, max_length=100)
    billing_address_address3: str | None = Field(default=None, max_length=100)
    billing_address_city: str | None = Field(default=None, max_length=100)
    billing_address_state: str | None = Field(default=None, max_length=100)
    billing_address_zip_code: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    billing_address_country: str | None = Field(default=None, max_length=100)


class ShippingAddressColumns(SQLModel):
    """Listrak Order ``shippingAddress``."""

    shipping_address_first_name: str | None = Field(default=None, max_length=50)
    shipping_address_last_name: str | None = Field(default=None, max_length=50)
    shipping_address_phone: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    shipping_address_address1: str | None = Field(default=None, max_length=100)
    shipping_address_address2: str | None = Field(default=None, max_length=100)
    shipping_address_address3: str | None = Field(default=None, max_length=100)
    shipping_address_city: str | None = Field(default=None, max_length=100)
    shipping_address_state: str | None = Field(default=None, max_length=100)
    shipping_address_zip_code: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    shipping_address_country: str | None = Field(default=None, max_length=100)
