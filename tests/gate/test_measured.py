"""The coverage model: exact measures, what a file and a report add up to."""

from __future__ import annotations

from ci_toolkit.gate.measured import CoverageReport, FileCoverage, Measure


def test_measure_helpers() -> None:
    assert Measure(1, 2) + Measure(3, 4) == Measure(4, 6)
    assert Measure.sum([]) == Measure(0, 0)
    assert Measure(0, 0).percent == 100.0 and Measure(1, 4).percent == 25.0
    assert Measure(0, 0).display == "100.00" and Measure(1, 3).display == "33.33"
    assert Measure(5, 5).display == "100.00"


def test_a_file_counts_lines_and_branches_together() -> None:
    f = FileCoverage("a.py", statements=10, missing_lines=(3, 4), branches=4, missing_branches=((5, -1),))
    assert (f.covered, f.total, f.measure) == (11, 14, Measure(11, 14))
    assert Measure(7, 10).meets(70) and not Measure(7, 10).meets(70.01) and Measure(0, 0).meets(100)


def test_a_report_keeps_its_files_sorted_and_totals_them() -> None:
    report = CoverageReport((FileCoverage("b.py", 2, (1,)), FileCoverage("a.py", 3)))
    assert [f.path for f in report.files] == ["a.py", "b.py"]
    assert report.total == Measure(4, 5)
    assert report.get("b.py") == FileCoverage("b.py", 2, (1,)) and report.get("c.py") is None
