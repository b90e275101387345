"""Paying for orders through the HTTP API, with the payment provider faked at the network boundary.

Each test pins one behaviour of app/payments, which must stay fully covered: a test that goes missing
leaves its branch uncovered, and the coverage gate names it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI

from app.payments.provider import PaymentProvider, get_provider
from app.settings import Settings, get_settings
from tests.api import create_product, paid_order, pay, pending_order, place_order
from tests.fake_provider import API_KEY, FakeProvider

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

UseProvider = Callable[..., None]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound, so nothing else takes it, but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def use_provider(app: FastAPI) -> Iterator[UseProvider]:
    """Make the app use a provider client of the test's own (another address, key or timeout)."""
    made: list[PaymentProvider] = []

    def use(base_url: str, api_key: str = API_KEY, timeout: float = 5.0) -> None:
        made.append(PaymentProvider(base_url, api_key, timeout))
        app.dependency_overrides[get_provider] = lambda: made[-1]

    yield use
    for provider in made:
        provider.close()


async def payments_of(client: httpx.AsyncClient, order_id: int) -> list[dict[str, object]]:
    return (await client.get(f"/orders/{order_id}/payments")).json()


async def status_of(client: httpx.AsyncClient, order_id: int) -> str:
    return (await client.get(f"/orders/{order_id}")).json()["status"]


async def test_payment_charges_the_order_total_and_marks_it_paid(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client, price="20.00")
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 201
    payment = response.json()
    assert (payment["status"], payment["amount"], payment["currency"]) == ("succeeded", order["total"], "EUR")
    assert await status_of(client, order["id"]) == "paid"
    [charge] = fake_provider.requests_to("/v1/charges")
    assert (charge.idempotency_key, charge.body) == (
        "k-1",
        {"amount": "24.95", "currency": "EUR", "source": "tok_visa"},
    )


async def test_discounted_total_is_what_gets_charged(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    product = await create_product(client, price="30.00")
    order = await place_order(client, (product["id"], 1), discount_code="WELCOME10")
    await pay(client, order["id"], key="k-1")
    assert fake_provider.requests_to("/v1/charges")[0].body["amount"] == "31.95"


async def test_payment_can_be_read_back(client: httpx.AsyncClient) -> None:
    _, payment = await paid_order(client)
    response = await client.get(f"/payments/{payment['id']}")
    assert response.status_code == 200
    assert response.json() == payment


async def test_unknown_payment_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/payments/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "payment 999999 not found"}


async def test_payments_of_an_order_are_listed_oldest_first(client: httpx.AsyncClient) -> None:
    order = await pending_order(client)
    await pay(client, order["id"], key="first", source="tok_declined")
    await pay(client, order["id"], key="second")
    assert [payment["status"] for payment in await payments_of(client, order["id"])] == [
        "declined",
        "succeeded",
    ]


async def test_payments_of_an_unknown_order_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/999999/payments")
    assert response.status_code == 404
    assert response.json() == {"detail": "order 999999 not found"}


async def test_paying_an_unknown_order_is_404_and_charges_nothing(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    response = await pay(client, 999999, key="k-1")
    assert response.status_code == 404
    assert fake_provider.requests == []


async def test_missing_idempotency_key_is_422_and_charges_nothing(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    response = await client.post(f"/orders/{order['id']}/payments", json={"source": "tok_visa"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert fake_provider.requests == []


async def test_missing_source_is_422(client: httpx.AsyncClient) -> None:
    order = await pending_order(client)
    response = await client.post(f"/orders/{order['id']}/payments", json={}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422


async def test_replaying_a_key_returns_the_same_payment_without_charging_again(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    first = await pay(client, order["id"], key="k-1")
    again = await pay(client, order["id"], key="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(fake_provider.requests_to("/v1/charges")) == 1


async def test_same_key_for_another_order_is_409(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    paid, _ = await paid_order(client)
    other = await pending_order(client)
    response = await pay(client, other["id"], key=f"pay-{paid['id']}")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"this Idempotency-Key was already used for a payment of order {paid['id']}; "
        "use a new key for a new request"
    }
    assert await status_of(client, other["id"]) == "pending"
    assert len(fake_provider.requests_to("/v1/charges")) == 1


async def test_paying_a_paid_order_again_with_a_new_key_is_409(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order, _ = await paid_order(client)
    response = await pay(client, order["id"], key="another-key")
    assert response.status_code == 409
    assert response.json() == {"detail": f"order {order['id']} is paid; only pending orders can be paid"}
    assert len(fake_provider.requests_to("/v1/charges")) == 1


async def test_paying_a_cancelled_order_is_409(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    await client.post(f"/orders/{order['id']}/cancel")
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 409
    assert "is cancelled" in response.json()["detail"]
    assert fake_provider.requests == []


async def test_declined_card_is_402_and_recorded_while_the_order_stays_pending(
    client: httpx.AsyncClient,
) -> None:
    order = await pending_order(client)
    response = await pay(client, order["id"], key="k-1", source="tok_declined")
    assert response.status_code == 402
    [payment] = await payments_of(client, order["id"])
    assert response.json() == {"detail": f"payment {payment['id']} was declined: insufficient_funds"}
    assert (payment["status"], payment["decline_reason"]) == ("declined", "insufficient_funds")
    assert await status_of(client, order["id"]) == "pending"


async def test_replaying_a_declined_key_returns_the_same_decline_without_calling_the_provider(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    first = await pay(client, order["id"], key="k-1", source="tok_declined")
    again = await pay(client, order["id"], key="k-1", source="tok_declined")
    assert (again.status_code, again.json()) == (402, first.json())
    assert len(fake_provider.requests) == 1
    assert len(await payments_of(client, order["id"])) == 1


async def test_provider_5xx_is_502_and_records_nothing(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    fake_provider.answer_next(503, {"error": "maintenance"})
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 502
    assert response.json() == {"detail": "payment provider unavailable (HTTP 503)"}
    assert await payments_of(client, order["id"]) == []
    assert await status_of(client, order["id"]) == "pending"


async def test_retry_with_the_same_key_after_a_provider_failure_charges(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    fake_provider.answer_next(503, {"error": "maintenance"})
    assert (await pay(client, order["id"], key="k-1")).status_code == 502
    retry = await pay(client, order["id"], key="k-1")
    assert retry.status_code == 201
    assert [request.idempotency_key for request in fake_provider.requests_to("/v1/charges")] == ["k-1", "k-1"]


async def test_provider_timeout_is_502_and_records_nothing(
    use_provider: UseProvider, client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    use_provider(fake_provider.url, timeout=0.2)
    order = await pending_order(client)
    fake_provider.hold_next()
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 502
    assert response.json() == {"detail": "payment provider unreachable (ReadTimeout)"}
    assert await payments_of(client, order["id"]) == []


async def test_unreachable_provider_is_502(
    use_provider: UseProvider, client: httpx.AsyncClient, closed_port: int
) -> None:
    use_provider(f"http://127.0.0.1:{closed_port}")
    order = await pending_order(client)
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 502
    assert response.json() == {"detail": "payment provider unreachable (ConnectError)"}
    assert await payments_of(client, order["id"]) == []


async def test_provider_answer_that_is_not_json_is_502(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    fake_provider.answer_next(200, b"<html>Service Temporarily Moved</html>")
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 502
    assert response.json() == {"detail": "payment provider sent an unreadable answer (HTTP 200)"}


async def test_provider_refusing_our_api_key_is_502(
    use_provider: UseProvider, client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    use_provider(fake_provider.url, api_key="sk_test_revoked")
    order = await pending_order(client)
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 502
    assert response.json() == {"detail": "payment provider refused the request (HTTP 401)"}
    assert await status_of(client, order["id"]) == "pending"


async def test_provider_answer_without_a_charge_id_is_502(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    fake_provider.answer_next(201, {"amount": "24.95"})
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 502
    assert response.json() == {"detail": "payment provider answer has no id"}


async def test_provider_answer_with_a_malformed_amount_is_502(
    client: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    order = await pending_order(client)
    fake_provider.answer_next(201, {"id": "ch_1", "amount": 24.95})
    response = await pay(client, order["id"], key="k-1")
    assert response.status_code == 502
    assert response.json() == {"detail": "payment provider answer has no valid amount"}


async def test_default_provider_is_built_from_settings(
    app: FastAPI, client: httpx.AsyncClient, provider_settings: Settings, fake_provider: FakeProvider
) -> None:
    del app.dependency_overrides[get_provider]  # the app's own dependency, configured by settings
    app.dependency_overrides[get_settings] = lambda: provider_settings
    order = await pending_order(client)
    assert (await pay(client, order["id"], key="k-1")).status_code == 201
    assert len(fake_provider.requests_to("/v1/charges")) == 1
