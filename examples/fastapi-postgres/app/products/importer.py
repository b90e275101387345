"""Parse and validate a catalogue CSV (sku,name,price,stock). Pure: text in, rows or errors out.

Every row is checked before anything is written, and all problems are reported at once with their line
numbers, so a supplier can fix the file in one pass. Rows are validated by ProductCreate, the model the
JSON API uses, so a price the API refuses is refused here too. Line numbers are the file's physical lines
(the header is line 1), as an editor shows them.
"""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError

from app.errors import Invalid
from app.products.schemas import ProductCreate

HEADER = ("sku", "name", "price", "stock")
MAX_REPORTED = 10  # a wholly wrong file would otherwise produce a megabyte of detail


class CatalogueRejected(Invalid):
    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        shown = "; ".join(f"line {line}: {message}" for line, message in problems[:MAX_REPORTED])
        more = len(problems) - MAX_REPORTED
        suffix = f"; and {more} more problem{'s' if more != 1 else ''}" if more > 0 else ""
        super().__init__(f"catalogue rejected, nothing imported: {shown}{suffix}")


def parse_catalogue(text: str) -> list[ProductCreate]:
    """The rows of a catalogue, or CatalogueRejected naming every bad line."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))  # spreadsheets often write a BOM
    try:
        records = [(reader.line_num, cells) for cells in reader]
    except csv.Error as error:  # a field beyond the csv module's size limit
        raise CatalogueRejected([(reader.line_num, f"not readable as CSV: {error}")]) from None
    if not records or tuple(cell.strip().lower() for cell in records[0][1]) != HEADER:
        raise CatalogueRejected([(1, f"the header must be {','.join(HEADER)}")])
    rows: list[ProductCreate] = []
    problems: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    for line, cells in records[1:]:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, including the trailing one most editors add
        try:
            row = parse_row(cells)
        except ValueError as error:
            problems.append((line, str(error)))
            continue
        if row.sku in first_line:
            problems.append((line, f"sku {row.sku} already appears on line {first_line[row.sku]}"))
            continue
        first_line[row.sku] = line
        rows.append(row)
    if problems:
        raise CatalogueRejected(problems)
    return rows


def parse_row(cells: list[str]) -> ProductCreate:
    """One record as a ProductCreate; ValueError says what is wrong with which field."""
    if len(cells) != len(HEADER):
        raise ValueError(f"expected {len(HEADER)} fields ({','.join(HEADER)}), got {len(cells)}")
    try:
        return ProductCreate.model_validate(dict(zip(HEADER, cells, strict=True)))
    except ValidationError as error:
        raise ValueError(
            "; ".join(f"{problem['loc'][0]}: {problem['msg']}" for problem in error.errors())
        ) from None
