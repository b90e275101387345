"""Queries on products. The only module that knows how products are stored."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from app.products.models import Product


class ProductRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, product_id: int) -> Product | None:
        return self.session.get(Product, product_id)

    def sku_exists(self, sku: str) -> bool:
        return self.session.scalar(select(Product.id).where(Product.sku == sku)) is not None

    def add(self, product: Product) -> Product:
        self.session.add(product)
        self.session.flush()  # assigns the id
        return product

    def page(self, limit: int, offset: int) -> tuple[Sequence[Product], int]:
        items = self.session.scalars(select(Product).order_by(Product.id).limit(limit).offset(offset)).all()
        total = self.session.scalar(select(func.count()).select_from(Product)) or 0
        return items, total

    def lock_many(self, product_ids: Iterable[int]) -> dict[int, Product]:
        """The products with these ids, row-locked until the transaction ends.

        Locking in id order makes two orders that share products wait for each other instead of
        deadlocking.
        """
        query = select(Product).where(Product.id.in_(sorted(set(product_ids)))).order_by(Product.id)
        return {product.id: product for product in self.session.scalars(query.with_for_update())}

    def existing_skus(self, skus: Sequence[str]) -> set[str]:
        # One array parameter (sku = ANY(%s)) rather than IN with a parameter per sku: one statement
        # whatever the count, far below PostgreSQL's 65535-parameter limit, and much faster to build.
        wanted = bindparam("skus", list(skus), type_=ARRAY(String))
        return set(self.session.scalars(select(Product.sku).where(Product.sku == any_(wanted))))

    def upsert_many(self, rows: Sequence[dict[str, object]]) -> None:
        """Insert or update by sku. SQLAlchemy batches the rows into multi-row INSERT ... ON CONFLICT
        statements; on the table, not the ORM class, since no objects are wanted back."""
        if not rows:
            return
        table = Product.__table__
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.sku],
            set_={
                "name": statement.excluded.name,
                "price": statement.excluded.price,
                "stock": statement.excluded.stock,
            },
        )
        self.session.execute(statement, list(rows))
