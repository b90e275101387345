"""A tiny shop: prices (critical), carts and a receipt printer."""
