from decimal import Decimal

import pytest

from shop.cart import Cart


def test_add_accumulates_quantity() -> None:
    cart = Cart()
    cart.add("apple", Decimal("0.50"), 2)
    cart.add("apple", Decimal("0.50"))
    assert cart.items["apple"] == (Decimal("0.50"), 3)
    assert cart.total() == Decimal("1.50")


def test_remove_is_idempotent() -> None:
    cart = Cart()
    cart.add("pear", Decimal("1.00"))
    cart.remove("pear")
    cart.remove("pear")
    assert cart.total() == Decimal("0.00")


def test_quantity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Cart().add("plum", Decimal("1.00"), 0)
