"""The timing history: smoothing, merging, estimates, bad files, JUnit import and the `timings` commands."""

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
from ci_toolkit.errors import DataError
from ci_toolkit.run.results import TestOutcome, load_outcomes
from ci_toolkit.timing.history import (
    DEFAULT,
    Estimator,
    History,
    Observation,
    TestTiming,
    empty,
    load,
    merge,
    observations_from_durations,
    observations_from_file,
    observations_from_junit,
    observations_from_results,
    project_name,
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


# -- update: EWMA, pruning --------------------------------------------------------------------------------


def test_first_observation_is_taken_as_is_and_then_smoothed() -> None:
    first = update(empty("app"), {"t.py::a": obs(2.0, setup=1.0, teardown=0.5, lane="unit")}, alpha=0.5)
    assert first.run == 1
    assert first.tests["t.py::a"] == TestTiming(1.0, 2.0, 0.5, runs=1, last_seen=1, lane="unit")
    assert first.tests["t.py::a"].duration == 3.5
    second = update(first, {"t.py::a": obs(4.0)}, alpha=0.5)
    assert second.run == 2
    # The lane is kept when this run did not say (JUnit imports often do not).
    assert second.tests["t.py::a"] == TestTiming(0.5, 3.0, 0.25, runs=2, last_seen=2, lane="unit")
    third = update(second, {"t.py::a": obs(3.0, lane="slow")}, alpha=0.3)
    assert third.tests["t.py::a"].call == pytest.approx(0.3 * 3.0 + 0.7 * 3.0)
    assert third.tests["t.py::a"].lane == "slow"


def test_tests_unseen_for_more_than_prune_after_runs_are_dropped() -> None:
    h = update(empty("app"), {"t.py::old": obs(1.0), "t.py::kept": obs(1.0)})
    for _ in range(3):
        h = update(h, {"t.py::kept": obs(1.0)}, prune_after=3)
    assert set(h.tests) == {"t.py::old", "t.py::kept"}  # unseen for exactly 3 runs: kept
    h = update(h, {"t.py::kept": obs(1.0)}, prune_after=3)
    assert set(h.tests) == {"t.py::kept"}
    assert h.run == 5


def test_only_tests_that_really_ran_are_observed() -> None:
    outcomes = [
        TestOutcome(f"t.py::{name}", name, setup=0.1, call=1.0, teardown=0.2)
        for name in ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
    ]
    observed = observations_from_results(outcomes, "unit")
    assert set(observed) == {"t.py::passed", "t.py::failed", "t.py::xfailed", "t.py::xpassed"}
    assert observed["t.py::failed"] == Observation(0.1, 1.0, 0.2, "unit")


# -- merge ----------------------------------------------------------------------------------------------


def test_merge_keeps_the_freshest_entry_and_averages_ties() -> None:
    shard1 = History("app", 7, {"a.py::x": timing(1.0, last_seen=7), "a.py::y": timing(5.0, last_seen=3)})
    shard2 = History(
        "app",
        7,
        {
            "a.py::x": timing(3.0, setup=1.0, runs=4, last_seen=7, lane="unit"),
            "a.py::y": timing(9.0, last_seen=2),
            "b.py::z": timing(2.0, last_seen=6),
        },
    )
    older = History("app", 5, {"a.py::y": timing(7.0, last_seen=5)})
    merged = merge([shard1, shard2, older])
    assert merged.project == "app" and merged.run == 7
    assert list(merged.tests) == ["a.py::x", "a.py::y", "b.py::z"]
    assert merged.tests["a.py::x"] == TestTiming(0.5, 2.0, 0.0, runs=4, last_seen=7, lane="unit")
    assert merged.tests["a.py::y"] == timing(7.0, last_seen=5)
    assert merged.tests["b.py::z"] == timing(2.0, last_seen=6)
    assert merge([shard1]) == History("app", 7, dict(sorted(shard1.tests.items())))
    with pytest.raises(ValueError):
        merge([])


# -- estimates --------------------------------------------------------------------------------------------


def test_estimates_fall_back_from_history_to_file_directory_lane_global() -> None:
    known = History(
        "app",
        3,
        {
            "tests/api/test_orders.py::test_a": timing(1.0, setup=1.0),
            "tests/api/test_orders.py::test_b": timing(3.0, setup=0.0),
            "tests/api/v2/test_users.py::test_c": timing(10.0),
            "tests/db/test_q.py::test_d": timing(20.0, lane="db"),
            "test_root.py::test_e": timing(0.5),
        },
    )
    estimate = Estimator(known, lanes={"other/test_n.py::test_new": "db", "tests/db/test_q.py::test_d": "db"})
    cases = {
        "tests/api/test_orders.py::test_a": ("history", timing(1.0, setup=1.0)),
        "tests/api/test_orders.py::TestNew::test_x[1]": ("file", TestTiming(0.5, 2.0, 0.0, 0, 0)),
        # The nearest ancestor with known tests: tests/api/v2 itself has one, tests/api/v3 has none.
        "tests/api/v2/test_new.py::test_x": ("directory", TestTiming(0.0, 10.0, 0.0, 0, 0)),
        "tests/api/v3/deep/test_new.py::test_x": ("directory", TestTiming(1 / 3, 14 / 3, 0.0, 0, 0)),
        "other/test_n.py::test_new": ("lane", TestTiming(0.0, 20.0, 0.0, 0, 0)),
        # Median of 0.5, 2, 3, 10, 20 by duration is 3 (test_b): its phases, as is.
        "elsewhere/test_z.py::test_z": ("global", TestTiming(0.0, 3.0, 0.0, 0, 0)),
        "test_root2.py::test_z": ("global", TestTiming(0.0, 3.0, 0.0, 0, 0)),
    }
    for nodeid, (source, expected) in cases.items():
        assert estimate.source(nodeid) == source, nodeid
        assert estimate(nodeid).setup == pytest.approx(expected.setup), nodeid
        assert estimate(nodeid).duration == pytest.approx(expected.duration), nodeid


def test_a_directory_mean_covers_every_known_test_below_it() -> None:
    known = History("app", 1, {"t/a/x.py::t": timing(1.0), "t/b/y.py::t": timing(3.0)})
    estimate = Estimator(known)
    assert estimate.source("t/c/z.py::t") == "directory"
    assert estimate("t/c/z.py::t").duration == 2.0


def test_global_median_splits_phases_like_the_median_test_and_handles_zero() -> None:
    even = History("app", 1, {"a.py::t": timing(1.0, setup=1.0), "b.py::t": timing(4.0, setup=0.0)})
    # Durations 2 and 4: median 3, shaped like the lower middle test (half setup, half call).
    assert Estimator(even)("c.py::t") == TestTiming(1.5, 1.5, 0.0, runs=0, last_seen=0)
    zero = History("app", 1, {"a.py::t": timing(0.0), "b.py::t": timing(0.0), "c.py::t": timing(2.0)})
    assert Estimator(zero)("d.py::t") == TestTiming(0.0, 0.0, 0.0, runs=0, last_seen=0)
    assert Estimator(zero).source("d.py::t") == "global"


def test_without_any_history_the_default_is_one_second_of_call() -> None:
    estimate = Estimator(empty("app"))
    assert estimate("t.py::x") == DEFAULT
    assert (DEFAULT.setup, DEFAULT.call, DEFAULT.teardown) == (0.0, 1.0, 0.0)
    assert estimate.source("t.py::x") == "default"


def test_estimates_for_many_unknown_tests_are_cached() -> None:
    known = History("app", 1, {f"tests/m{i}/test_x.py::t": timing(float(i)) for i in range(50)})
    estimate = Estimator(known)
    ids = [f"tests/m{i % 50}/test_new{i}.py::t" for i in range(3000)]
    assert all(estimate.source(nodeid) == "directory" for nodeid in ids)
    assert estimate(ids[0]) is estimate(ids[0])


# -- load / save --------------------------------------------------------------------------------------------


def test_save_writes_sorted_rounded_versioned_json_and_load_reads_it_back(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "timings.json"
    original = History(
        "app",
        4,
        {"b.py::t": TestTiming(0.123456, 2.0, 0.00001, 3, 4, "unit"), "a.py::t": TestTiming(0, 1, 0, 1, 2)},
    )
    save(path, original)
    doc = json.loads(path.read_text())
    assert doc == {
        "version": 1,
        "tool": "ci-toolkit",
        "project": "app",
        "run": 4,
        "tests": {
            "a.py::t": {"setup": 0, "call": 1, "teardown": 0, "runs": 1, "last_seen": 2, "lane": ""},
            "b.py::t": {
                "setup": 0.1235,
                "call": 2.0,
                "teardown": 0.0,
                "runs": 3,
                "last_seen": 4,
                "lane": "unit",
            },
        },
    }
    assert path.read_text().index('"a.py::t"') < path.read_text().index('"b.py::t"')
    assert [p.name for p in path.parent.iterdir()] == ["timings.json"]  # no temporary file left
    loaded = load(path, "app")
    assert loaded.tests["b.py::t"] == TestTiming(0.1235, 2.0, 0.0, 3, 4, "unit")
    assert loaded.run == 4


def test_a_missing_history_is_empty_without_a_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load(tmp_path / "none.json", "app") == empty("app")
    assert capsys.readouterr() == ("", "")


def _doc(**changes: object) -> str:
    doc: dict[str, object] = {"version": 1, "tool": "ci-toolkit", "project": "app", "run": 1, "tests": {}}
    doc.update(changes)
    return json.dumps(doc)


BAD_HISTORIES = [
    pytest.param("{not json", "timing history is not valid JSON (Expecting property name", id="corrupt"),
    pytest.param("", "timing history is not valid JSON (Expecting value at line 1)", id="empty-file"),
    pytest.param("[1, 2]", "not a ci-toolkit timing history", id="a-list"),
    pytest.param(
        json.dumps({"tests/test_a.py::test_x": 1.25, "tests/test_a.py::test_y": 0.5}),
        "looks like a pytest-split durations file, not a ci-toolkit timing history "
        "(convert it with `ci-toolkit timings import`)",
        id="pytest-split",
    ),
    pytest.param(_doc(tool="other"), "not a ci-toolkit timing history", id="foreign-tool"),
    pytest.param(
        _doc(version=2),
        "timing history version 2 is not supported (this ci-toolkit reads version 1)",
        id="newer",
    ),
    pytest.param(_doc(run=-1), 'malformed timing history (needs "project", "run" and "tests")', id="bad-run"),
    pytest.param(_doc(tests=[]), "malformed timing history", id="tests-a-list"),
    pytest.param(
        _doc(project="other"), "timing history is for project 'other', not 'app'", id="other-project"
    ),
]


@pytest.mark.parametrize(("text", "reason"), BAD_HISTORIES)
def test_a_bad_history_is_one_warning_line_and_empty(
    text: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings.json"
    path.write_text(text, encoding="utf-8")
    assert load(path, "app") == empty("app")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"ci-toolkit: warning: {path}: {reason}")
    beside = tmp_path / "timings.ci-toolkit-app.json"  # where ours goes: the file is never written over
    assert err.endswith(f"; left as it is: this project's history is kept in {beside} instead\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        pytest.param({"call": "slow"}, "phase seconds must be numbers 0-1000000", id="bad-seconds"),
        pytest.param(
            {"call": 1, "runs": 1.5},
            "runs and last_seen must be whole numbers >= 0, lane a string",
            id="bad-runs",
        ),
        pytest.param(3, "expected an object", id="entry"),
    ],
)
def test_a_bad_entry_is_dropped_with_one_warning_line(
    entry: object, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings.json"
    path.write_text(_doc(tests={"a.py::t": entry, "a.py::u": {"call": 2.0}}), encoding="utf-8")
    assert load(path, "app") == History("app", 1, {"a.py::u": TestTiming(0.0, 2.0, 0.0, 1, 0, "")})
    assert capsys.readouterr() == (
        "",
        f"ci-toolkit: warning: {path}: 1 malformed timing history entry dropped, e.g. 'a.py::t': {reason}\n",
    )


def test_an_unreadable_history_is_a_warning_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bytes.json").write_bytes(b"\xff\xfe{")
    assert load(tmp_path / "bytes.json", "app") == empty("app")
    assert load(tmp_path, "app") == empty("app")  # a directory
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert all(
        line.startswith("ci-toolkit: warning: ") and "unreadable timing history" in line for line in lines
    )


def test_project_name_comes_from_pyproject_or_the_directory(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    assert project_name(tmp_path / "proj") == "proj"
    (tmp_path / "proj" / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    assert project_name(tmp_path / "proj") == "shop"
    (tmp_path / "proj" / "pyproject.toml").write_text("[project\n")
    assert project_name(tmp_path / "proj") == "proj"
    (tmp_path / "proj" / "pyproject.toml").write_text("[tool.x]\n")
    assert project_name(tmp_path / "proj") == "proj"


# -- importing: pytest-split durations and JUnit XML ------------------------------------------------------


def test_a_durations_file_is_told_apart_from_junit(tmp_path: Path) -> None:
    durations = tmp_path / ".test_durations"
    durations.write_text('\ufeff {"t.py::a": 1.5, "t.py::b": 0}', encoding="utf-8")
    assert observations_from_file(durations, tmp_path, "unit") == {
        "t.py::a": Observation(0.0, 1.5, 0.0, "unit"),
        "t.py::b": Observation(0.0, 0.0, 0.0, "unit"),
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.xml", None, "missing.xml: no such file"),
        (
            "bad.json",
            '{"t.py::a": "slow"}',
            'bad.json: not a pytest-split durations file ({"node id": seconds, ...})',
        ),
        ("broken.json", "{", "broken.json: unreadable durations file: Expecting property name"),
        ("broken.xml", "<testsuite><testcase", "broken.xml: not a JUnit XML file: "),
        ("html.xml", "<html><body/></html>", "html.xml: not a JUnit XML file: Invalid format."),
    ],
)
def test_unusable_import_files_are_one_line_data_errors(
    name: str, content: str | None, message: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        observations_from_file(path, tmp_path)
    assert str(info.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(info.value)


def test_the_readers_name_missing_and_unreadable_files(tmp_path: Path) -> None:
    for read, what in (
        (lambda p: observations_from_junit(p, tmp_path), "JUnit XML file"),
        (lambda p: observations_from_durations(p), "durations file"),
    ):
        with pytest.raises(DataError, match=f"^{tmp_path}/none: no such {what}$"):
            read(tmp_path / "none")
        with pytest.raises(DataError, match=f"^{tmp_path}: unreadable {what}: Is a directory$"):
            read(tmp_path)
    with pytest.raises(DataError, match=f"^{tmp_path}: unreadable: Is a directory$"):
        observations_from_file(tmp_path, tmp_path)


def test_junit_cases_whose_file_is_gone_are_skipped_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_here.py").write_text("")
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_here" name="test_a" time="1.5"/>'
        '<testcase classname="tests.test_gone" name="test_b" time="2"/>'
        '<testcase classname="tests.test_gone.TestX" name="test_c" file="tests/test_gone.txt"/>'
        '<testcase classname="tests.test_here" name="test_e" time="0.5"><error message="x"/></testcase>'
        '<testcase classname="" name="tests.test_here" time="0.5"/>'
        "</testsuite></testsuites>"
    )
    assert observations_from_junit(junit, tmp_path, "unit") == {
        "tests/test_here.py::test_a": Observation(0.0, 1.5, 0.0, "unit")
    }
    assert capsys.readouterr().err == (
        f"ci-toolkit: warning: {junit}: 2 test case(s) whose file was not found under {tmp_path} "
        "were skipped\n"
    )


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
            "tests/test_a.py::fast": TestTiming(0.0, 0.5, 0.0, 4, 4, "unit"),
            "tests/test_a.py::slow": TestTiming(1.0, 8.0, 0.5, 3, 4, "unit"),
            "tests/test_b.py::mid": TestTiming(0.0, 2.0, 0.0, 1, 2, "db"),
        },
    )
    save(project / ".ci-toolkit" / "timings.json", history)
    result = invoke("timings", "show", "--limit", "2")
    assert result.exit_code == 0, result.output
    path = project / ".ci-toolkit" / "timings.json"
    assert result.stdout.splitlines() == [
        f"timing history {path}: project app, 4 run(s), 3 tests, 12.0 s in all",
        "slowest 2:",
        "  seconds    setup     call teardown  runs source     test",
        "    9.500    1.000    8.000    0.500     3 history    tests/test_a.py::slow",
        "    2.000    0.000    2.000    0.000     1 history    tests/test_b.py::mid",
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
    assert lines[1] == "4 collected tests, estimated 16.0 s: 1 history, 1 file, 1 directory, 1 lane"
    assert {tuple(line.split()[-2:]) for line in lines[4:]} == {
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
