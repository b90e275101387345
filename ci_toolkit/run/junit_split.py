"""A shared session's JUnit XML, split into one file per lane with the content a session of its own would
have written: its test cases, in the same order, and each suite's counts recomputed from them.

pytest names a test case by its node id: the file's path with "/" as "." and without ".py", then the
classes, as `classname`, and the function with its parameters as `name` (`junit_prefix` goes in front of
`classname`). The lanes' node ids are mapped the same way. A test case no node id maps to (a module that
failed to import reports as its file) goes to every lane, as it would have in sessions of their own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_toolkit.errors import DataError
from ci_toolkit.files.atomic import write_bytes

_COUNTED = {"failures": "failure", "errors": "error", "skipped": "skipped"}


def case_key(nodeid: str) -> tuple[str, str]:
    """(classname, name) of the JUnit test case pytest writes for `nodeid`, without a junit_prefix."""
    path, bracket, params = nodeid.partition("[")
    parts = path.split("::")
    head = parts[0].replace("/", ".")
    parts[0] = head[: -len(".py")] if head.endswith(".py") else head
    parts[-1] += bracket + params
    return ".".join(parts[:-1]), parts[-1]


def split(path: Path, assignment: Mapping[str, Sequence[str]], lanes: Sequence[str]) -> dict[str, bytes]:
    """{lane: its JUnit XML document} from the session's file at `path`; a DataError when it is not
    JUnit XML."""
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError) as exc:
        raise DataError(f"{path}: cannot read the session's JUnit XML: {exc}") from None
    owners: dict[tuple[str, str], set[str]] = {}
    for nodeid, names in assignment.items():
        owners.setdefault(case_key(nodeid), set()).update(n for n in names if n in lanes)
    return {lane: _document(tree.getroot(), lane, owners, lanes) for lane in lanes}


def write(
    path: Path, assignment: Mapping[str, Sequence[str]], lanes: Sequence[str], into: Mapping[str, Path]
) -> None:
    """Split the session's file at `path` and write each lane's to `into[lane]`."""
    for lane, document in split(path, assignment, lanes).items():
        write_bytes(into[lane], document)


def _document(
    root: ET.Element, lane: str, owners: Mapping[tuple[str, str], set[str]], lanes: Sequence[str]
) -> bytes:
    copy = ET.fromstring(ET.tostring(root))
    suites = [copy] if copy.tag == "testsuite" else copy.findall("testsuite")
    for suite in suites:
        for case in suite.findall("testcase"):
            if lane not in _owners(case, owners, lanes):
                suite.remove(case)
        _recount(suite)
    # The declaration as pytest writes it.
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(copy, encoding="unicode").encode()


def _owners(case: ET.Element, owners: Mapping[tuple[str, str], set[str]], lanes: Sequence[str]) -> set[str]:
    classname, name = case.get("classname", ""), case.get("name", "")
    found = owners.get((classname, name))
    if found is None and "." in classname:
        # With a junit_prefix, classname is "PREFIX." + pytest's own.
        found = owners.get((classname.split(".", 1)[1], name))
    return found if found else set(lanes)


def _recount(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for attribute, tag in _COUNTED.items():
        suite.set(attribute, str(sum(len(case.findall(tag)) for case in cases)))
