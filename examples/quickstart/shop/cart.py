from decimal import Decimal

from shop.pricing import total


class Cart:
    def __init__(self) -> None:
        self.items: dict[str, tuple[Decimal, int]] = {}

    def add(self, sku: str, price: Decimal, quantity: int = 1) -> None:
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        _, held = self.items.get(sku, (price, 0))
        self.items[sku] = (price, held + quantity)

    def remove(self, sku: str) -> None:
        self.items.pop(sku, None)

    def total(self, percent: int = 0) -> Decimal:
        return total([price * qty for price, qty in self.items.values()], percent)
