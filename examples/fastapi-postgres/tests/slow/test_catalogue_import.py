"""Slow on purpose: a realistic catalogue through the import endpoint, and the app in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROWS = 20_000
PROJECT = Path(__file__).resolve().parents[2]


def catalogue(price_of: dict[int, Decimal] | None = None) -> str:
    lines = ["sku,name,price,stock"]
    for n in range(ROWS):
        price = (price_of or {}).get(n, Decimal(n % 500 + 1) / 4)
        lines.append(f'CAT-{n:05d},"Item {n}, boxed",{price},{n % 97}')
    return "\n".join(lines) + "\n"


@pytest.mark.anyio
async def test_big_catalogue_imports_then_reimports_as_updates(client: httpx.AsyncClient) -> None:
    csv = {"content-type": "text/csv"}
    first = await client.post("/products/import", content=catalogue(), headers=csv)
    assert first.json() == {"created": ROWS, "updated": 0}
    repriced = {0: Decimal("999.99"), ROWS - 1: Decimal("0.01")}
    second = await client.post("/products/import", content=catalogue(repriced), headers=csv)
    assert second.json() == {"created": 0, "updated": ROWS}

    page = (await client.get("/products", params={"limit": 1, "offset": ROWS - 1})).json()
    assert page["total"] == ROWS
    assert (page["items"][0]["sku"], page["items"][0]["price"]) == (f"CAT-{ROWS - 1:05d}", "0.01")
    first_page = (await client.get("/products", params={"limit": 3})).json()["items"]
    assert [(p["sku"], p["name"], p["price"], p["stock"]) for p in first_page] == [
        ("CAT-00000", "Item 0, boxed", "999.99", 0),
        ("CAT-00001", "Item 1, boxed", "0.50", 1),
        ("CAT-00002", "Item 2, boxed", "0.75", 2),
    ]


def test_app_imports_and_describes_itself_without_a_database() -> None:
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    script = "import json; from app.main import app; print(json.dumps(app.openapi()))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    paths = json.loads(result.stdout)["paths"]
    assert set(paths) == {
        "/products",
        "/products/import",
        "/products/{product_id}",
        "/orders",
        "/orders/{order_id}",
        "/orders/{order_id}/cancel",
        "/orders/{order_id}/payments",
        "/payments/{payment_id}",
        "/payments/{payment_id}/refunds",
    }
    assert "text/csv" in paths["/products/import"]["post"]["requestBody"]["content"]
