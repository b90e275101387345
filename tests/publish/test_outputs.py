"""Step outputs: the values of a report, and the $GITHUB_OUTPUT entries that carry them, read back the way
the runner reads the file (name<<DELIMITER, the lines, a line that is exactly DELIMITER)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from publish_reports import failing_report, passing_report

from ci_toolkit.errors import CiToolkitError
from ci_toolkit.gate.verdict import unjudged
from ci_toolkit.publish import outputs


def _read_back(text: str) -> dict[str, str]:
    """The runner's parse of an output file: `name=value` lines and `name<<DELIM` blocks."""
    values: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            else:
                raise AssertionError(f"no closing delimiter for {name}")
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_a_failing_report() -> None:
    assert outputs.from_report(failing_report(patch_floor=80), Path("out/report.json")) == {
        "verdict": "failed",
        "coverage": "86.48",
        "patch-coverage": "37.50",
        "passed": "1",
        "failed": "2",
        "report-path": "out/report.json",
    }


def test_no_gate_no_patch_no_data_are_empty() -> None:
    values = outputs.from_report(passing_report(gate=False), Path("r.json"))
    assert (values["verdict"], values["coverage"], values["patch-coverage"]) == ("passed", "", "")
    assert outputs.from_report(passing_report(), Path("r.json"))["coverage"] == "66.66"  # truncated
    no_data = dataclasses.replace(passing_report(), verdict=unjudged("no data"))
    assert outputs.from_report(no_data, Path("r.json"))["coverage"] == ""


def test_written_values_read_back_and_earlier_ones_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("earlier=1\n")
    values = outputs.from_report(failing_report(), tmp_path / "out dir" / "report.json")
    outputs.write(path, values)
    assert _read_back(path.read_text()) == {"earlier": "1", **values}


HOSTILE = [
    "two\nlines",
    "ends with a newline\n",
    "verdict=passed",
    "x\nverdict<<EOF\npassed\nEOF",
    "\r\n%0A::set-output name=verdict::passed",
    "ünïcødé ✅",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_cannot_set_another_output(tmp_path: Path, value: str) -> None:
    path = tmp_path / "output"
    outputs.write(path, {"report-path": value, "verdict": "failed"})
    assert _read_back(path.read_bytes().decode()) == {"report-path": value, "verdict": "failed"}


def test_a_delimiter_found_in_the_value_is_never_used() -> None:
    tokens = iter(["aaaa", "aaaa", "bbbb"])
    value = "line\nci-toolkit-aaaa\nverdict=passed"
    text = outputs.render({"note": value}, token=lambda: next(tokens))
    assert text == f"note<<ci-toolkit-bbbb\n{value}\nci-toolkit-bbbb\n"
    assert _read_back(text) == {"note": value}


def test_every_entry_gets_its_own_delimiter() -> None:
    counter: Iterator[int] = itertools.count()
    text = outputs.render({"a": "1", "b": "2"}, token=lambda: str(next(counter)))
    assert text == "a<<ci-toolkit-0\n1\nci-toolkit-0\nb<<ci-toolkit-1\n2\nci-toolkit-1\n"


@pytest.mark.parametrize("name", ["", "1st", "has space", "a=b", "a<<b", "new\nline", "ü"])
def test_names_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match="is not a GitHub output name"):
        outputs.render({name: "x"})


def test_an_unwritable_output_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CiToolkitError, match=r"^\$GITHUB_OUTPUT .*: cannot append to it: Is a directory$"):
        outputs.write(tmp_path, {"a": "1"})
