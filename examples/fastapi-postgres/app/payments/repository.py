"""Queries on payments and refunds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.payments.models import Payment, Refund


class PaymentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, payment_id: int) -> Payment | None:
        return self.session.get(Payment, payment_id, options=[selectinload(Payment.refunds)])

    def lock(self, payment_id: int) -> Payment | None:
        """The payment, row-locked: refunds of one payment must see each other's amounts."""
        query = select(Payment).where(Payment.id == payment_id).options(selectinload(Payment.refunds))
        return self.session.scalar(query.with_for_update(of=Payment))

    def by_key(self, idempotency_key: str) -> Payment | None:
        return self.session.scalar(select(Payment).where(Payment.idempotency_key == idempotency_key))

    def for_order(self, order_id: int) -> Sequence[Payment]:
        query = select(Payment).where(Payment.order_id == order_id).options(selectinload(Payment.refunds))
        return self.session.scalars(query.order_by(Payment.id)).all()

    def refund_by_key(self, idempotency_key: str) -> Refund | None:
        return self.session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key))

    def add(self, item: Payment | Refund) -> None:
        self.session.add(item)
        self.session.flush()
