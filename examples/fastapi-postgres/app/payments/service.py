"""Paying for orders and refunding payments, exactly once per idempotency key.

A client that did not get our answer (a timeout, a dropped connection) retries with the same
Idempotency-Key; the key's first outcome is then returned again and the provider is not called twice.
Only outcomes are recorded: when the provider could not be reached nothing is stored, so the retry
really tries again (and the provider, which dedupes on the same key, will not charge twice either).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.db import transaction
from app.errors import Conflict, NotFound, PaymentDeclined
from app.orders.models import Order, OrderStatus
from app.orders.repository import OrderRepository
from app.orders.service import OrderNotFound
from app.payments.models import Payment, PaymentStatus, Refund
from app.payments.money import CURRENCY
from app.payments.provider import CardDeclined, PaymentProvider
from app.payments.repository import PaymentRepository
from app.payments.schemas import PaymentCreate, RefundCreate


class PaymentNotFound(NotFound):
    def __init__(self, payment_id: int) -> None:
        super().__init__(f"payment {payment_id} not found")


class KeyReused(Conflict):
    def __init__(self, what: str) -> None:
        super().__init__(f"this Idempotency-Key was already used for {what}; use a new key for a new request")


class OrderNotPayable(Conflict):
    def __init__(self, order: Order) -> None:
        super().__init__(f"order {order.id} is {order.status.value}; only pending orders can be paid")


class NotRefundable(Conflict):
    pass


class CardWasDeclined(PaymentDeclined):
    def __init__(self, payment: Payment) -> None:
        super().__init__(f"payment {payment.id} was declined: {payment.decline_reason}")


class PaymentService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.orders = OrderRepository(session)
        self.payments = PaymentRepository(session)

    def get(self, payment_id: int) -> Payment:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise PaymentNotFound(payment_id)
        return payment

    def for_order(self, order_id: int) -> Sequence[Payment]:
        if self.orders.get(order_id) is None:
            raise OrderNotFound(order_id)
        return self.payments.for_order(order_id)

    def pay(
        self, order_id: int, data: PaymentCreate, key: str, provider: PaymentProvider
    ) -> tuple[Payment, bool]:
        """Charge the order's total: (the payment, whether it was made by this call)."""
        with transaction(self.session):
            # The order stays locked during the provider call, so a second request for the same order
            # (a double click) waits and then sees this one's outcome instead of charging again.
            order = self.orders.lock(order_id)
            if order is None:
                raise OrderNotFound(order_id)
            earlier = self.payments.by_key(key)
            if earlier is not None:
                return self._replay(earlier, order_id), False
            if order.status is not OrderStatus.PENDING:
                raise OrderNotPayable(order)
            payment = Payment(
                order_id=order.id,
                idempotency_key=key,
                currency=CURRENCY,
                source=data.source,
                amount=order.total,
            )
            try:
                charge = provider.charge(order.total, CURRENCY, data.source, key)
            except CardDeclined as declined:
                payment.status, payment.decline_reason = PaymentStatus.DECLINED, declined.reason
            else:
                payment.status, payment.provider_charge_id = PaymentStatus.SUCCEEDED, charge.id
                payment.amount = charge.amount
                order.status = OrderStatus.PAID
            self.payments.add(payment)
        # Raised after the commit: a declined attempt is an outcome, recorded so that its key replays it.
        if payment.status is PaymentStatus.DECLINED:
            raise CardWasDeclined(payment)
        return payment, True

    def _replay(self, payment: Payment, order_id: int) -> Payment:
        if payment.order_id != order_id:
            raise KeyReused(f"a payment of order {payment.order_id}")
        if payment.status is PaymentStatus.DECLINED:
            raise CardWasDeclined(payment)
        return payment

    def refund(
        self, payment_id: int, data: RefundCreate, key: str, provider: PaymentProvider
    ) -> tuple[Refund, bool]:
        """Refund part or all of what remains of a payment: (the refund, whether made by this call)."""
        with transaction(self.session):
            payment = self.payments.lock(payment_id)
            if payment is None:
                raise PaymentNotFound(payment_id)
            earlier = self.payments.refund_by_key(key)
            if earlier is not None:
                if earlier.payment_id != payment_id:
                    raise KeyReused(f"a refund of payment {earlier.payment_id}")
                return earlier, False
            # Only succeeded payments have a charge id; testing it too tells the type checker so.
            if payment.status is not PaymentStatus.SUCCEEDED or payment.provider_charge_id is None:
                raise NotRefundable(f"payment {payment.id} was declined; there is nothing to refund")
            remaining = payment.amount - payment.refunded
            if remaining <= 0:
                raise NotRefundable(f"payment {payment.id} is already fully refunded")
            amount = remaining if data.amount is None else data.amount
            if amount > remaining:
                raise NotRefundable(
                    f"cannot refund {amount}: only {remaining} of payment {payment.id} remains"
                )
            result = provider.refund(payment.provider_charge_id, amount, key)
            refund = Refund(
                payment=payment, idempotency_key=key, amount=result.amount, provider_refund_id=result.id
            )
            self.payments.add(refund)
            # No lock needed on the order: once paid, only refunds of this (locked) payment change it.
            payment.order.status = (
                OrderStatus.REFUNDED if payment.refunded >= payment.amount else OrderStatus.PARTIALLY_REFUNDED
            )
        return refund, True
