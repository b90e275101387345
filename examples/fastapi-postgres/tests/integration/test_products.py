"""Products through the HTTP API: creation rules, reads, paging, partial updates, CSV import."""

from __future__ import annotations

import httpx
import pytest

from tests.api import create_product

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CSV = {"content-type": "text/csv"}


async def test_created_product_can_be_read_back(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/products", json={"sku": "MUG-1", "name": "Mug", "price": "7.50", "stock": 3}
    )
    assert response.status_code == 201
    created = response.json()
    assert created == {"id": created["id"], "sku": "MUG-1", "name": "Mug", "price": "7.50", "stock": 3}
    assert (await client.get(f"/products/{created['id']}")).json() == created


async def test_price_is_returned_with_two_decimals(client: httpx.AsyncClient) -> None:
    product = await create_product(client, price=3)
    assert product["price"] == "3.00"


async def test_stock_defaults_to_zero(client: httpx.AsyncClient) -> None:
    response = await client.post("/products", json={"sku": "NEW-1", "name": "New", "price": "1.00"})
    assert response.json()["stock"] == 0


async def test_duplicate_sku_is_409_and_keeps_the_original(client: httpx.AsyncClient) -> None:
    original = await create_product(client, sku="DUP-1", name="Original")
    response = await client.post("/products", json={"sku": "DUP-1", "name": "Copy", "price": "1.00"})
    assert response.status_code == 409
    assert response.json() == {"detail": "a product with sku DUP-1 already exists"}
    assert (await client.get(f"/products/{original['id']}")).json()["name"] == "Original"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "0"),
        ("price", "-1.00"),
        ("price", "1.999"),
        ("price", "abc"),
        ("name", ""),
        ("name", "   "),
        ("name", "tab\there"),
        ("stock", -1),
        ("sku", ""),
        ("sku", "has space"),
    ],
)
async def test_invalid_product_is_422_and_not_stored(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    body = {"sku": "OK-1", "name": "Fine", "price": "1.00", "stock": 1, field: value}
    response = await client.post("/products", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert (await client.get("/products")).json()["total"] == 0


async def test_unknown_field_is_422(client: httpx.AsyncClient) -> None:
    body = {"sku": "OK-1", "name": "Fine", "price": "1.00", "colour": "red"}
    assert (await client.post("/products", json=body)).status_code == 422


async def test_unknown_product_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/products/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "product 999999 not found"}


async def test_list_is_ordered_by_id_and_paged(client: httpx.AsyncClient) -> None:
    ids = [(await create_product(client))["id"] for _ in range(5)]
    page = (await client.get("/products", params={"limit": 2, "offset": 1})).json()
    assert [item["id"] for item in page["items"]] == ids[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)


async def test_list_past_the_end_is_empty(client: httpx.AsyncClient) -> None:
    await create_product(client)
    page = (await client.get("/products", params={"offset": 10})).json()
    assert page["items"] == []
    assert page["total"] == 1


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}])
async def test_list_rejects_out_of_range_paging(client: httpx.AsyncClient, params: dict[str, int]) -> None:
    assert (await client.get("/products", params=params)).status_code == 422


async def test_patch_changes_only_the_fields_sent(client: httpx.AsyncClient) -> None:
    product = await create_product(client, name="Old", price="5.00", stock=4)
    response = await client.patch(f"/products/{product['id']}", json={"price": "6.25"})
    assert response.status_code == 200
    after = (await client.get(f"/products/{product['id']}")).json()
    assert (after["name"], after["price"], after["stock"]) == ("Old", "6.25", 4)


async def test_patch_with_null_is_422_and_changes_nothing(client: httpx.AsyncClient) -> None:
    product = await create_product(client, name="Kept")
    response = await client.patch(f"/products/{product['id']}", json={"name": None, "stock": 1})
    assert response.status_code == 422
    assert (await client.get(f"/products/{product['id']}")).json()["name"] == "Kept"


async def test_patch_cannot_change_the_sku(client: httpx.AsyncClient) -> None:
    product = await create_product(client, sku="FIXED-1")
    response = await client.patch(f"/products/{product['id']}", json={"sku": "OTHER-1"})
    assert response.status_code == 422
    assert (await client.get(f"/products/{product['id']}")).json()["sku"] == "FIXED-1"


async def test_patch_unknown_product_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.patch("/products/999999", json={"stock": 1})).status_code == 404


async def test_import_creates_and_updates_by_sku(client: httpx.AsyncClient) -> None:
    existing = await create_product(client, sku="TEA-1", name="Tea", price="3.00", stock=1)
    body = "sku,name,price,stock\nTEA-1,Green tea,3.20,40\nCUP-1,Cup,4.00,12\n"
    response = await client.post("/products/import", content=body, headers=CSV)
    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 1}
    tea = (await client.get(f"/products/{existing['id']}")).json()
    assert (tea["name"], tea["price"], tea["stock"]) == ("Green tea", "3.20", 40)
    skus = {item["sku"]: item for item in (await client.get("/products")).json()["items"]}
    assert skus["CUP-1"]["price"] == "4.00"


async def test_import_with_bad_rows_is_422_naming_lines_and_writes_nothing(client: httpx.AsyncClient) -> None:
    body = "sku,name,price,stock\nOK-1,Fine,1.00,1\nBAD-1,Bad,0,1\nOK-2,Fine,2.00,2\nBAD-2,,1.00,x\n"
    response = await client.post("/products/import", content=body, headers=CSV)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "line 3: price" in detail
    assert "line 5: name" in detail
    assert "line 2" not in detail
    assert (await client.get("/products")).json()["total"] == 0


async def test_import_requires_text_csv(client: httpx.AsyncClient) -> None:
    response = await client.post("/products/import", json={"sku": "A"})
    assert response.status_code == 415


async def test_import_rejects_a_body_that_is_not_utf8(client: httpx.AsyncClient) -> None:
    body = "sku,name,price,stock\nCAF-1,Caf\u00e9,1.00,1\n".encode("latin-1")
    response = await client.post("/products/import", content=body, headers=CSV)
    assert response.status_code == 422
    assert "UTF-8" in response.json()["detail"]


async def test_import_of_only_a_header_changes_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post("/products/import", content="sku,name,price,stock\n", headers=CSV)
    assert response.json() == {"created": 0, "updated": 0}
