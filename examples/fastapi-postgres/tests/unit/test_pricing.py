"""Pricing rules, edge by edge: tiers at thresholds, rounding at the half cent, codes at their minimums."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.orders import pricing
from app.orders.pricing import DiscountCode, DiscountKind

pytestmark = pytest.mark.unit

D = Decimal
PERCENT_10 = DiscountCode("P10", DiscountKind.PERCENT, D("10"))
FIXED_5_FROM_25 = DiscountCode("F5", DiscountKind.FIXED, D("5.00"), minimum_subtotal=D("25.00"))
FIXED_50 = DiscountCode("F50", DiscountKind.FIXED, D("50.00"))


@pytest.mark.parametrize(
    ("quantity", "rate"),
    [(1, "0"), (9, "0"), (10, "0.05"), (49, "0.05"), (50, "0.10"), (1000, "0.10")],
)
def test_tier_rate_steps_at_10_and_50_units(quantity: int, rate: str) -> None:
    assert pricing.tier_rate(quantity) == D(rate)


@pytest.mark.parametrize(
    ("unit_price", "quantity", "total"),
    [
        ("2.50", 1, "2.50"),
        ("2.50", 4, "10.00"),
        ("1.00", 10, "9.50"),  # 5% tier
        ("1.00", 50, "45.00"),  # 10% tier
        ("0.33", 10, "3.14"),  # 3.135 rounds half up
        ("0.01", 10, "0.10"),  # 0.095 rounds half up to a cent, not down to 0.09
        ("0.01", 50, "0.45"),
        ("9999.99", 1, "9999.99"),
    ],
)
def test_line_total_applies_tier_and_rounds_half_up(unit_price: str, quantity: int, total: str) -> None:
    assert pricing.line_total(D(unit_price), quantity) == D(total)


@pytest.mark.parametrize("quantity", [0, -1])
def test_line_total_refuses_non_positive_quantities(quantity: int) -> None:
    with pytest.raises(ValueError, match="quantity must be at least 1"):
        pricing.line_total(D("1.00"), quantity)


@pytest.mark.parametrize(
    ("amount", "cents"),
    [("0.005", "0.01"), ("0.004", "0.00"), ("2.675", "2.68"), ("-0.005", "-0.01"), ("1", "1.00")],
)
def test_to_cents_rounds_half_up(amount: str, cents: str) -> None:
    assert pricing.to_cents(D(amount)) == D(cents)


@pytest.mark.parametrize("text", ["WELCOME10", "welcome10", "  Welcome10 "])
def test_codes_are_found_whatever_the_case_and_spacing(text: str) -> None:
    code = pricing.find_code(text)
    assert code is not None
    assert code.code == "WELCOME10"


@pytest.mark.parametrize("text", ["", "WELCOME", "WELCOME10X", "WELCOME 10"])
def test_unknown_codes_are_none(text: str) -> None:
    assert pricing.find_code(text) is None


@pytest.mark.parametrize(
    ("code", "subtotal", "discount"),
    [
        (None, "100.00", "0.00"),
        (PERCENT_10, "100.00", "10.00"),
        (PERCENT_10, "0.05", "0.01"),  # 0.005 rounds half up
        (PERCENT_10, "0.04", "0.00"),
        (FIXED_5_FROM_25, "24.99", "0.00"),  # below the minimum
        (FIXED_5_FROM_25, "25.00", "5.00"),  # exactly the minimum
        (FIXED_50, "30.00", "30.00"),  # never more than the subtotal
        (FIXED_50, "50.00", "50.00"),
    ],
)
def test_discount_amount(code: DiscountCode | None, subtotal: str, discount: str) -> None:
    assert pricing.discount_amount(code, D(subtotal)) == D(discount)


@pytest.mark.parametrize(
    ("kind", "value"),
    [(DiscountKind.PERCENT, "0"), (DiscountKind.PERCENT, "100.01"), (DiscountKind.FIXED, "-1")],
)
def test_discount_codes_out_of_range_are_refused(kind: DiscountKind, value: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        DiscountCode("BAD", kind, D(value))


def test_a_100_percent_code_is_allowed() -> None:
    assert pricing.discount_amount(DiscountCode("ALL", DiscountKind.PERCENT, D("100")), D("9.99")) == D(
        "9.99"
    )


@pytest.mark.parametrize(
    ("goods", "shipping"),
    [("0.00", "4.95"), ("49.99", "4.95"), ("50.00", "0.00"), ("50.01", "0.00")],
)
def test_shipping_is_flat_below_fifty_and_free_from_fifty(goods: str, shipping: str) -> None:
    assert pricing.shipping_cost(D(goods)) == D(shipping)


def test_quote_sums_lines_then_discounts_then_ships() -> None:
    quote = pricing.quote([(D("20.00"), 2), (D("1.00"), 10)], PERCENT_10)
    assert quote == pricing.Quote(
        line_totals=(D("40.00"), D("9.50")),
        subtotal=D("49.50"),
        discount=D("4.95"),
        shipping=D("4.95"),
        total=D("49.50"),
    )


def test_shipping_is_judged_after_the_discount() -> None:
    # 52.00 of goods ship free, but after 10% off the customer pays 46.80 for them: shipping applies.
    quote = pricing.quote([(D("52.00"), 1)], PERCENT_10)
    assert (quote.discount, quote.shipping, quote.total) == (D("5.20"), D("4.95"), D("51.75"))


def test_total_is_never_negative_when_the_discount_exceeds_the_goods() -> None:
    quote = pricing.quote([(D("3.00"), 1)], FIXED_50)
    assert (quote.discount, quote.total) == (D("3.00"), D("4.95"))


def test_quote_needs_a_line() -> None:
    with pytest.raises(ValueError, match="at least one line"):
        pricing.quote([])


def test_every_published_code_is_valid_and_keyed_by_its_name() -> None:
    assert all(name == code.code == name.upper() for name, code in pricing.DISCOUNT_CODES.items())
