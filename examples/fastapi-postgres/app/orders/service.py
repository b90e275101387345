"""Order use cases: placing an order reserves stock, cancelling gives it back."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db import transaction
from app.errors import Conflict, Invalid, NotFound
from app.orders import pricing
from app.orders.models import Order, OrderLine, OrderStatus
from app.orders.repository import OrderRepository
from app.orders.schemas import OrderCreate
from app.products.repository import ProductRepository


class OrderNotFound(NotFound):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} not found")


class UnknownProducts(NotFound):
    def __init__(self, product_ids: list[int]) -> None:
        noun = "product" if len(product_ids) == 1 else "products"
        super().__init__(f"{noun} {', '.join(map(str, product_ids))} not found")


class InsufficientStock(Conflict):
    def __init__(self, shortages: list[str]) -> None:
        super().__init__(f"insufficient stock: {'; '.join(shortages)}")


class UnknownDiscountCode(Invalid):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown discount code {code}")


class OrderNotCancellable(Conflict):
    def __init__(self, order: Order) -> None:
        super().__init__(f"order {order.id} is {order.status.value}; only pending orders can be cancelled")


class OrderService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.orders = OrderRepository(session)
        self.products = ProductRepository(session)

    def get(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise OrderNotFound(order_id)
        return order

    def place(self, data: OrderCreate) -> Order:
        """Price the order at today's prices and reserve its stock, or change nothing."""
        code = None
        if data.discount_code is not None:
            code = pricing.find_code(data.discount_code)
            if code is None:
                raise UnknownDiscountCode(data.discount_code)
        with transaction(self.session):
            # Locked so that two orders cannot both take the last unit.
            products = self.products.lock_many(line.product_id for line in data.lines)
            missing = sorted({line.product_id for line in data.lines} - products.keys())
            if missing:
                raise UnknownProducts(missing)
            shortages = [
                f"product {line.product_id} has {products[line.product_id].stock}, {line.quantity} requested"
                for line in data.lines
                if products[line.product_id].stock < line.quantity
            ]
            if shortages:
                raise InsufficientStock(shortages)
            quote = pricing.quote(
                [(products[line.product_id].price, line.quantity) for line in data.lines], code
            )
            order = Order(
                customer_email=data.customer_email,
                status=OrderStatus.PENDING,
                discount_code=None if code is None else code.code,
                subtotal=quote.subtotal,
                discount=quote.discount,
                shipping=quote.shipping,
                total=quote.total,
                lines=[
                    OrderLine(
                        product_id=line.product_id,
                        quantity=line.quantity,
                        unit_price=products[line.product_id].price,
                        line_total=total,
                    )
                    for line, total in zip(data.lines, quote.line_totals, strict=True)
                ],
            )
            for line in data.lines:
                products[line.product_id].stock -= line.quantity
            self.orders.add(order)
        return order

    def cancel(self, order_id: int) -> Order:
        """Cancel a pending order and put its units back in stock."""
        with transaction(self.session):
            order = self.orders.lock(order_id)
            if order is None:
                raise OrderNotFound(order_id)
            if order.status is not OrderStatus.PENDING:
                raise OrderNotCancellable(order)
            products = self.products.lock_many(line.product_id for line in order.lines)
            for line in order.lines:
                products[line.product_id].stock += line.quantity
            order.status = OrderStatus.CANCELLED
        return order
