"""What a coverage input must be before it is opened: each odd file is one line saying what it is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.gate.inputfile import NOT_COVERAGE, check_regular, one_line


def refused(path: Path) -> str:
    with pytest.raises(DataError) as info:
        check_regular(path)
    return str(info.value)


def test_a_regular_file_with_content_passes(tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(b"x")
    check_regular(tmp_path / "data")


def test_odd_inputs_say_what_they_are(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "broken").symlink_to(tmp_path / "gone")
    os.mkfifo(tmp_path / "fifo")
    assert refused(tmp_path / "none") == (
        f"{tmp_path}/none: no such file; run the tests with coverage first (or pass the right path)"
    )
    assert refused(tmp_path / "broken") == (
        f"{tmp_path}/broken: a broken symbolic link (to {tmp_path}/gone); pass the coverage data itself"
    )
    assert refused(tmp_path) == f"{tmp_path}: is a directory, {NOT_COVERAGE}"
    assert refused(tmp_path / "empty") == (
        f"{tmp_path}/empty: {NOT_COVERAGE} (it is empty); run the tests with coverage first"
    )
    assert refused(tmp_path / "fifo") == (
        f"{tmp_path}/fifo: {NOT_COVERAGE} (it is a named pipe (FIFO), not a regular file); "
        "pass a .coverage data file or the output of `coverage json`"
    )
    assert "(it is a character device, not a regular file)" in refused(Path("/dev/null"))


def test_a_path_that_cannot_be_looked_at_says_why(tmp_path: Path) -> None:
    assert refused(tmp_path / ("x" * 300)) == f"{tmp_path}/{'x' * 300}: cannot be read (File name too long)"


def test_one_line_folds_white_space() -> None:
    assert one_line(" a\n  b\tc \n") == "a b c"
