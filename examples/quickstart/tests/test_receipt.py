from decimal import Decimal
from pathlib import Path

import pytest

from shop.cart import Cart
from shop.receipt import write_receipt


@pytest.mark.serial
def test_receipt_file(tmp_path: Path) -> None:
    cart = Cart()
    cart.add("tea", Decimal("2.50"), 2)
    out = tmp_path / "receipt.txt"
    write_receipt(cart, out)
    assert out.read_text() == "tea x2 2.50\nTOTAL 5.00\n"
