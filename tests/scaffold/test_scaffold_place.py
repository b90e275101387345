"""The table into a pyproject.toml's bytes: appended or replaced, every other byte kept, and refused
whole where that cannot be done safely."""

from __future__ import annotations

import pytest

from ci_toolkit.errors import ConfigError
from ci_toolkit.scaffold import place
from ci_toolkit.scaffold.place import BOM, parse

TABLE = "[tool.ci-toolkit]\nworkers = 2\n\n[tool.ci-toolkit.coverage]\nfail_under = 90\n"
OURS = {"workers": 2, "coverage": {"fail_under": 90}}
HEAD = '[project]\nname = "x"\n'


def placed(original: bytes | None, *, force: bool = False) -> place.Placed:
    return place.place(original, TABLE, force=force, label="pyproject.toml")


def ours(data: bytes) -> object:
    return parse(data.removeprefix(BOM).decode("utf-8"), "t")["tool"]["ci-toolkit"]


@pytest.mark.parametrize(
    ("original", "separator"),
    [
        (HEAD.encode(), b"\n"),
        (HEAD.encode() + b"\n", b""),
        (b'[project]\nname = "x"', b"\n\n"),  # no final newline
        (HEAD.replace("\n", "\r\n").encode(), b"\r\n"),
        (BOM + HEAD.encode(), b"\n"),
        (b"# just a comment\n", b"\n"),
        (b"", b""),
        (b"\n\n", b""),
    ],
)
def test_appending_keeps_every_byte_before(original: bytes, separator: bytes) -> None:
    result = placed(original)
    assert result.how == "appended"
    assert result.data.startswith(original + separator)
    table = result.data[len(original + separator) :]
    newline = "\r\n" if b"\r\n" in original else "\n"
    assert table == TABLE.replace("\n", newline).encode()
    assert ours(result.data) == OURS


def test_no_file_is_the_table_alone() -> None:
    assert placed(None) == place.Placed(TABLE.encode(), "created")


def test_an_existing_table_is_refused_without_force() -> None:
    with pytest.raises(
        ConfigError, match=r"^pyproject.toml: \[tool.ci-toolkit\] is there already; pass --force"
    ):
        placed(b"[tool.ci-toolkit]\nworkers = 1\n")


def test_force_replaces_only_our_lines() -> None:
    before = (
        b"[project]\r\nname = 'x'\r\n\r\n"
        b"# ci-toolkit runs our tests\r\n"
        b"[tool.ci-toolkit]\r\nworkers = 1\r\n# old note\r\n\r\n"
        b'[[tool.ci-toolkit.lanes]]\r\nname = "unit"\r\n\r\n'
        b"# the linter's own comment\r\n"
        b"[tool.ruff]\r\nline-length = 100\r\n\r\n"
        b'[tool . "ci-toolkit" . coverage]  # quoted and spaced\r\nfail_under = 10\r\n'
    )
    result = placed(before, force=True)
    new_table = TABLE.replace("\n", "\r\n").encode()
    assert result.data == (
        b"[project]\r\nname = 'x'\r\n\r\n"
        b"# ci-toolkit runs our tests\r\n" + new_table + b"\r\n"
        b"# the linter's own comment\r\n"
        b"[tool.ruff]\r\nline-length = 100\r\n\r\n"
    )
    assert result.how == "replaced lines 5-10, 16-17"
    assert ours(result.data) == OURS


def test_force_with_the_same_table_changes_nothing() -> None:
    original = HEAD.encode() + b"\n" + TABLE.encode() + b"\n[tool.black]\n"
    assert placed(original, force=True) == place.Placed(original, "unchanged")


@pytest.mark.parametrize(
    "original",
    [
        b"[tool]\nci-toolkit = { workers = 1 }\n",
        b"[tool]\nci-toolkit.workers = 1\n",
        b"tool.ci-toolkit.workers = 1\n",
        b"[tool]\nci-toolkit.workers = 1\n[tool.ci-toolkit.coverage]\nfail_under = 1\n",
    ],
)
def test_force_refuses_what_is_not_a_table_of_its_own(original: bytes) -> None:
    with pytest.raises(
        ConfigError, match=r"cannot replace just those lines; edit it by hand; nothing was written"
    ):
        placed(original, force=True)


def test_a_header_inside_a_multiline_string_is_never_cut() -> None:
    original = b'[tool.ci-toolkit]\nworkers = 1\n[tool.other]\ntext = """\n[tool.ci-toolkit.coverage]\n"""\n'
    with pytest.raises(ConfigError, match="nothing was written"):
        placed(original, force=True)


def test_appending_where_tool_is_an_inline_table_is_refused() -> None:
    with pytest.raises(ConfigError, match="appending it would change what the file's other tables mean"):
        placed(b"tool = { black = { line-length = 90 } }\n")
    with pytest.raises(ConfigError, match="nothing was written"):
        placed(b'tool = "not a table"\n')


def test_invalid_toml_and_bad_bytes_are_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^pyproject.toml: invalid TOML: .*line 2.*; fix it first$"):
        placed(b"[project]\nname = \n")
    with pytest.raises(ConfigError, match=r"^pyproject.toml: not UTF-8 text \(bad byte at offset 3\)"):
        placed(b"# a\xff\n")


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("[tool.ci-toolkit]\n", ("tool", "ci-toolkit")),
        ('  [[ tool."ci-toolkit".lanes ]]  # x\r\n', ("tool", "ci-toolkit", "lanes")),
        ("[tool.'ci-toolkit'.coverage.paths]", ("tool", "ci-toolkit", "coverage", "paths")),
        ('["a.b".c]', ("a.b", "c")),
        ("workers = 1", None),
        ('["unterminated]', None),
        ("[a b]", None),
    ],
)
def test_header_key(line: str, key: tuple[str, ...] | None) -> None:
    assert place.header_key(line) == key
