"""Small helpers that set up state through the public API, as a client would.

Tests arrange through the API rather than by inserting rows, so they depend only on the HTTP contract and
keep working when the tables change.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

_skus = itertools.count(1)


async def create_product(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"sku": f"SKU-{next(_skus)}", "name": "Widget", "price": "10.00", "stock": 100, **fields}
    response = await client.post("/products", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def place_order(
    client: httpx.AsyncClient, *lines: tuple[int, int], discount_code: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_email": "ada@example.com",
        "lines": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in lines],
    }
    if discount_code is not None:
        body["discount_code"] = discount_code
    response = await client.post("/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def pending_order(client: httpx.AsyncClient, price: str = "20.00", quantity: int = 1) -> dict[str, Any]:
    """A pending order for one product; its total is price x quantity plus shipping below 50.00."""
    product = await create_product(client, price=price)
    return await place_order(client, (product["id"], quantity))


async def pay(client: httpx.AsyncClient, order_id: int, key: str, source: str = "tok_visa") -> httpx.Response:
    return await client.post(
        f"/orders/{order_id}/payments", json={"source": source}, headers={"Idempotency-Key": key}
    )


async def refund(
    client: httpx.AsyncClient, payment_id: int, key: str, amount: str | None = None
) -> httpx.Response:
    body = {} if amount is None else {"amount": amount}
    return await client.post(f"/payments/{payment_id}/refunds", json=body, headers={"Idempotency-Key": key})


async def paid_order(
    client: httpx.AsyncClient, price: str = "20.00"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(order, payment) of an order paid in full."""
    order = await pending_order(client, price)
    response = await pay(client, order["id"], key=f"pay-{order['id']}")
    assert response.status_code == 201, response.text
    return order, response.json()
