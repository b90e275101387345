"""The shards' coverage data combined with their measured paths renamed (ci_toolkit.run.combine)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import coverage
import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.run import combine


def data_file(
    path: Path, lines: Mapping[str, Sequence[int]] = {}, arcs: Mapping[str, Sequence[tuple[int, int]]] = {}
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = coverage.CoverageData(basename=str(path))
    if lines:
        data.add_lines({name: set(numbers) for name, numbers in lines.items()})
    if arcs:
        data.add_arcs({name: set(pairs) for name, pairs in arcs.items()})
    data.write()
    return path


def test_paths_are_renamed_and_unioned(tmp_path: Path) -> None:
    a = data_file(tmp_path / "a" / ".coverage", arcs={"/ci/1/m.py": [(-1, 1), (1, 2)]})
    b = data_file(tmp_path / "b" / ".coverage", arcs={"D:\\a\\m.py": [(2, 3)], "/kept.py": [(-1, 1)]})
    out = tmp_path / "out" / ".coverage"
    inputs = [(a, {"/ci/1/m.py": "/here/m.py"}), (b, {"D:\\a\\m.py": "/here/m.py"})]
    assert combine.combine_mapped(inputs, out) == out
    merged = coverage.CoverageData(basename=str(out))
    merged.read()
    assert merged.measured_files() == {"/here/m.py", "/kept.py"}
    assert sorted(merged.arcs("/here/m.py") or []) == [(-1, 1), (1, 2), (2, 3)]
    assert sorted(p.name for p in out.parent.iterdir()) == [".coverage"]
    assert combine.measured_files(a) == {"/ci/1/m.py"}


def test_nothing_to_combine_is_none(tmp_path: Path) -> None:
    assert combine.combine_mapped([], tmp_path / ".coverage") is None


def test_lines_and_arcs_do_not_combine(tmp_path: Path) -> None:
    a = data_file(tmp_path / "a" / ".coverage", lines={"/m.py": [1]})
    b = data_file(tmp_path / "b" / ".coverage", arcs={"/m.py": [(1, 2)]})
    with pytest.raises(DataError, match="every shard must measure alike"):
        combine.combine_mapped([(a, {}), (b, {})], tmp_path / "out" / ".coverage")
    assert not (tmp_path / "out" / ".coverage").exists()


def test_unreadable_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / ".coverage"
    bad.write_bytes(b"x" * 500)
    assert (combine.unreadable(bad) or "").startswith(f"{bad}: not a readable coverage data file")
    assert combine.unreadable(data_file(tmp_path / "ok" / ".coverage", lines={"/m.py": [1]})) is None
