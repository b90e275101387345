from decimal import Decimal

import pytest

from shop.pricing import apply_discount, total


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        ("10.00", 0, "10.00"),
        ("10.00", 15, "8.50"),
        ("0.05", 50, "0.02"),  # half-even: 0.025 -> 0.02
        ("0.15", 50, "0.08"),  # half-even: 0.075 -> 0.08
        ("9.99", 100, "0.00"),
    ],
)
def test_apply_discount(amount: str, percent: int, expected: str) -> None:
    assert apply_discount(Decimal(amount), percent) == Decimal(expected)


@pytest.mark.parametrize("percent", [-1, 101])
def test_discount_out_of_range(percent: int) -> None:
    with pytest.raises(ValueError, match="0-100"):
        apply_discount(Decimal("1"), percent)


def test_total_of_nothing_is_zero() -> None:
    assert total([]) == Decimal("0.00")


def test_total_with_discount() -> None:
    assert total([Decimal("3.00"), Decimal("7.00")], 10) == Decimal("9.00")
