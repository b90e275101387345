"""Order pricing: pure Decimal arithmetic, no I/O, so every rule is unit-tested on its edge cases.

Order of operations: each line is priced with its quantity tier and rounded to cents; the subtotal is
the sum of the lines; a discount code applies to the subtotal; shipping depends on what the customer
pays for the goods (subtotal minus discount). Amounts round half up to the cent, as a till does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Quantity tiers, largest first: the first whose threshold the quantity reaches applies.
QUANTITY_TIERS: tuple[tuple[int, Decimal], ...] = ((50, Decimal("0.10")), (10, Decimal("0.05")))
FLAT_SHIPPING = Decimal("4.95")
FREE_SHIPPING_FROM = Decimal("50.00")  # goods worth this much or more ship free


class DiscountKind(Enum):
    PERCENT = "percent"
    FIXED = "fixed"


@dataclass(frozen=True)
class DiscountCode:
    code: str
    kind: DiscountKind
    value: Decimal  # percent off (10 = 10%), or an amount off
    minimum_subtotal: Decimal = ZERO  # below this subtotal the code gives nothing

    def __post_init__(self) -> None:
        if not self.value > 0 or (self.kind is DiscountKind.PERCENT and self.value > 100):
            raise ValueError(f"discount code {self.code}: value {self.value} is out of range")


DISCOUNT_CODES: dict[str, DiscountCode] = {
    code.code: code
    for code in (
        DiscountCode("WELCOME10", DiscountKind.PERCENT, Decimal("10")),
        DiscountCode("BIG20", DiscountKind.PERCENT, Decimal("20"), minimum_subtotal=Decimal("200.00")),
        DiscountCode("FIVEOFF", DiscountKind.FIXED, Decimal("5.00"), minimum_subtotal=Decimal("25.00")),
        DiscountCode("GIFT50", DiscountKind.FIXED, Decimal("50.00")),
    )
}


@dataclass(frozen=True)
class Quote:
    line_totals: tuple[Decimal, ...]
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    total: Decimal


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def tier_rate(quantity: int) -> Decimal:
    """The fraction taken off a line for buying `quantity` units of one product."""
    for threshold, rate in QUANTITY_TIERS:
        if quantity >= threshold:
            return rate
    return Decimal(0)


def line_total(unit_price: Decimal, quantity: int) -> Decimal:
    if quantity < 1:
        raise ValueError(f"quantity must be at least 1, got {quantity}")
    return to_cents(unit_price * quantity * (1 - tier_rate(quantity)))


def find_code(code: str) -> DiscountCode | None:
    """The discount code, matched without regard to case or surrounding spaces; None if unknown."""
    return DISCOUNT_CODES.get(code.strip().upper())


def discount_amount(code: DiscountCode | None, subtotal: Decimal) -> Decimal:
    """What `code` takes off `subtotal`: never more than the subtotal, never negative."""
    if code is None or subtotal < code.minimum_subtotal:
        return ZERO
    if code.kind is DiscountKind.PERCENT:
        return to_cents(subtotal * code.value / 100)
    return min(code.value, subtotal)  # a gift card larger than the basket does not pay the customer


def shipping_cost(goods: Decimal) -> Decimal:
    return ZERO if goods >= FREE_SHIPPING_FROM else FLAT_SHIPPING


def quote(lines: Sequence[tuple[Decimal, int]], code: DiscountCode | None = None) -> Quote:
    """Price an order of (unit price, quantity) lines."""
    if not lines:
        raise ValueError("an order needs at least one line")
    totals = tuple(line_total(price, quantity) for price, quantity in lines)
    subtotal = sum(totals, ZERO)
    discount = discount_amount(code, subtotal)
    goods = subtotal - discount
    shipping = shipping_cost(goods)
    return Quote(totals, subtotal, discount, shipping, goods + shipping)
