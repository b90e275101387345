"""Money amounts: what the API accepts, and the provider's wire form.

The provider sends and receives amounts as strings with exactly two decimals ("12.50"): never floats,
which cannot hold 0.10 exactly. Everything here is pure.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CURRENCY = "EUR"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # what Numeric(12, 2) holds
_WIRE = re.compile(r"\d{1,10}\.\d{2}")


class InvalidAmount(ValueError):
    pass


def parse_amount(value: object) -> Decimal:
    """A positive amount of at most 2 decimal places, as a Decimal with exactly 2; else InvalidAmount.

    Accepts a Decimal, an int, a string ("12.50") or a JSON number (a float: read by its shortest
    repr, so 0.1 is 0.1 and not the binary fraction nearest to it). Places are counted by value (1.500
    is 1.50), and Decimal comparison is exact, so nothing is rounded away silently.
    """
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise InvalidAmount(f"expected an amount such as 12.50, got {value!r}")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise InvalidAmount(f"expected an amount such as 12.50, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidAmount(f"the amount must be greater than 0, got {value}")
    if amount > MAX_AMOUNT:
        raise InvalidAmount(f"the amount must be at most {MAX_AMOUNT}, got {value}")
    if amount != amount.quantize(CENT):
        raise InvalidAmount(f"the amount must have at most 2 decimal places, got {value}")
    return amount.quantize(CENT)


def to_wire(amount: Decimal) -> str:
    """The provider's form of a valid amount: "12.50"."""
    return f"{parse_amount(amount):f}"


def from_wire(text: object) -> Decimal:
    """An amount the provider sent; InvalidAmount unless it is in the provider's exact form."""
    if not isinstance(text, str) or _WIRE.fullmatch(text) is None:
        raise InvalidAmount(f"expected an amount such as 12.50, got {text!r}")
    return parse_amount(text)
