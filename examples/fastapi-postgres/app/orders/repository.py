"""Queries on orders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.orders.models import Order


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, order_id: int) -> Order | None:
        return self.session.get(Order, order_id, options=[selectinload(Order.lines)])

    def lock(self, order_id: int) -> Order | None:
        """The order, row-locked until the transaction ends: status changes are read-check-write."""
        query = select(Order).where(Order.id == order_id).options(selectinload(Order.lines))
        return self.session.scalar(query.with_for_update(of=Order))

    def add(self, order: Order) -> Order:
        self.session.add(order)
        self.session.flush()
        return order
