"""coverage.py's parse of the source, made while the tests run: taken by the analysis only where coverage.py
would have made exactly that parse, so the report is the one it would have been without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import coverage
import pytest
from coverage.python import PythonFileReporter
from support import coverage_run, unmeasured_env

from ci_toolkit.gate import parsed

_MODULE = """\
def f(x):
    if x > 3:
        return "big"
    for i in range(x):
        if i == 2:
            break
    raise_it = x == 99
    if raise_it:
        raise NotImplementedError  # excluded by the project's exclude_also
    return "small"  # pragma: no cover
"""


def project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "m.py").write_text(_MODULE)
    (root / "pyproject.toml").write_text(
        '[tool.coverage.report]\nexclude_also = ["raise NotImplementedError"]\n'
    )
    return root / "pkg" / "m.py"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose analysis would run in this process (the test process is itself measured, which
    normally sends the analysis to a child): the module the parses are taken for."""
    module = project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(parsed, "_here", lambda root: True)
    return module


def exclusions() -> str:
    cov = coverage.Coverage(data_file=None, config_file=True)
    return cov._exclude_regex("exclude")


def test_a_parse_is_taken_only_for_the_same_text_and_exclusions(here: Path) -> None:
    parses = parsed.Parses()
    name = os.path.realpath(here)
    parses.parse(lambda: [name], here.parent.parent, branch=True)
    assert parses.complete
    exclude = exclusions()
    assert "NotImplementedError" in exclude
    made = parses.take(name, exclude)
    assert made is not None and made.arcs()
    assert parses.take(name, exclude + "|other") is None
    assert parses.take(name + "x", exclude) is None

    here.write_text(_MODULE.replace("x > 3", "x > 4"))
    assert parses.take(name, exclude) is None, "the file changed since it was parsed"


def test_the_reporters_take_the_parse_and_parse_what_changed(here: Path) -> None:
    parses = parsed.Parses()
    name = os.path.realpath(here)
    parses.parse(lambda: [name], here.parent.parent, branch=True)
    cov = coverage.Coverage(data_file=None, config_file=True)
    original = PythonFileReporter.__dict__["parser"]
    with parses.reused():
        reporter = PythonFileReporter(name, cov)
        assert reporter.parser is parses.take(name, exclusions())
        statements = reporter.lines()
        here.write_text(_MODULE.replace("  # pragma: no cover", ""))  # one statement more
        changed = PythonFileReporter(name, cov)
        assert changed.parser is not reporter.parser
        assert changed.lines() != statements
    assert PythonFileReporter.__dict__["parser"] is original, "coverage.py is left as it was"
    assert PythonFileReporter(name, cov).lines() == changed.lines()


def test_stop_ends_the_parse(here: Path) -> None:
    parses = parsed.Parses()
    parses.stop()
    parses.parse(lambda: [os.path.realpath(here)], here.parent.parent, branch=False)
    assert not parses.complete
    assert parses.take(os.path.realpath(here), exclusions()) is None
    with parses.reused():  # nothing to reuse: coverage.py's own property stays
        assert PythonFileReporter.__dict__["parser"].fget.__module__ == "coverage.python"


def test_a_new_run_begins_with_nothing_of_the_last(here: Path) -> None:
    parses = parsed.Parses()
    name = os.path.realpath(here)
    parses.parse(lambda: [name], here.parent.parent, branch=False)
    parses.stop()
    parses.begin()
    assert not parses.complete and parses.take(name, exclusions()) is None
    parses.parse(lambda: [name], here.parent.parent, branch=False)  # the last run's stop is forgotten
    assert parses.complete and parses.take(name, exclusions()) is not None


def test_nothing_is_parsed_for_an_analysis_that_will_not_run_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The analysis runs in this process only with the project root as working directory and no
    coverage.py measuring this process (analysis._analyse_here); elsewhere a parse here is wasted."""
    module = project(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(coverage.Coverage, "current", classmethod(lambda cls: None))
    parses = parsed.Parses()
    parses.parse(lambda: [os.path.realpath(module)], module.parent.parent, branch=True)
    assert not parses.complete
    monkeypatch.chdir(module.parent.parent)
    monkeypatch.setenv("CI_TOOLKIT_ANALYSE_IN_CHILD", "1")
    parses.parse(lambda: [os.path.realpath(module)], module.parent.parent, branch=True)
    assert not parses.complete
    monkeypatch.delenv("CI_TOOLKIT_ANALYSE_IN_CHILD")
    parses.parse(lambda: [os.path.realpath(module)], module.parent.parent, branch=True)
    assert parses.complete


def test_unreadable_or_foreign_files_are_left_to_the_analysis(here: Path) -> None:
    (here.parent / "broken.py").write_text("def f(:\n")
    parses = parsed.Parses()
    names = [os.path.realpath(here.parent / "broken.py"), os.path.realpath(here.parent / "gone.py")]
    parses.parse(lambda: names, here.parent.parent, branch=True)
    assert parses.complete
    assert all(parses.take(name, exclusions()) is None for name in names)


# The analysis as `ci-toolkit local` runs it: in a process coverage.py does not measure, the parse made
# first, then the analysis of real data, counting the parses coverage.py makes itself.
_SCRIPT = """\
import json, os, sys
from pathlib import Path
from coverage.parser import PythonParser
from ci_toolkit.gate import analysis
from ci_toolkit.gate.parsed import PARSES
from ci_toolkit.gate.source import candidate_files

root, data, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
os.chdir(root)
if mode.startswith("early"):
    PARSES.parse(lambda: sorted(candidate_files([root / "pkg"])), root, True)
    assert PARSES.complete
if mode.endswith("edited"):
    m = root / "pkg" / "m.py"
    m.write_text(m.read_text().replace("    if raise_it:", "    if raise_it:  # pragma: no cover"))
made = 0
parse_source = PythonParser.parse_source
def counted(self):
    global made
    made += 1
    return parse_source(self)
PythonParser.parse_source = counted
scope = {"source": [str(root / "pkg")], "known": []}
report = analysis.analysis(Path("d"), data, root, None, scope)
print(json.dumps({"files": report["files"], "parsed": made}))
"""


def analysed(root: Path, data: Path, mode: str) -> dict[str, Any]:
    env = unmeasured_env()
    env.pop("CI_TOOLKIT_ANALYSE_IN_CHILD", None)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(root), str(data), mode],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


@pytest.mark.e2e
def test_the_report_with_parses_made_early_is_the_report_without(tmp_path: Path) -> None:
    root = tmp_path / "project"
    module = project(root)
    (root / "pkg" / "other.py").write_text("def g():\n    return 1\n")  # never imported
    (root / "drive.py").write_text("from pkg import m\nm.f(1)\nm.f(5)\n")
    data = coverage_run(root, "drive.py", root / "data.cov")
    original = module.read_text()

    early = analysed(root, data, "early")
    fresh = analysed(root, data, "fresh")
    assert early["parsed"] == 0, "every file's parse was taken"
    assert fresh["parsed"] == 3
    assert early["files"] == fresh["files"]

    edited_early = analysed(root, data, "early-edited")  # parsed, then changed before the analysis
    module.write_text(original)
    edited_fresh = analysed(root, data, "fresh-edited")  # the same change, nothing parsed early
    assert edited_early["parsed"] == 1, "the changed file, and only it, is parsed again"
    assert edited_early["files"] == edited_fresh["files"] != early["files"]
