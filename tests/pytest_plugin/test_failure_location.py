"""Where a failed test failed, as the results file records it for annotations: the test's file (as in its
node id) and the deepest line of that file in the traceback, else the test's definition line; with
every traceback style pytest has, under xdist, and after a test changed the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.run.results import load_outcomes

pytestmark = pytest.mark.e2e

# Each line a test should be pinned to ends with a `# <-- name` marker; the test finds it by name.
WHERE = """\
    import pytest

    from samplepkg.partial import parse


    def helper_here(x):
        assert x > 0, "not positive"  # <-- test_in_a_helper_of_this_file


    def test_assert():
        value = 1
        assert value == 2  # <-- test_assert


    def test_in_a_helper_of_this_file():
        helper_here(-1)


    def test_in_the_package():
        parse("")  # <-- test_in_the_package


    def test_after_chdir(monkeypatch, tmp_path):
        monkeypatch.chdir(tmp_path)
        assert False, "elsewhere"  # <-- test_after_chdir


    def test_fail_without_traceback():
        pytest.fail("plain", pytrace=False)  # <-- test_fail_without_traceback


    @pytest.mark.parametrize("case", ["a::b", "c,d"])
    def test_param(case):
        raise KeyError(case)  # <-- test_param


    class TestGroup:
        def test_method(self):
            assert [1] == [2]  # <-- test_method


    def test_missing_fixture(no_such_fixture):  # <-- test_missing_fixture
        pass


    def test_passes():
        pass
    """


def _lines(source: str) -> dict[str, int]:
    text = textwrap.dedent(source)
    return {
        line.split("# <-- ")[1].strip(): number
        for number, line in enumerate(text.splitlines(), start=1)
        if "# <-- " in line
    }


LINES = _lines(WHERE)
FILE = "tests/test_where.py"
BROKEN = "tests/test_broken_import.py"
BROKEN_SOURCE = """\
    import os

    import samplepkg.no_such_module
    """


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, sample_project_maker: Callable[..., Any]) -> Path:
    root = tmp_path_factory.mktemp("where") / "project"
    sample_project_maker(root, files={FILE: WHERE, BROKEN: BROKEN_SOURCE})
    return root


def _run(
    root: Path, out: Path, *args: str, path: str = FILE, code: int = 1
) -> dict[str, tuple[str, str, int]]:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        path,
        f"--ci-toolkit-results={out}",
        *args,
    ]
    proc = subprocess.run(argv, cwd=root, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return {o.nodeid.split("::", 1)[-1]: (o.outcome, o.path, o.line) for o in load_outcomes(out)}


def _expected(**overrides: int) -> dict[str, tuple[str, str, int]]:
    lines = {**LINES, **overrides}
    return {
        "test_assert": ("failed", FILE, lines["test_assert"]),
        "test_in_a_helper_of_this_file": ("failed", FILE, lines["test_in_a_helper_of_this_file"]),
        "test_in_the_package": ("failed", FILE, lines["test_in_the_package"]),
        "test_after_chdir": ("failed", FILE, lines["test_after_chdir"]),
        "test_fail_without_traceback": ("failed", FILE, lines["test_fail_without_traceback"]),
        "test_param[a::b]": ("failed", FILE, lines["test_param"]),
        "test_param[c,d]": ("failed", FILE, lines["test_param"]),
        "TestGroup::test_method": ("failed", FILE, lines["test_method"]),
        "test_missing_fixture": ("error", FILE, lines["test_missing_fixture"]),
        "test_passes": ("passed", "", 0),  # only failures carry a place: results files stay small
    }


@pytest.mark.parametrize("style", ["auto", "short", "native"])
def test_the_deepest_line_of_the_test_file(project: Path, tmp_path: Path, style: str) -> None:
    assert _run(project, tmp_path / "results.json", f"--tb={style}") == _expected()


def test_under_xdist_the_controller_finds_it_in_the_workers_reports(project: Path, tmp_path: Path) -> None:
    assert _run(project, tmp_path / "results.json", "-n", "2") == _expected()


def test_without_a_traceback_the_crash_point_or_the_definition(project: Path, tmp_path: Path) -> None:
    # --tb=line (and --tb=no) keep only where the exception was raised: in the test file, that line;
    # elsewhere (here the package) the line the test is defined on.
    source = textwrap.dedent(WHERE).splitlines()
    definition = next(n for n, line in enumerate(source, 1) if "def test_in_the_package(" in line)
    expected = _expected(test_in_the_package=definition)
    assert _run(project, tmp_path / "results.json", "--tb=line") == expected


def test_a_module_that_fails_to_import_is_pinned_to_the_failing_import(project: Path, tmp_path: Path) -> None:
    found = _run(project, tmp_path / "results.json", path=BROKEN, code=2)  # 2: interrupted by the error
    assert found == {BROKEN: ("error", BROKEN, 3)}
