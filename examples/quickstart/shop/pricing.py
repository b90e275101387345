"""Money maths. Critical: every line and branch is covered, or CI fails."""

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


def apply_discount(amount: Decimal, percent: int) -> Decimal:
    if not 0 <= percent <= 100:
        raise ValueError(f"discount must be 0-100, got {percent}")
    discounted = amount * (100 - percent) / 100
    return discounted.quantize(CENT, rounding=ROUND_HALF_EVEN)


def total(prices: list[Decimal], percent: int = 0) -> Decimal:
    subtotal = sum(prices, Decimal("0"))
    if subtotal == 0:
        return Decimal("0.00")
    return apply_discount(subtotal, percent)
