"""Catalogue CSV parsing: what is accepted, and how each problem is reported with its line number."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from app.errors import Invalid
from app.products.importer import MAX_REPORTED, CatalogueRejected, parse_catalogue

pytestmark = pytest.mark.unit

HEADER = "sku,name,price,stock\n"


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(CatalogueRejected) as rejected:
        parse_catalogue(text)
    return rejected.value.problems


def test_rows_are_parsed_in_file_order() -> None:
    rows = parse_catalogue(HEADER + "A-1,Apple,1.20,5\nB-2,Banana,0.35,0\n")
    assert [(row.sku, row.name, row.price, row.stock) for row in rows] == [
        ("A-1", "Apple", Decimal("1.20"), 5),
        ("B-2", "Banana", Decimal("0.35"), 0),
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(HEADER, id="header-only"),
        pytest.param(HEADER.rstrip("\n"), id="header-without-newline"),
        pytest.param(HEADER + "\n\n", id="blank-lines"),
        pytest.param(HEADER + ",,,\n", id="empty-cells"),
    ],
)
def test_a_catalogue_without_rows_is_empty(text: str) -> None:
    assert parse_catalogue(text) == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\ufeff" + HEADER + "A-1,Apple,1.20,5\n", id="byte-order-mark"),
        pytest.param("SKU, Name ,PRICE,stock\r\nA-1,Apple,1.20,5\r\n", id="header-case-spaces-crlf"),
        pytest.param(HEADER + " A-1 , Apple ,1.20, 5\n", id="cells-with-spaces"),
        pytest.param(HEADER + "\nA-1,Apple,1.20,5", id="blank-line-before-last-row-without-newline"),
    ],
)
def test_formatting_variations_are_accepted(text: str) -> None:
    [row] = parse_catalogue(text)
    assert (row.sku, row.name, row.price, row.stock) == ("A-1", "Apple", Decimal("1.20"), 5)


def test_quoted_names_may_contain_commas() -> None:
    [row] = parse_catalogue(HEADER + 'A-1,"Apples, red",1.20,5\n')
    assert row.name == "Apples, red"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty-file"),
        pytest.param("sku,name,price\nA-1,Apple,1.20\n", id="column-missing"),
        pytest.param("name,sku,price,stock\n", id="columns-reordered"),
        pytest.param("A-1,Apple,1.20,5\n", id="no-header"),
    ],
)
def test_a_wrong_header_is_reported_on_line_1(text: str) -> None:
    assert problems(text) == [(1, "the header must be sku,name,price,stock")]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("A-1,Apple,0,5", "price"),
        ("A-1,Apple,-1.00,5", "price"),
        ("A-1,Apple,1.999,5", "price"),
        ("A-1,Apple,cheap,5", "price"),
        ("A-1,Apple,,5", "price"),
        ("A-1,Apple,1.00,-1", "stock"),
        ("A-1,Apple,1.00,many", "stock"),
        ("A-1,Apple,1.00,", "stock"),
        ("A-1,,1.00,5", "name"),
        (",Apple,1.00,5", "sku"),
        ("A 1,Apple,1.00,5", "sku"),
    ],
)
def test_an_invalid_field_is_named_with_its_line(row: str, field: str) -> None:
    [(line, message)] = problems(HEADER + "OK-1,Fine,1.00,1\n" + row + "\n")
    assert line == 3
    assert message.startswith(f"{field}: ")


@pytest.mark.parametrize("row", ["A-1,Apple,1.00", "A-1,Apple,1.00,5,extra"])
def test_a_row_with_the_wrong_number_of_fields_is_reported(row: str) -> None:
    [(line, message)] = problems(HEADER + row + "\n")
    assert (line, message.split(" (")[0]) == (2, "expected 4 fields")


def test_every_bad_line_is_reported_not_just_the_first() -> None:
    found = problems(HEADER + "A-1,Apple,0,1\nB-1,Fine,1.00,1\nC-1,,1.00,1\n")
    assert [line for line, _ in found] == [2, 4]


def test_a_repeated_sku_names_its_first_line() -> None:
    assert problems(HEADER + "A-1,Apple,1.00,1\nB-1,Pear,1.00,1\nA-1,Again,2.00,1\n") == [
        (4, "sku A-1 already appears on line 2")
    ]


def test_line_numbers_count_physical_lines_of_multiline_fields() -> None:
    found = problems(HEADER + 'A-1,"Two\nlines",1.00,1\nB-1,Pear,0,1\n')
    assert [line for line, _ in found] == [3, 4]  # a name with a line break is refused too


def test_a_field_too_large_for_csv_is_reported() -> None:
    huge = "x" * (csv.field_size_limit() + 1)
    [(line, message)] = problems(HEADER + f"A-1,{huge},1.00,1\n")
    assert (line, message.startswith("not readable as CSV")) == (2, True)


def test_the_message_names_the_lines_and_says_nothing_was_imported() -> None:
    with pytest.raises(CatalogueRejected) as rejected:
        parse_catalogue(HEADER + "A-1,Apple,0,1\n")
    assert str(rejected.value).startswith("catalogue rejected, nothing imported: line 2: price: ")
    assert isinstance(rejected.value, Invalid)  # the API answers 422


@pytest.mark.parametrize(
    ("bad", "suffix"),
    [
        (MAX_REPORTED, ""),
        (MAX_REPORTED + 1, "; and 1 more problem"),
        (MAX_REPORTED + 5, "; and 5 more problems"),
    ],
)
def test_the_message_lists_at_most_ten_problems(bad: int, suffix: str) -> None:
    text = HEADER + "".join(f"S-{n},Name,0,1\n" for n in range(bad))
    with pytest.raises(CatalogueRejected) as rejected:
        parse_catalogue(text)
    message = str(rejected.value)
    assert message.count("line ") == min(bad, MAX_REPORTED)
    assert message.endswith(suffix)
    assert ("more problem" in message) == bool(suffix)
    assert len(rejected.value.problems) == bad
