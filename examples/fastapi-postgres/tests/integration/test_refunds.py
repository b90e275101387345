"""Refunding payments through the HTTP API: full and partial refunds, limits, idempotency."""

from __future__ import annotations

import httpx
import pytest

from tests.api import paid_order, pay, pending_order, refund
from tests.fake_provider import FakeProvider

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def status_of(client: httpx.AsyncClient, order_id: int) -> str:
    return (await client.get(f"/orders/{order_id}")).json()["status"]


async def test_refund_without_amount_refunds_everything_and_marks_the_order_refunded(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order, payment = await paid_order(client, price="20.00")
    response = await refund(client, payment["id"], key="r-1")
    assert response.status_code == 201
    assert response.json()["amount"] == "24.95"
    assert await status_of(client, order["id"]) == "refunded"
    [sent] = fake_provider.requests_to("/v1/refunds")
    assert (sent.idempotency_key, sent.body["amount"]) == ("r-1", "24.95")


async def test_partial_refund_marks_the_order_partially_refunded(client: httpx.AsyncClient) -> None:
    order, payment = await paid_order(client)
    response = await refund(client, payment["id"], key="r-1", amount="5.00")
    assert response.status_code == 201
    assert await status_of(client, order["id"]) == "partially_refunded"
    refunded = (await client.get(f"/payments/{payment['id']}")).json()
    assert (refunded["refunded"], [item["amount"] for item in refunded["refunds"]]) == ("5.00", ["5.00"])


async def test_partial_refunds_that_add_up_mark_the_order_refunded(client: httpx.AsyncClient) -> None:
    order, payment = await paid_order(client, price="20.00")
    await refund(client, payment["id"], key="r-1", amount="20.00")
    last = await refund(client, payment["id"], key="r-2")
    assert last.json()["amount"] == "4.95"
    assert await status_of(client, order["id"]) == "refunded"


async def test_refund_amount_may_be_a_json_number(client: httpx.AsyncClient) -> None:
    _, payment = await paid_order(client)
    response = await client.post(
        f"/payments/{payment['id']}/refunds", json={"amount": 1.5}, headers={"Idempotency-Key": "r-1"}
    )
    assert (response.status_code, response.json()["amount"]) == (201, "1.50")


async def test_refund_of_more_than_remains_is_409_and_calls_no_provider(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order, payment = await paid_order(client, price="20.00")
    await refund(client, payment["id"], key="r-1", amount="20.00")
    response = await refund(client, payment["id"], key="r-2", amount="5.00")
    assert response.status_code == 409
    assert response.json() == {"detail": f"cannot refund 5.00: only 4.95 of payment {payment['id']} remains"}
    assert len(fake_provider.requests_to("/v1/refunds")) == 1
    assert await status_of(client, order["id"]) == "partially_refunded"


async def test_refund_of_a_fully_refunded_payment_is_409(client: httpx.AsyncClient) -> None:
    _, payment = await paid_order(client)
    await refund(client, payment["id"], key="r-1")
    response = await refund(client, payment["id"], key="r-2")
    assert response.status_code == 409
    assert response.json() == {"detail": f"payment {payment['id']} is already fully refunded"}


async def test_refund_of_a_declined_payment_is_409(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    await pay(client, order["id"], key="k-1", source="tok_declined")
    [declined] = (await client.get(f"/orders/{order['id']}/payments")).json()
    response = await refund(client, declined["id"], key="r-1")
    assert response.status_code == 409
    assert response.json() == {"detail": f"payment {declined['id']} was declined; there is nothing to refund"}
    assert fake_provider.requests_to("/v1/refunds") == []


async def test_refund_of_an_unknown_payment_is_404(client: httpx.AsyncClient) -> None:
    response = await refund(client, 999999, key="r-1")
    assert response.status_code == 404
    assert response.json() == {"detail": "payment 999999 not found"}


async def test_replaying_a_refund_key_returns_the_same_refund_without_calling_the_provider(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    _, payment = await paid_order(client)
    first = await refund(client, payment["id"], key="r-1", amount="2.00")
    again = await refund(client, payment["id"], key="r-1", amount="2.00")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(fake_provider.requests_to("/v1/refunds")) == 1
    assert (await client.get(f"/payments/{payment['id']}")).json()["refunded"] == "2.00"


async def test_refund_key_used_for_another_payment_is_409(client: httpx.AsyncClient) -> None:
    _, first = await paid_order(client)
    _, second = await paid_order(client)
    await refund(client, first["id"], key="r-1", amount="1.00")
    response = await refund(client, second["id"], key="r-1", amount="1.00")
    assert response.status_code == 409
    assert f"a refund of payment {first['id']}" in response.json()["detail"]
    assert (await client.get(f"/payments/{second['id']}")).json()["refunded"] == "0.00"


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00", "1.005", "ten", ""])
async def test_invalid_refund_amount_is_422(client: httpx.AsyncClient, amount: str) -> None:
    _, payment = await paid_order(client)
    response = await refund(client, payment["id"], key="r-1", amount=amount)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "amount"]


async def test_refund_without_idempotency_key_is_422(client: httpx.AsyncClient) -> None:
    _, payment = await paid_order(client)
    response = await client.post(f"/payments/{payment['id']}/refunds", json={})
    assert response.status_code == 422


async def test_provider_failure_during_a_refund_is_502_and_records_nothing(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order, payment = await paid_order(client)
    fake_provider.answer_next(500, {"error": "internal"})
    response = await refund(client, payment["id"], key="r-1")
    assert response.status_code == 502
    assert (await client.get(f"/payments/{payment['id']}")).json()["refunds"] == []
    assert await status_of(client, order["id"]) == "paid"
