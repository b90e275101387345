from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from app.db import get_session
from app.orders.models import Order
from app.orders.schemas import OrderCreate, OrderOut
from app.orders.service import OrderService

router = APIRouter(prefix="/orders", tags=["orders"])


def get_service(session: Annotated[Session, Depends(get_session)]) -> OrderService:
    return OrderService(session)


Service = Annotated[OrderService, Depends(get_service)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
def place_order(data: OrderCreate, service: Service) -> Order:
    return service.place(data)


@router.get("/{order_id}", response_model=OrderOut)
def get_order(order_id: int, service: Service) -> Order:
    return service.get(order_id)


@router.post("/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: int, service: Service) -> Order:
    return service.cancel(order_id)
