"""The `timings` commands (merge, import, show), and JUnit node ids checked against pytest's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import ci_toolkit
from ci_toolkit.commands.timings import group
from ci_toolkit.run.results import load_outcomes
from ci_toolkit.timing import (
    History,
    Observation,
    TestTiming,
    empty,
    load,
    observations_from_junit,
    save,
    update,
)

REPO = Path(ci_toolkit.__file__).parent.parent


def obs(call: float, setup: float = 0.0, teardown: float = 0.0, lane: str = "") -> Observation:
    return Observation(setup, call, teardown, lane)


def timing(
    call: float, setup: float = 0.0, *, runs: int = 1, last_seen: int = 1, lane: str = ""
) -> TestTiming:
    return TestTiming(setup, call, 0.0, runs, last_seen, lane)


SAMPLE_FILES = {
    "pyproject.toml": """
        [project]
        name = "timed"
        """,
    "tests/__init__.py": "",
    "tests/pool/__init__.py": "",
    "tests/pool/deep/__init__.py": "",
    "tests/pool/test_pool.py": """
        import pytest

        class TestPool:
            @pytest.mark.parametrize("v", ["a.b/c", "v1.2", "x::y", "p[q]"])
            def test_param(self, v):
                pass

            class TestInner:
                def test_inner(self):
                    pass

        def test_plain():
            pass

        def test_fails():
            assert False

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass

        @pytest.fixture
        def broken():
            raise RuntimeError("setup breaks")

        def test_errors(broken):
            pass

        @pytest.mark.xfail(reason="known")
        def test_xfail():
            assert False
        """,
    # A test inherited from a class in another module: xunit1's file attribute names that module.
    "tests/pool/deep/base_cases.py": """
        class Base:
            def test_inherited(self):
                pass
        """,
    "tests/pool/deep/test_deep.py": """
        from tests.pool.deep.base_cases import Base

        class TestChild(Base):
            pass

        def test_deep():
            pass
        """,
    "tests/pool/deep/test_skipmod.py": """
        import pytest

        pytest.skip("whole module", allow_module_level=True)
        """,
    # A directory with a dot in its name: classname "tests.v1.2.test_dotted" is ambiguous without the tree.
    "tests/v1.2/test_dotted.py": """
        import pytest

        @pytest.mark.parametrize("n", [1.5, "a/b"])
        def test_dotted(n):
            pass

        class TestK:
            def test_k(self):
                pass
        """,
    "test_top.py": """
        def test_top():
            pass
        """,
}


@dataclass(frozen=True)
class Sample:
    root: Path
    junit: Mapping[str, Path]  # family -> file
    results: Path  # our plugin's results file, the node ids as pytest itself wrote them


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def run_pytest(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE_", "COVERAGE_"))}
    # The ci_toolkit under test, whatever an editable install elsewhere points at.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # test_fails fails, by design


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    root = tmp_path_factory.mktemp("timed")
    write_files(root, SAMPLE_FILES)
    results = root / "results.json"
    run_pytest(root, "-o", "junit_family=xunit1", "--junitxml=x1.xml", f"--ci-toolkit-results={results}")
    run_pytest(root, "-o", "junit_family=xunit2", "--junitxml=x2.xml")
    return Sample(root, {"xunit1": root / "x1.xml", "xunit2": root / "x2.xml"}, results)


@pytest.mark.e2e
@pytest.mark.parametrize("family", ["xunit1", "xunit2"])
def test_junit_node_ids_are_pytests_own(
    family: str, sample: Sample, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = load_outcomes(sample.results)
    ran = {o.nodeid for o in outcomes if o.outcome in ("passed", "failed")}  # JUnit marks xfail skipped
    assert "tests/pool/test_pool.py::TestPool::test_param[x::y]" in ran
    assert "tests/v1.2/test_dotted.py::test_dotted[a/b]" in ran
    observed = observations_from_junit(sample.junit[family], sample.root, "unit")
    assert set(observed) == ran
    assert all(
        o.setup == 0.0 and o.teardown == 0.0 and o.call >= 0.0 and o.lane == "unit" for o in observed.values()
    )
    assert capsys.readouterr().err == ""


# -- the commands ------------------------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    # A throwaway parent so the usage lines read as they will under `ci-toolkit`.
    parent = click.Group("ci-toolkit", commands=[group])
    return CliRunner().invoke(parent, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.ci-toolkit]\ntimings_alpha = 0.5\n'
    )
    monkeypatch.chdir(root)
    return root


def test_merge_command_combines_shards_and_skips_bad_inputs(project: Path) -> None:
    save(project / "s1.json", History("app", 3, {"a.py::x": timing(1.0, last_seen=3)}))
    save(
        project / "s2.json",
        History("app", 3, {"a.py::y": timing(2.0, last_seen=3), "a.py::x": timing(3, last_seen=2)}),
    )
    save(project / "foreign.json", History("other", 9, {"z.py::z": timing(9.0, last_seen=9)}))
    (project / "corrupt.json").write_text("{")
    result = invoke(
        "timings", "merge", "out.json", "s1.json", "corrupt.json", "s2.json", "foreign.json", "none.json"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "merged 2 timing histories of app into out.json: 2 tests, run 3\n"
    assert result.stderr.splitlines() == [
        "ci-toolkit: warning: corrupt.json: timing history is not valid JSON "
        "(Expecting property name enclosed in double quotes at line 1); skipped",
        "ci-toolkit: warning: none.json: no such timing history; skipped",
        "ci-toolkit: warning: foreign.json: timing history is for project 'other', not 'app'; skipped",
    ]
    merged = load(project / "out.json", "app")
    assert merged == History(
        "app", 3, {"a.py::x": timing(1.0, last_seen=3), "a.py::y": timing(2.0, last_seen=3)}
    )


def test_merge_outside_a_project_follows_the_majority_or_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, proj in (("a.json", "one"), ("b.json", "two"), ("c.json", "two")):
        save(tmp_path / name, History(proj, 1, {f"{name}::t": timing(1.0)}))
    result = invoke("timings", "merge", "out.json", "a.json", "b.json", "c.json")
    assert result.exit_code == 0
    assert "1 timing history" not in result.stdout and "2 timing histories of two" in result.stdout
    assert (
        result.stderr
        == "ci-toolkit: warning: a.json: timing history is for project 'one', not 'two'; skipped\n"
    )
    result = invoke("timings", "merge", "--project", "one", "out-one.json", "a.json", "b.json")
    assert result.stdout == "merged 1 timing history of one into out-one.json: 1 tests, run 1\n"


def test_merge_with_nothing_usable_fails_and_writes_nothing(project: Path) -> None:
    (project / "corrupt.json").write_text("[]")
    result = invoke("timings", "merge", "out.json", "corrupt.json")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "ci-toolkit: error: none of the 1 input(s) is a usable timing history; out.json not written"
    )
    assert not (project / "out.json").exists()


@pytest.mark.e2e
def test_import_command_brings_junit_into_the_history(
    sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sample.root)
    out = tmp_path / "history.json"
    result = invoke("timings", "import", "--lane", "unit", str(out), str(sample.junit["xunit2"]))
    assert result.exit_code == 0, result.output
    ran = {o.nodeid for o in load_outcomes(sample.results) if o.outcome in ("passed", "failed")}
    assert (
        result.stdout
        == f"imported {len(ran)} test times from 1 file(s) into {out}: {len(ran)} tests, run 1\n"
    )
    first = load(out, "timed")
    assert set(first.tests) == ran and first.run == 1
    assert {t.lane for t in first.tests.values()} == {"unit"}
    # Again, into the existing history: one more run, each test smoothed.
    result = invoke("timings", "import", str(out), str(sample.junit["xunit1"]))
    assert result.exit_code == 0, result.output
    second = load(out, "timed")
    assert second.run == 2 and set(second.tests) == ran
    assert all(t.runs == 2 and t.last_seen == 2 for t in second.tests.values())


def test_import_command_reads_durations_and_uses_the_configured_alpha(project: Path) -> None:
    save(project / "h.json", update(empty("app"), {"t.py::a": obs(1.0)}))
    (project / ".test_durations").write_text(json.dumps({"t.py::a": 3.0, "t.py::b": 2.0}))
    result = invoke("timings", "import", "h.json", ".test_durations")
    assert result.exit_code == 0, result.output
    history = load(project / "h.json", "app")
    assert history.tests["t.py::a"].call == 2.0  # alpha 0.5 from [tool.ci-toolkit]
    assert history.tests["t.py::b"] == TestTiming(0.0, 2.0, 0.0, 1, 2, "")


def test_import_outside_a_project_takes_root_and_project_from_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "checkout"
    write_files(src, {"tests/test_a.py": ""})
    work = tmp_path / "work"
    work.mkdir()
    (work / "j.xml").write_text(
        '<testsuite><testcase classname="tests.test_a" name="test_x" time="2"/></testsuite>'
    )
    monkeypatch.chdir(work)
    result = invoke("timings", "import", "--root", str(src), "--project", "shop", "h.json", "j.xml")
    assert result.exit_code == 0, result.output
    assert load(work / "h.json", "shop").tests == {"tests/test_a.py::test_x": TestTiming(0.0, 2.0, 0.0, 1, 1)}
    # Without --root, node ids are relative to the working directory, where tests/test_a.py is not.
    result = invoke("timings", "import", "h2.json", "j.xml")
    assert result.exit_code == 2
    assert "1 test case(s) whose file was not found under" in result.stderr


def test_import_of_only_skipped_tests_fails(project: Path) -> None:
    (project / "j.xml").write_text(
        '<testsuite><testcase classname="t" name="x"><skipped/></testcase></testsuite>'
    )
    result = invoke("timings", "import", "h.json", "j.xml")
    assert result.exit_code == 2
    assert result.stderr == (
        "ci-toolkit: error: no test times found in j.xml (only skipped or errored tests?); "
        "h.json not written\n"
    )
    result = invoke("timings", "import", "h.json", "missing.xml")
    assert result.exit_code == 2
    assert result.stderr == "ci-toolkit: error: missing.xml: no such file\n"


def test_show_lists_the_slowest_tests(project: Path) -> None:
    history = History(
        "app",
        4,
        {
            "tests/test_a.py::fast": TestTiming(0.0, 0.5, 0.0, 4, 4, "unit", "branch+xdist"),
            "tests/test_a.py::slow": TestTiming(1.0, 8.0, 0.5, 3, 4, "unit", "branch+xdist"),
            "tests/test_b.py::mid": TestTiming(0.0, 2.0, 0.0, 1, 2, "db", "off"),
        },
        {"tests/test_b.py::mid": {"branch": TestTiming(0.0, 6.0, 0.0, 1, 1, "db", "branch")}},
    )
    save(project / ".ci-toolkit" / "timings.json", history)
    result = invoke("timings", "show", "--limit", "2")
    assert result.exit_code == 0, result.output
    path = project / ".ci-toolkit" / "timings.json"
    assert result.stdout.splitlines() == [
        f"timing history {path}: project app, 4 run(s), 3 tests, 12.0 s in all",
        "tests measured per mode: 1 coverage branch, 2 coverage branch, xdist, 1 no coverage",
        "slowest 2:",
        "  seconds    setup     call teardown  runs source       test",
        "    9.500    1.000    8.000    0.500     3 history      tests/test_a.py::slow",
        "    2.000    0.000    2.000    0.000     1 history      tests/test_b.py::mid",
    ]


def test_show_without_a_history_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("timings", "show")
    assert result.exit_code == 0
    path = tmp_path / ".ci-toolkit" / "timings.json"
    assert result.stdout == f"timing history {path}: none yet (`ci-toolkit local` records one)\n"
    result = invoke("timings", "show", "--history", "elsewhere.json")
    assert result.stdout.startswith("timing history elsewhere.json: none yet")


@pytest.mark.e2e
def test_show_collect_tells_where_each_estimate_comes_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    write_files(
        root,
        {
            "pyproject.toml": """
                [project]
                name = "est"

                [tool.ci-toolkit]
                timings = "history.json"
                """,
            "tests/api/test_known.py": "def test_a(): pass\ndef test_new(): pass\n",
            "tests/api/test_other.py": "def test_b(): pass\n",
            "test_top.py": "def test_c(): pass\n",
        },
    )
    save(
        root / "history.json",
        History("est", 2, {"tests/api/test_known.py::test_a": TestTiming(0.0, 4.0, 0.0, 2, 2, "all")}),
    )
    monkeypatch.chdir(root)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result = invoke("timings", "show", "--collect")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "tests measured per mode: 1 unknown mode"
    assert lines[2] == "4 collected tests, estimated 16.0 s: 1 history, 1 file, 1 directory, 1 lane"
    assert {tuple(line.split()[-2:]) for line in lines[5:]} == {
        ("history", "tests/api/test_known.py::test_a"),
        ("file", "tests/api/test_known.py::test_new"),
        ("directory", "tests/api/test_other.py::test_b"),
        ("lane", "test_top.py::test_c"),
    }


def test_show_rejects_a_bad_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ci-toolkit]\ntimings_alpha = 2\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("timings", "show")
    assert result.exit_code == 2
    assert result.stderr == (
        "ci-toolkit: error: pyproject.toml: tool.ci-toolkit.timings_alpha: "
        "expected a number > 0 and <= 1, got 2\n"
    )
