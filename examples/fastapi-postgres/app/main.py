"""The application factory. `uvicorn app.main:app` serves it; tests build their own with create_app()."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.errors import Conflict, DomainError, Invalid, NotFound, PaymentDeclined, UpstreamError
from app.orders.router import router as orders_router
from app.payments.router import router as payments_router
from app.products.router import router as products_router

# One status per family of domain errors. Starlette picks a handler by the exception's class hierarchy,
# so a new error only has to subclass the right family.
STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    PaymentDeclined: 402,
    UpstreamError: 502,
}


async def domain_error_handler(request: Request, error: Exception) -> JSONResponse:
    status_code = next(code for family, code in STATUS_BY_ERROR.items() if isinstance(error, family))
    return JSONResponse({"detail": str(error)}, status_code=status_code)


def create_app() -> FastAPI:
    app = FastAPI(title="Shop", version="0.1.0", summary="Products, orders and payments.")
    app.include_router(products_router)
    app.include_router(orders_router)
    app.include_router(payments_router)
    for family in STATUS_BY_ERROR:
        app.add_exception_handler(family, domain_error_handler)
    return app


app = create_app()
