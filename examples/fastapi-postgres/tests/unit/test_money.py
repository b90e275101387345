"""Amounts as the API accepts them and as the payment provider writes them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.payments import money

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ("12.50", "12.50"),
        ("12.5", "12.50"),
        (" 7 ", "7.00"),
        ("1.500", "1.50"),  # trailing zeros are not extra places
        (3, "3.00"),
        (Decimal("0.01"), "0.01"),
        (1.5, "1.50"),
        (0.1, "0.10"),  # a JSON number: read as written, not as the nearest binary fraction
        ("9999999999.99", "9999999999.99"),
    ],
)
def test_parse_amount_accepts_positive_amounts_of_at_most_two_places(value: object, amount: str) -> None:
    parsed = money.parse_amount(value)
    assert parsed == Decimal(amount)
    assert str(parsed) == amount  # always exactly two places


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "greater than 0"),
        ("0.00", "greater than 0"),
        ("-1.00", "greater than 0"),
        (-5, "greater than 0"),
        ("NaN", "greater than 0"),
        ("Infinity", "greater than 0"),
        (float("inf"), "greater than 0"),
        ("1.005", "at most 2 decimal places"),
        ("0.001", "at most 2 decimal places"),
        (1.005, "at most 2 decimal places"),
        ("1.0000000000000000000000000000001", "at most 2 decimal places"),
        ("10000000000.00", "at most 9999999999.99"),
        ("ten", "expected an amount"),
        ("", "expected an amount"),
        (None, "expected an amount"),
        (True, "expected an amount"),
        ([1], "expected an amount"),
    ],
)
def test_parse_amount_rejects(value: object, message: str) -> None:
    with pytest.raises(money.InvalidAmount, match=message):
        money.parse_amount(value)


def test_invalid_amount_is_a_value_error() -> None:
    # pydantic turns a ValueError raised in a validator into a 422 naming the field.
    assert issubclass(money.InvalidAmount, ValueError)


@pytest.mark.parametrize(("amount", "wire"), [("12.5", "12.50"), ("3", "3.00"), ("0.10", "0.10")])
def test_to_wire_writes_exactly_two_places(amount: str, wire: str) -> None:
    assert money.to_wire(Decimal(amount)) == wire


def test_to_wire_refuses_what_is_not_an_amount() -> None:
    with pytest.raises(money.InvalidAmount):
        money.to_wire(Decimal("-1"))


@pytest.mark.parametrize(
    ("wire", "amount"), [("12.50", "12.50"), ("0.01", "0.01"), ("9999999999.99", "9999999999.99")]
)
def test_from_wire_reads_the_providers_form(wire: str, amount: str) -> None:
    assert money.from_wire(wire) == Decimal(amount)


@pytest.mark.parametrize(
    "wire", ["12.5", "12", "12.500", " 12.50", "-1.00", "1e2", "0.00", 12.5, None, ["1.00"]]
)
def test_from_wire_rejects_anything_else(wire: object) -> None:
    with pytest.raises(money.InvalidAmount):
        money.from_wire(wire)
