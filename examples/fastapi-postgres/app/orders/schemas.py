from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.orders.models import OrderStatus

# Deliberately loose (one @, a dot in the domain): the only real check of an address is mail reaching it.
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Annotated[int, Field(ge=1)]
    quantity: Annotated[int, Field(ge=1, le=10_000)]


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_email: Email
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=100)]
    discount_code: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None
    ) = None

    @field_validator("lines")
    @classmethod
    def _one_line_per_product(cls, lines: list[OrderLineIn]) -> list[OrderLineIn]:
        # Two lines for one product would price each below its quantity tier: ask for one line instead.
        counts = Counter(line.product_id for line in lines)
        repeated = sorted(product_id for product_id, count in counts.items() if count > 1)
        if repeated:
            raise ValueError(f"each product may appear on one line only; repeated: {repeated}")
        return lines


class OrderLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: int
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_email: str
    status: OrderStatus
    lines: list[OrderLineOut]
    discount_code: str | None
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    total: Decimal
