"""Product use cases: the rules, independent of HTTP."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.db import transaction
from app.errors import Conflict, NotFound
from app.products import importer
from app.products.models import Product
from app.products.repository import ProductRepository
from app.products.schemas import ImportResult, ProductCreate, ProductUpdate


class ProductNotFound(NotFound):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"product {product_id} not found")


class DuplicateSku(Conflict):
    def __init__(self, sku: str) -> None:
        super().__init__(f"a product with sku {sku} already exists")


class ProductService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.products = ProductRepository(session)

    def create(self, data: ProductCreate) -> Product:
        with transaction(self.session):
            # Checked first for a clear 409; the unique index still keeps out a duplicate created by a
            # concurrent request between this check and the insert (that request then fails with a 500).
            if self.products.sku_exists(data.sku):
                raise DuplicateSku(data.sku)
            product = self.products.add(Product(**data.model_dump()))
        return product

    def get(self, product_id: int) -> Product:
        product = self.products.get(product_id)
        if product is None:
            raise ProductNotFound(product_id)
        return product

    def page(self, limit: int, offset: int) -> tuple[Sequence[Product], int]:
        return self.products.page(limit, offset)

    def update(self, product_id: int, data: ProductUpdate) -> Product:
        with transaction(self.session):
            product = self.get(product_id)
            for field, value in data.changes().items():
                setattr(product, field, value)
        return product

    def import_catalogue(self, text: str) -> ImportResult:
        """Create or update every row by sku, all or nothing."""
        rows = importer.parse_catalogue(text)
        with transaction(self.session):
            existing = self.products.existing_skus([row.sku for row in rows])
            self.products.upsert_many([row.model_dump() for row in rows])
        return ImportResult(created=len(rows) - len(existing), updated=len(existing))
