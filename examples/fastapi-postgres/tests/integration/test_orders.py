"""Orders through the HTTP API: pricing as stored, stock reservation, validation, cancellation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api import create_product, paid_order, place_order

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def order_body(*lines: tuple[int, int], **extra: Any) -> dict[str, Any]:
    return {
        "customer_email": "ada@example.com",
        "lines": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in lines],
        **extra,
    }


async def stock_of(client: httpx.AsyncClient, product_id: int) -> int:
    return (await client.get(f"/products/{product_id}")).json()["stock"]


async def test_order_is_created_pending_with_priced_lines(client: httpx.AsyncClient) -> None:
    pen = await create_product(client, price="2.50")
    pad = await create_product(client, price="4.00")
    response = await client.post("/orders", json=order_body((pen["id"], 2), (pad["id"], 1)))
    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "pending"
    assert [(line["product_id"], line["quantity"], line["line_total"]) for line in order["lines"]] == [
        (pen["id"], 2, "5.00"),
        (pad["id"], 1, "4.00"),
    ]
    assert (order["subtotal"], order["discount"], order["shipping"], order["total"]) == (
        "9.00",
        "0.00",
        "4.95",
        "13.95",
    )


async def test_order_can_be_read_back(client: httpx.AsyncClient) -> None:
    product = await create_product(client)
    order = await place_order(client, (product["id"], 1))
    assert (await client.get(f"/orders/{order['id']}")).json() == order


async def test_order_reserves_stock(client: httpx.AsyncClient) -> None:
    product = await create_product(client, stock=10)
    await place_order(client, (product["id"], 3))
    assert await stock_of(client, product["id"]) == 7


async def test_order_of_exactly_the_stock_left_is_accepted(client: httpx.AsyncClient) -> None:
    product = await create_product(client, stock=2)
    await place_order(client, (product["id"], 2))
    assert await stock_of(client, product["id"]) == 0


async def test_quantity_tier_lowers_the_line_total(client: httpx.AsyncClient) -> None:
    product = await create_product(client, price="1.00", stock=100)
    order = await place_order(client, (product["id"], 10))
    assert order["lines"][0]["line_total"] == "9.50"


async def test_shipping_is_free_from_fifty(client: httpx.AsyncClient) -> None:
    product = await create_product(client, price="50.00")
    order = await place_order(client, (product["id"], 1))
    assert (order["shipping"], order["total"]) == ("0.00", "50.00")


async def test_discount_code_is_applied_and_stored_normalised(client: httpx.AsyncClient) -> None:
    product = await create_product(client, price="30.00")
    order = await place_order(client, (product["id"], 1), discount_code=" welcome10 ")
    assert (order["discount_code"], order["discount"], order["total"]) == ("WELCOME10", "3.00", "31.95")


async def test_order_price_does_not_follow_later_price_changes(client: httpx.AsyncClient) -> None:
    product = await create_product(client, price="10.00")
    order = await place_order(client, (product["id"], 1))
    await client.patch(f"/products/{product['id']}", json={"price": "99.00"})
    assert (await client.get(f"/orders/{order['id']}")).json()["lines"][0]["unit_price"] == "10.00"


async def test_unknown_discount_code_is_422_and_reserves_nothing(client: httpx.AsyncClient) -> None:
    product = await create_product(client, stock=5)
    response = await client.post("/orders", json=order_body((product["id"], 1), discount_code="NOPE"))
    assert response.status_code == 422
    assert response.json() == {"detail": "unknown discount code NOPE"}
    assert await stock_of(client, product["id"]) == 5


async def test_unknown_product_is_404_naming_it(client: httpx.AsyncClient) -> None:
    product = await create_product(client, stock=5)
    response = await client.post("/orders", json=order_body((product["id"], 1), (999999, 1)))
    assert response.status_code == 404
    assert response.json() == {"detail": "product 999999 not found"}
    assert await stock_of(client, product["id"]) == 5


async def test_several_unknown_products_are_all_named(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders", json=order_body((999998, 1), (999999, 1)))
    assert response.json() == {"detail": "products 999998, 999999 not found"}


async def test_insufficient_stock_is_409_and_reserves_nothing(client: httpx.AsyncClient) -> None:
    plenty = await create_product(client, stock=50)
    scarce = await create_product(client, stock=1)
    response = await client.post("/orders", json=order_body((plenty["id"], 5), (scarce["id"], 2)))
    assert response.status_code == 409
    assert response.json() == {"detail": f"insufficient stock: product {scarce['id']} has 1, 2 requested"}
    assert (await stock_of(client, plenty["id"]), await stock_of(client, scarce["id"])) == (50, 1)


async def test_duplicate_product_in_lines_is_422(client: httpx.AsyncClient) -> None:
    product = await create_product(client)
    response = await client.post("/orders", json=order_body((product["id"], 1), (product["id"], 2)))
    assert response.status_code == 422
    assert "repeated" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(order_body(), id="no-lines"),
        pytest.param(order_body((1, 0)), id="zero-quantity"),
        pytest.param(order_body((1, -2)), id="negative-quantity"),
        pytest.param({**order_body((1, 1)), "customer_email": "not-an-email"}, id="bad-email"),
        pytest.param({"lines": [{"product_id": 1, "quantity": 1}]}, id="no-email"),
        pytest.param(order_body((1, 1), discount_code=""), id="empty-code"),
    ],
)
async def test_invalid_order_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert (await client.post("/orders", json=body)).status_code == 422


async def test_unknown_order_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "order 999999 not found"}


async def test_cancel_restocks_and_marks_cancelled(client: httpx.AsyncClient) -> None:
    product = await create_product(client, stock=10)
    order = await place_order(client, (product["id"], 4))
    response = await client.post(f"/orders/{order['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (await client.get(f"/orders/{order['id']}")).json()["status"] == "cancelled"
    assert await stock_of(client, product["id"]) == 10


async def test_cancelling_twice_is_409_and_restocks_once(client: httpx.AsyncClient) -> None:
    product = await create_product(client, stock=10)
    order = await place_order(client, (product["id"], 4))
    await client.post(f"/orders/{order['id']}/cancel")
    response = await client.post(f"/orders/{order['id']}/cancel")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"order {order['id']} is cancelled; only pending orders can be cancelled"
    }
    assert await stock_of(client, product["id"]) == 10


async def test_paid_order_cannot_be_cancelled(client: httpx.AsyncClient) -> None:
    order, _ = await paid_order(client)
    response = await client.post(f"/orders/{order['id']}/cancel")
    assert response.status_code == 409
    assert (await client.get(f"/orders/{order['id']}")).json()["status"] == "paid"


async def test_cancel_unknown_order_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.post("/orders/999999/cancel")).status_code == 404
