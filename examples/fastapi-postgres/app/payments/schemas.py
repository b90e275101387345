from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from app.payments import money
from app.payments.models import PaymentStatus

# money.parse_amount is the one definition of a valid amount: the schema only delegates to it.
Amount = Annotated[Decimal, BeforeValidator(money.parse_amount)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A token from the provider's card form (e.g. tok_visa), never a card number.
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount | None = None  # None: whatever of the payment has not been refunded yet


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    payment_id: int
    amount: Decimal


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    status: PaymentStatus
    amount: Decimal
    currency: str
    decline_reason: str | None
    refunded: Decimal
    refunds: list[RefundOut]
