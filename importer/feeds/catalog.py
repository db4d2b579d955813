"""Products: the catalog (Luca products, inventory-import catalog, Listrak Product)."""

from __future__ import annotations

from sqlmodel import Field

from importer.feed_names import FEED_PATTERNS
from importer.feeds.base import FeedRow, number_field, store_key
from importer.feeds.documented import MetaColumns
from importer.feeds.spec import FeedSpec


class Product(MetaColumns, FeedRow, table=True):
    __tablename__ = "products"

    sku: str = Field(primary_key=True, max_length=100, description="unique stock number")
    name: str | None = Field(default=None, max_length=250, description="defaults to sku")
    description: str | None = Field(default=None, max_length=4000)
    brand: str | None = Field(default=None, max_length=50)
    category: str | None = Field(default=None, max_length=50)
    color: str | None = Field(default=None, max_length=100)
    gender: str | None = Field(default=None, max_length=50)
    master_sku: str | None = Field(default=None, max_length=100)
    store_id: str = store_key("store for multi-store pricing")
    price: float | None = number_field(ge=0, description="list price")
    msrp: float | None = number_field(ge=0, description="retail price")
    qoh: int | None = Field(default=None, description="quantity on hand")
    in_stock: bool | None = Field(default=None)
    on_sale: bool | None = Field(default=None)
    discontinued: bool | None = Field(default=None)
    is_clearance: bool | None = Field(default=None)
    is_outlet: bool | None = Field(default=None)
    is_purchasable: bool | None = Field(default=None)
    is_viewable: bool | None = Field(default=None)
    image_url: str | None = Field(default=None, max_length=500)
    link_url: str | None = Field(default=None, max_length=500)


PRODUCTS = FeedSpec(
    name="products",
    model=Product,
    description="Product catalog; one row per SKU (per store where prices differ by store), "
    "updated in place.",
    patterns=FEED_PATTERNS["products"],
    envelopes=("products", "catalog"),
    aliases={"external_id": "sku", "product_id": "sku", "list_price": "price"},
    copy_defaults={"name": ("sku",)},
    tracked=("name", "price", "msrp", "qoh", "in_stock", "on_sale", "discontinued"),
    examples={"sku": "SKU-1001", "name": "Trail Runner 2", "price": "89.95", "in_stock": "true"},
)
