from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy.orm import Session

from app.db import get_session
from app.products.models import Product
from app.products.schemas import ImportResult, ProductCreate, ProductOut, ProductPage, ProductUpdate
from app.products.service import ProductService

router = APIRouter(prefix="/products", tags=["products"])


def get_service(session: Annotated[Session, Depends(get_session)]) -> ProductService:
    return ProductService(session)


Service = Annotated[ProductService, Depends(get_service)]


async def csv_body(request: Request) -> str:
    """The request body as text, for an endpoint that takes text/csv rather than JSON.

    Async so the body is read on the event loop; the endpoint itself stays synchronous (it uses the
    database) and runs in the thread pool.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "text/csv":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the catalogue as text/csv")
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"the catalogue is not UTF-8 (byte {error.start})"
        ) from None


_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "example": "sku,name,price,stock\n"}}},
    }
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductOut)
def create_product(data: ProductCreate, service: Service) -> Product:
    return service.create(data)


@router.get("", response_model=ProductPage)
def list_products(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ProductPage:
    items, total = service.page(limit, offset)
    return ProductPage(
        items=[ProductOut.model_validate(item) for item in items], total=total, limit=limit, offset=offset
    )


@router.post("/import", response_model=ImportResult, openapi_extra=_CSV_BODY)
def import_products(text: Annotated[str, Depends(csv_body)], service: Service) -> ImportResult:
    return service.import_catalogue(text)


@router.get("/{product_id}", response_model=ProductOut)
def get_product(product_id: int, service: Service) -> Product:
    return service.get(product_id)


@router.patch("/{product_id}", response_model=ProductOut)
def update_product(product_id: int, data: ProductUpdate, service: Service) -> Product:
    return service.update(product_id, data)
