"""Escaping, proven over arbitrary strings: nothing from a test id, a message or a path can break a table,
open HTML, close a code span, ping anyone or link an issue."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_toolkit.report import escape, printable

JOINER = "\u2060"
# Markdown's and HTML's syntax characters: none may appear raw in escaped text.
RAW = re.compile(r"[|<>`\\*_\[\]~$\n\r]")
ENTITY = re.compile(r"&(?:#\d+|amp|lt|gt);")
hostile = st.text(
    alphabet=st.sampled_from(list("|<>`\\*_[]~!$:@#&;/-GHgh0123 \n\tax")) | st.characters(), max_size=120
)


def visible(escaped: str) -> str:
    """What a reader sees: the entities decoded, the invisible joiners gone."""
    return html.unescape(escaped).replace(JOINER, "")


@settings(max_examples=200)
@given(hostile)
def test_escaped_text_is_inert(value: str) -> None:
    out = escape.text(value)
    assert not RAW.search(out)
    assert not re.search(r"&(?!(?:#\d+|amp|lt|gt);)", out)  # every "&" starts one of our entities
    shown = html.unescape(out)
    # A mention or a reference needs its name or number right after the sign; a joiner always sits there.
    assert not re.search(r"[@#](?!\u2060)", shown)
    assert not re.search(r"gh-", shown, re.IGNORECASE)
    assert "\n" not in shown


@given(hostile)
def test_escaped_text_reads_as_the_original(value: str) -> None:
    expected = " ".join(printable(value).split())
    if len(expected) > escape.MAX_TEXT:
        expected = expected[: escape.MAX_TEXT - 1] + "…"
    assert visible(escape.text(value)) == expected


@given(hostile)
def test_code_cannot_be_closed_from_inside(value: str) -> None:
    out = escape.code(value)
    assert out.startswith("<code>") and out.endswith("</code>")
    assert out.count("<") == 2 and out.count("`") == 0


@settings(max_examples=100)
@given(st.lists(hostile, min_size=1, max_size=4))
def test_a_table_row_keeps_its_cells(cells: list[str]) -> None:
    markdown = pytest.importorskip("markdown")
    header = "| " + " | ".join(f"c{i}" for i in range(len(cells))) + " |"
    rule = "|" + "---|" * len(cells)
    row = "| " + " | ".join(escape.code(c) if i % 2 else escape.text(c) for i, c in enumerate(cells)) + " |"
    rendered = markdown.markdown("\n".join([header, rule, row]), extensions=["tables"])
    assert rendered.count("<td") == len(cells)
    tags = set(re.findall(r"</?([a-z]+)", rendered))
    assert tags <= {"table", "thead", "tbody", "tr", "th", "td", "code"}


def test_examples() -> None:
    assert escape.text("@octocat") == "@&#8288;octocat"
    assert escape.text("fixes #12") == "fixes &#35;&#8288;12"
    assert visible(escape.text("@org/team GH-3 a|b <b>")) == "@org/team GH-3 a|b <b>"
    assert escape.text("x" * 500, limit=10) == "x" * 9 + "…"
    assert escape.label("lane: `a`; b#1") == "lane_ _a__ b_1"
