"""--compare: reading a saved verdict (and refusing what is none), and the delta against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config import CoverageConfig, Floor
from ci_toolkit.errors import DataError
from ci_toolkit.gate.compare import Baseline, Delta, FileDelta, delta, parse, read
from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure
from ci_toolkit.gate.verdict import evaluate

WHERE = Path("base.json")


def saved(total: tuple[int, int] = (8, 10), **coverage: Any) -> dict[str, Any]:
    return {
        "schema_version": 2,
        "coverage": {"total": {"covered": total[0], "total": total[1], "percent": 80.0}, **coverage},
    }


def verdict_of(**files: tuple[int, int]):  # type: ignore[no-untyped-def]
    """A verdict over files given as path=(covered statements, statements)."""
    report = CoverageReport(
        files=tuple(
            FileCoverage(path.replace("__", "/") + ".py", n, tuple(range(1, n - c + 1)))
            for path, (c, n) in files.items()
        )
    )
    return evaluate(report, CoverageConfig(paths=(Floor("**", 0),)))


def test_a_file_list_is_read_whole() -> None:
    doc = saved(
        files=[{"path": "a.py", "covered": 1, "total": 2}, {"path": "b.py", "covered": 0, "total": 0}]
    )
    assert parse(doc, WHERE) == Baseline(Measure(8, 10), {"a.py": Measure(1, 2), "b.py": Measure(0, 0)}, True)


def test_without_a_file_list_the_file_checks_are_used() -> None:
    checks = [
        {"kind": "total", "subject": "total", "covered": 8, "total": 10},
        {"kind": "file", "subject": "a.py", "covered": 1, "total": 2},
        {"kind": "critical", "subject": "b.py", "covered": 3, "total": 3},
        {"kind": "pattern", "subject": "x/**", "covered": None, "total": None},
    ]
    baseline = parse(saved(checks=checks), WHERE)
    assert baseline == Baseline(Measure(8, 10), {"a.py": Measure(1, 2), "b.py": Measure(3, 3)}, False)


def test_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text("\ufeff" + json.dumps(saved(files=[])), encoding="utf-8")
    assert read(path) == Baseline(Measure(8, 10), {}, True)


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ([], "not a ci-toolkit verdict (no schema_version)"),
        ({"schema_version": "2"}, "not a ci-toolkit verdict (no schema_version)"),
        ({"schema_version": 1, "coverage": None}, "that run judged no coverage"),
        (saved((11, 10)), '"coverage.total" has no covered <= total counts'),
        (saved((True, 10)), '"coverage.total" has no covered <= total counts'),
        ({"schema_version": 1, "coverage": {"total": 3}}, '"coverage.total" has no covered <= total counts'),
        (saved(checks={}), '"coverage.checks" is not a list'),
        (saved(files=["a.py"]), "coverage entry 0 is not an object"),
        (saved(files=[{"path": 1, "covered": 1, "total": 1}]), "coverage entry 0 has no path"),
        (
            saved(checks=[{"kind": "file", "subject": "a.py", "covered": -1, "total": 1}]),
            "coverage entry 0 has",
        ),
    ],
)
def test_what_is_no_verdict_is_one_line(doc: Any, why: str) -> None:
    with pytest.raises(DataError) as info:
        parse(doc, WHERE)
    message = str(info.value)
    assert message.startswith(f"--compare base.json: {why}")
    assert message.endswith("expected the --json output of `ci-toolkit local`, `merge` or `gate`")
    assert "\n" not in message


def test_unreadable_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^--compare .*missing\.json: cannot read it \(No such file"):
        read(tmp_path / "missing.json")
    with pytest.raises(DataError, match="cannot read it"):
        read(tmp_path)
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(DataError, match="cannot read it"):
        read(binary)
    junit = tmp_path / "junit.xml"
    junit.write_text("<testsuites/>")
    with pytest.raises(DataError, match=r"junit\.xml: not JSON; expected the --json output"):
        read(junit)


def test_the_delta_lists_only_files_that_changed_appeared_or_went_away() -> None:
    baseline = Baseline(
        Measure(6, 10),
        {"app/same.py": Measure(1, 2), "app/up.py": Measure(1, 4), "app/gone.py": Measure(1, 1)},
        True,
    )
    now = verdict_of(app__same=(2, 4), app__up=(3, 4), app__new=(0, 2))
    assert delta(baseline, now) == Delta(
        60.0,
        50.0,
        (
            FileDelta("app/gone.py", 100.0, None),
            FileDelta("app/new.py", None, 0.0),
            FileDelta("app/up.py", 25.0, 75.0),
        ),
    )
    assert delta(baseline, now).total_change == -10.0


def test_against_a_partial_baseline_only_files_on_both_sides_compare() -> None:
    baseline = Baseline(Measure(1, 2), {"a.py": Measure(1, 2), "gone.py": Measure(0, 1)}, False)
    now = verdict_of(a=(2, 2), b=(0, 2))
    assert delta(baseline, now) == Delta(50.0, 50.0, (FileDelta("a.py", 50.0, 100.0),))
