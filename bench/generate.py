"""Deterministic feeds for the benchmark: a base catalog, a re-drop with 5 % changed prices and
1 % new SKUs, the re-drop's rows in another order, and orders with nested lines.

    python -m bench.generate --rows 1000000 --out bench/data
    python -m bench.generate --rows 1000000 --out bench/data-shuffled --shuffled
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import polars as pl

CHANGED_SHARE = 0.05
NEW_SHARE = 0.01


def catalog(rows: int, seed: int) -> pl.DataFrame:
    """12 columns; names and descriptions carry commas and quotes, as real catalogs do."""
    rng = random.Random(seed)
    index = pl.int_range(0, rows, eager=True)
    brands = ["Stride", "Northline", "Woolly", 'Acme "Pro"', "Trail, Co."]
    return pl.DataFrame(
        {
            "sku": index.map_elements(lambda i: f"SKU-{i:08d}", return_dtype=pl.String),
            "name": index.map_elements(
                lambda i: f"Trail Runner {i % 97}, size {i % 13}", return_dtype=pl.String
            ),
            "description": index.map_elements(
                lambda i: f'Lightweight "model {i % 31}", {i % 7} mm drop, recycled mesh',
                return_dtype=pl.String,
            ),
            "brand": [brands[i % len(brands)] for i in range(rows)],
            "category": [f"Category {i % 20}" for i in range(rows)],
            "color": [("red", "blue", "black", "green")[i % 4] for i in range(rows)],
            "price": [f"{rng.randint(500, 99_999) / 100:.2f}" for _ in range(rows)],
            "msrp": [f"{rng.randint(500, 129_999) / 100:.2f}" for _ in range(rows)],
            "qoh": [str(rng.randint(0, 500)) for _ in range(rows)],
            "in_stock": [("true", "false")[i % 5 == 0] for i in range(rows)],
            "on_sale": [("false", "true")[i % 9 == 0] for i in range(rows)],
            "image_url": index.map_elements(
                lambda i: f"https://img.example.com/p/{i}.jpg", return_dtype=pl.String
            ),
        }
    )


def redrop(base: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The next day's catalog: 5 % of prices changed and 1 % new SKUs."""
    rng = random.Random(seed + 1)
    rows = base.height
    changed = set(rng.sample(range(rows), int(rows * CHANGED_SHARE)))
    prices = [
        f"{float(p) + 1:.2f}" if i in changed else p
        for i, p in enumerate(base.get_column("price").to_list())
    ]
    new = catalog(int(rows * NEW_SHARE), seed + 2).with_columns(
        pl.format("NEW-{}", pl.col("sku")).alias("sku")
    )
    return pl.concat([base.with_columns(pl.Series("price", prices)), new])


def orders(count: int, seed: int, bump: bool = False) -> list[dict[str, object]]:
    rng = random.Random(seed)
    result: list[dict[str, object]] = []
    for number in range(count):
        lines = [
            {
                "sku": f"SKU-{rng.randrange(1_000_000):08d}-{line}",
                "quantity": rng.randint(1, 5),
                "price": round(
                    rng.randint(500, 9_999) / 100 + (1 if bump and number % 20 == 0 else 0), 2
                ),
            }
            for line in range(rng.randint(1, 4))
        ]
        result.append(
            {
                "orderNumber": f"SO-{number:08d}",
                "dateEntered": "2026-11-02T14:05:00Z",
                "status": "Shipped" if bump and number % 20 == 0 else "Pending",
                "orderTotal": round(
                    sum(float(str(ln["price"])) * int(str(ln["quantity"])) for ln in lines), 2
                ),
                "items": lines,
            }
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/data"))
    parser.add_argument(
        "--shuffled",
        action="store_true",
        help="catalog rows in random SKU order (an export sorted by something else): every "
        "key index, the ceilings' included, then takes random inserts",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    base = catalog(args.rows, args.seed)
    if args.shuffled:
        base = base.sample(fraction=1.0, shuffle=True, seed=args.seed + 3)
    base.write_csv(args.out / "products_v1.csv")
    changed = redrop(base, args.seed)
    if args.shuffled:
        changed = changed.sample(fraction=1.0, shuffle=True, seed=args.seed + 4)
    changed.write_csv(args.out / "products_v2.csv")
    changed.sample(fraction=1.0, shuffle=True, seed=args.seed).write_csv(
        args.out / "products_v2_reordered.csv"
    )
    for version, bump in (("v1", False), ("v2", True)):
        (args.out / f"orders_{version}.json").write_text(
            json.dumps({"orders": orders(args.orders, args.seed, bump)})
        )
    print(f"wrote {args.out}: {args.rows} products, {args.orders} orders")


if __name__ == "__main__":
    main()
