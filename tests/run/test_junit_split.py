"""A shared session's JUnit XML split into the lanes' files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ci_toolkit.errors import DataError
from ci_toolkit.run.junit_split import case_key, split, write

SESSION = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" \
errors="1" failures="1" skipped="1" tests="5" time="3.2" timestamp="2026-12-01T10:00:00" hostname="h">\
<testcase classname="tests.test_a" name="test_ok" time="0.1" />\
<testcase classname="tests.test_a.TestK" name="test_p[a::b.py]" time="0.1">\
<failure message="boom">x</failure></testcase>\
<testcase classname="tests.sub.test_b" name="test_skip" time="0.0"><skipped message="no" /></testcase>\
<testcase classname="tests.test_broken" name="" time="0.0">\
<error message="collection failure">E</error></testcase>\
<testcase classname="tests.sub.test_b" name="test_db" time="1.5" />\
</testsuite></testsuites>"""

ASSIGNMENT = {
    "tests/test_a.py::test_ok": ["unit"],
    "tests/test_a.py::TestK::test_p[a::b.py]": ["unit"],
    "tests/sub/test_b.py::test_skip": ["db"],
    "tests/sub/test_b.py::test_db": ["db"],
}


def test_case_keys_are_pytests_classname_and_name() -> None:
    assert case_key("tests/test_a.py::test_ok") == ("tests.test_a", "test_ok")
    assert case_key("tests/test_a.py::TestK::test_p[a::b.py]") == ("tests.test_a.TestK", "test_p[a::b.py]")
    assert case_key("pkg/mod.py::test_x[1/2]") == ("pkg.mod", "test_x[1/2]")


def suite(document: bytes) -> ET.Element:
    found = ET.fromstring(document).find("testsuite")
    assert found is not None
    return found


def test_each_lane_gets_its_cases_in_order_with_recounted_totals(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(SESSION)
    lanes = split(path, ASSIGNMENT, ["unit", "db"])
    unit, db = suite(lanes["unit"]), suite(lanes["db"])
    assert [c.get("name") for c in unit.findall("testcase")] == ["test_ok", "test_p[a::b.py]", ""]
    assert [c.get("name") for c in db.findall("testcase")] == ["test_skip", "", "test_db"]
    # The collection error belongs to no test: every lane's own session would have reported it.
    assert {k: unit.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "3", "failures": "1", "errors": "1", "skipped": "0"
    }  # fmt: skip
    assert {k: db.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "3", "failures": "0", "errors": "1", "skipped": "1"
    }  # fmt: skip
    assert unit.get("time") == "3.2" and unit.get("hostname") == "h"  # the session's own attributes
    assert lanes["unit"].startswith(b'<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">')


def test_a_junit_prefix_in_front_of_the_classname_is_understood(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(SESSION.replace('classname="tests.', 'classname="ci.tests.'))
    lanes = split(path, ASSIGNMENT, ["unit", "db"])
    assert [c.get("name") for c in suite(lanes["db"]).findall("testcase")] == ["test_skip", "", "test_db"]


def test_the_lanes_files_are_written_and_a_broken_session_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(SESSION)
    into = {"unit": tmp_path / "unit.xml", "db": tmp_path / "db.xml"}
    write(path, ASSIGNMENT, ["unit", "db"], into)
    assert suite(into["db"].read_bytes()).get("tests") == "3"
    path.write_text("<testsuites><testsuite>")
    with pytest.raises(DataError, match=r"junit.xml: cannot read the session's JUnit XML"):
        split(path, ASSIGNMENT, ["unit"])
