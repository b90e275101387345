from pathlib import Path

from shop.cart import Cart


def write_receipt(cart: Cart, path: Path) -> None:
    lines = [f"{sku} x{qty} {price}" for sku, (price, qty) in sorted(cart.items.items())]
    lines.append(f"TOTAL {cart.total()}")
    path.write_text("\n".join(lines) + "\n")
