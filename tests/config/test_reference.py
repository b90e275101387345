"""The configuration reference page is generated from the key table, and the committed page is current."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from ci_toolkit.config import reference
from ci_toolkit.config.keys import TABLES

PAGE = Path(__file__).resolve().parents[2] / reference.PAGE


def test_the_committed_page_is_current() -> None:
    committed = PAGE.read_text(encoding="utf-8") if PAGE.is_file() else ""
    assert committed == reference.render(), (
        f"{reference.PAGE} is stale: regenerate it from the project root with `{reference.COMMAND}`"
    )


def test_every_key_has_a_section_under_its_table() -> None:
    page = reference.render()
    for table in TABLES:
        section = page.split(f"## `{table.header}`\n", 1)[1].split("\n## ", 1)[0]
        for option in table:
            assert f"### `{option.name}`\n" in section, (table.header, option.name)
        assert table.example in section


def test_the_page_shows_what_the_parser_really_says() -> None:
    page = reference.render()
    assert 'tool.ci-toolkit.coverage.fail_undr: unknown key; did you mean "fail_under"?' in page
    assert "- **Default:** `0.3`" in page and "- **Default:** required" in page
    assert '| `postgres` | `"postgres"` |' in page and "none: `export` is required" in page


def test_main_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert reference.main([]) == 0
    assert capsys.readouterr().out == reference.render()


def test_main_writes_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert reference.main(["--write"]) == 0
    assert (tmp_path / reference.PAGE).read_text(encoding="utf-8") == reference.render()
    assert reference.main(["--write", "other.md"]) == 0
    assert (tmp_path / "other.md").read_text(encoding="utf-8") == reference.render()
    assert capsys.readouterr().out == f"wrote {reference.PAGE}\nwrote other.md\n"


def test_runs_as_a_module(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["reference"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(reference.__file__, run_name="__main__")
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("# Configuration reference\n")
