from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator


def _printable(text: str) -> str:
    # PostgreSQL refuses NUL in text (a 500 if it got that far); tabs and newlines break every listing.
    if not text.isprintable():
        raise ValueError("must not contain control characters")
    return text


Sku = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_printable)
]
# max_digits matches the column, Numeric(12, 2): larger prices would be refused by the database.
Price = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
Stock = Annotated[int, Field(ge=0, le=2_147_483_647)]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: Name
    price: Price
    stock: Stock = 0


class ProductUpdate(BaseModel):
    """A partial update: only the fields sent change. The SKU is the product's identity (imports match on
    it), so it cannot be changed here."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    price: Price | None = None
    stock: Stock | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ProductUpdate:
        # "Not sent" leaves a field alone; an explicit null would mean "erase", which no field allows.
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"cannot be null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    price: Decimal
    stock: int


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int
    limit: int
    offset: int


class ImportResult(BaseModel):
    created: int
    updated: int
