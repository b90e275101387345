"""The payment provider's HTTP API, behind a small client that speaks in domain terms.

Every failure becomes one of three exceptions, chosen by what the caller can do about it:
CardDeclined (tell the customer), ProviderUnavailable (nothing happened that we know of: retry with the
same idempotency key, which the provider dedupes) and ProviderError (an answer we do not understand).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

import httpx
from fastapi import Depends

from app.errors import UpstreamError
from app.payments import money
from app.settings import Settings, get_settings


class ProviderError(UpstreamError):
    """The provider answered something we cannot use."""


class ProviderUnavailable(ProviderError):
    """No usable answer in time: a 5xx, a timeout or no connection."""


class CardDeclined(ProviderError):
    """A 402: the provider refused the card."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Charge:
    id: str
    amount: Decimal


@dataclass(frozen=True)
class Refund:
    id: str
    amount: Decimal


class PaymentProvider:
    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    def close(self) -> None:
        self._client.close()

    def charge(self, amount: Decimal, currency: str, source: str, idempotency_key: str) -> Charge:
        body = self._post(
            "/v1/charges",
            {"amount": money.to_wire(amount), "currency": currency, "source": source},
            idempotency_key,
        )
        return Charge(id=_text(body, "id"), amount=_amount(body))

    def refund(self, charge_id: str, amount: Decimal, idempotency_key: str) -> Refund:
        body = self._post(
            "/v1/refunds", {"charge": charge_id, "amount": money.to_wire(amount)}, idempotency_key
        )
        return Refund(id=_text(body, "id"), amount=_amount(body))

    def _post(self, path: str, payload: Mapping[str, str], idempotency_key: str) -> Mapping[str, Any]:
        try:
            response = self._client.post(path, json=payload, headers={"Idempotency-Key": idempotency_key})
        except httpx.TransportError as error:  # timeouts, refused connections, broken responses
            raise ProviderUnavailable(f"payment provider unreachable ({type(error).__name__})") from error
        if response.status_code >= 500:
            raise ProviderUnavailable(f"payment provider unavailable (HTTP {response.status_code})")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderError(f"payment provider sent an unreadable answer (HTTP {response.status_code})")
        if response.status_code == 402:
            raise CardDeclined(_text(body, "decline_reason"))
        if response.status_code not in (200, 201):
            raise ProviderError(f"payment provider refused the request (HTTP {response.status_code})")
        return body


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ProviderError(f"payment provider answer has no {key}")
    return value


def _amount(body: Mapping[str, Any]) -> Decimal:
    try:
        return money.from_wire(body.get("amount"))
    except money.InvalidAmount:
        raise ProviderError("payment provider answer has no valid amount") from None


@lru_cache(maxsize=4)
def _shared(settings: Settings) -> PaymentProvider:
    return PaymentProvider(
        settings.payment_provider_url, settings.payment_provider_key, settings.payment_provider_timeout
    )


def get_provider(settings: Annotated[Settings, Depends(get_settings)]) -> PaymentProvider:
    """A FastAPI dependency: the provider client for these settings, shared by all requests.

    Shared because an httpx client keeps connections to the provider open for the next request, and
    building one (its TLS context) costs tens of milliseconds. It is thread-safe.
    """
    return _shared(settings)
