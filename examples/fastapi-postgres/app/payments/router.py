from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, status
from sqlalchemy.orm import Session

from app.db import get_session
from app.payments.models import Payment, Refund
from app.payments.provider import PaymentProvider, get_provider
from app.payments.schemas import PaymentCreate, PaymentOut, RefundCreate, RefundOut
from app.payments.service import PaymentService

router = APIRouter(tags=["payments"])


def get_service(session: Annotated[Session, Depends(get_session)]) -> PaymentService:
    return PaymentService(session)


Service = Annotated[PaymentService, Depends(get_service)]
Provider = Annotated[PaymentProvider, Depends(get_provider)]
# Required: without a key a retried request could charge twice. The client makes one per attempt to pay.
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)]

_REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {"description": "The same Idempotency-Key was used before: its first outcome, unchanged"}
}


@router.post(
    "/orders/{order_id}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses=_REPLAYED,
)
def pay_order(
    order_id: int,
    data: PaymentCreate,
    key: IdempotencyKey,
    service: Service,
    provider: Provider,
    response: Response,
) -> Payment:
    payment, created = service.pay(order_id, data, key, provider)
    if not created:
        response.status_code = status.HTTP_200_OK
    return payment


@router.get("/orders/{order_id}/payments", response_model=list[PaymentOut])
def list_order_payments(order_id: int, service: Service) -> Sequence[Payment]:
    return service.for_order(order_id)


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def get_payment(payment_id: int, service: Service) -> Payment:
    return service.get(payment_id)


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundOut,
    responses=_REPLAYED,
)
def refund_payment(
    payment_id: int,
    data: RefundCreate,
    key: IdempotencyKey,
    service: Service,
    provider: Provider,
    response: Response,
) -> Refund:
    refund, created = service.refund(payment_id, data, key, provider)
    if not created:
        response.status_code = status.HTTP_200_OK
    return refund
