"""Issue 9 (trust), the timing history and the planning inputs.

- A history ci-toolkit cannot use (another project's, a newer format, unreadable, not a history) is never
  written over: ours is kept beside it (`<stem>.ci-toolkit-<project>.json`) and later runs use that one.
- One bad entry drops that entry, not the file.
- Durations from outside (JUnit time=, pytest-split JSON, our history, our results files) that are not a
  finite number of seconds 0..MAX_SECONDS are dropped; nothing ever writes NaN or Infinity.
- Bad import files, huge classnames and deeply nested JSON are one line and exit 2, never exit 70.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SampleProject
from support import Run, run_ci_toolkit

from ci_toolkit import planning
from ci_toolkit import timing as timings
from ci_toolkit.commands import plan as plan_command
from ci_toolkit.commands import split_report
from ci_toolkit.commands.local import record_timings
from ci_toolkit.config import Config
from ci_toolkit.run.results import LaneResult, TestOutcome
from ci_toolkit.timing import History, Observation, TestTiming, store
from ci_toolkit.timing.nodeids import NodeIds

FOREIGN = "timing history is for project 'billing', not 'app'"
HUGE = "1" * 5000  # more digits than Python turns into an int: json raises a plain ValueError
DEEP = "[" * 100_000 + "]" * 100_000  # json raises RecursionError


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test is a run of its own: what an earlier test was told must not silence this one's warning.
    monkeypatch.setattr(store, "_told", set())
    monkeypatch.delenv(getattr(timings, "REPORTED_ENV", "CI_TOOLKIT_TIMINGS_REPORTED"), raising=False)


def strict_json(text: str) -> Any:
    """json.loads that fails on NaN, Infinity and -Infinity, which are not JSON."""

    def reject(constant: str) -> Any:
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def history_doc(project: str = "app", tests: dict[str, Any] | None = None, **changes: Any) -> str:
    doc: dict[str, Any] = {"version": 1, "tool": "ci-toolkit", "project": project, "run": 1}
    doc["tests"] = tests if tests is not None else {"a.py::old": {"call": 1.0, "last_seen": 1}}
    doc.update(changes)
    return json.dumps(doc)


def lane(*outcomes: TestOutcome, name: str = "unit") -> LaneResult:
    return LaneResult(name, exit_code=0, wall_time=1.0, outcomes=outcomes)


def passed(nodeid: str, call: float = 1.0, setup: float = 0.0, teardown: float = 0.0) -> TestOutcome:
    return TestOutcome(nodeid, "passed", setup, call, teardown)


@pytest.fixture
def app(tmp_path: Path) -> Config:
    root = tmp_path / "app"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "app"\n')
    return Config(root=root, path=root / "pyproject.toml")


def history_file(config: Config) -> Path:
    return config.root / config.timings


# -- 5: a history ci-toolkit cannot use is never written over -------------------------------------------

FOREIGN_FILES = [
    pytest.param(history_doc(project="billing").encode(), FOREIGN, id="another-project"),
    pytest.param(history_doc(version=3).encode(), "timing history version 3 is not supported", id="newer"),
    pytest.param(b"\xff\xfe{", "unreadable timing history", id="not-utf8"),
    pytest.param(b'{"tool": "ci-toolkit", "trunc', "timing history is not valid JSON", id="corrupt"),
    pytest.param(b'{"t.py::a": 1.5}', "looks like a pytest-split durations file", id="pytest-split"),
    pytest.param(b"[tool.x]\n", "timing history is not valid JSON", id="not-json"),
    pytest.param(DEEP.encode(), "timing history is not valid JSON (nested too deeply)", id="deeply-nested"),
    pytest.param(
        history_doc(run=-1).replace("-1", HUGE).encode(),
        "timing history is not valid JSON (a number too long)",
        id="huge-number",
    ),
]


@pytest.mark.parametrize(("content", "reason"), FOREIGN_FILES)
def test_a_history_that_is_not_ours_is_left_as_it_is_and_ours_is_kept_beside_it(
    content: bytes, reason: str, app: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    path = history_file(app)
    path.parent.mkdir()
    path.write_bytes(content)
    beside = path.with_name("timings.ci-toolkit-app.json")

    record_timings(app, [lane(passed("tests/test_a.py::t", 2.0))])
    assert path.read_bytes() == content  # not a byte changed
    assert timings.load(beside, "app").tests == {
        "tests/test_a.py::t": TestTiming(0.0, 2.0, 0.0, 1, 1, "unit", timings.local_mode(app))
    }
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"ci-toolkit: warning: {path}: {reason}")
    assert err.rstrip().endswith(f"left as it is: this project's history is kept in {beside} instead")

    # Later runs read ours from beside it, and every reader sees the same history.
    store._told.clear()  # a new run
    record_timings(app, [lane(passed("tests/test_a.py::t", 4.0))])
    assert path.read_bytes() == content
    again = timings.load(beside, "app")
    assert again.run == 2 and again.tests["tests/test_a.py::t"].runs == 2
    assert timings.load(path, "app") == again
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # the load above is in the same run: not said twice
    assert err.rstrip().endswith(f"left as it is: this project's history is read from and saved to {beside}")


def test_an_unreadable_history_is_not_replaced_either(
    app: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = history_file(app)
    path.parent.mkdir()
    path.write_text(history_doc())
    path.chmod(0)
    try:
        record_timings(app, [lane(passed("tests/test_a.py::t"))])
        assert path.stat().st_mode & 0o777 == 0
    finally:
        path.chmod(0o644)
    assert path.read_text() == history_doc()
    assert "unreadable timing history: Permission denied" in capsys.readouterr().err
    assert set(timings.load(path.with_name("timings.ci-toolkit-app.json"), "app").tests) == {
        "tests/test_a.py::t"
    }


def test_a_fifo_in_place_of_the_history_neither_blocks_nor_is_replaced(
    app: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    path = history_file(app)
    path.parent.mkdir()
    os.mkfifo(path)  # reading it would wait for a writer forever
    record_timings(app, [lane(passed("tests/test_a.py::t"))])
    assert stat.S_ISFIFO(path.lstat().st_mode)
    assert "unreadable timing history: not a regular file" in capsys.readouterr().err
    assert set(timings.load(path.with_name("timings.ci-toolkit-app.json"), "app").tests) == {
        "tests/test_a.py::t"
    }


def test_when_neither_the_file_nor_the_one_beside_it_is_ours_nothing_is_written(
    app: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    path = history_file(app)
    path.parent.mkdir()
    path.write_text(history_doc(project="billing"))
    beside = path.with_name("timings.ci-toolkit-app.json")
    beside.write_text("not json")
    record_timings(app, [lane(passed("tests/test_a.py::t"))])
    assert path.read_text() == history_doc(project="billing") and beside.read_text() == "not json"
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{beside}: timing history is not valid JSON" in err
    assert err.rstrip().endswith("both left as they are: no timing history used or saved (move one away)")


def test_a_lane_of_a_run_leaves_the_warning_to_the_run(
    app: Config, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = history_file(app)
    path.parent.mkdir()
    path.write_text(history_doc(project="billing"))
    monkeypatch.setenv(timings.REPORTED_ENV, str(path))
    assert timings.load(path, "app") == timings.empty("app")
    assert capsys.readouterr().err == ""
    other = app.root / "other.json"  # a history the run does not report on is still warned about
    other.write_text(history_doc(project="billing"))
    timings.load(other, "app")
    assert capsys.readouterr().err.count("\n") == 1


def test_one_bad_entry_among_200_drops_that_entry_not_the_file(
    app: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    tests: dict[str, Any] = {f"tests/test_a.py::t{i:03}": {"call": 1.0, "last_seen": 1} for i in range(200)}
    tests["tests/test_a.py::t100"] = {"call": "slow"}
    path = history_file(app)
    path.parent.mkdir()
    path.write_text(history_doc(tests=tests))
    loaded = timings.load(path, "app")
    assert len(loaded.tests) == 199 and "tests/test_a.py::t100" not in loaded.tests
    err = capsys.readouterr().err
    assert err == (
        f"ci-toolkit: warning: {path}: 1 malformed timing history entry dropped, e.g. "
        "'tests/test_a.py::t100': phase seconds must be numbers 0-1000000\n"
    )
    record_timings(app, [lane(passed("tests/test_a.py::new"))])
    saved = timings.load(path, "app")
    assert len(saved.tests) == 200 and saved.run == 2
    assert capsys.readouterr().err == ""  # said once per run


@pytest.mark.parametrize(
    "bad",
    ["NaN", "Infinity", "-Infinity", "1e999", "-1", "1e300", '"1.5"', "true", "null", HUGE + ".0"],
    ids=["nan", "inf", "-inf", "1e999", "negative", "1e300", "text", "bool", "null", "5000-digits"],
)
def test_a_history_entry_that_is_not_a_number_of_seconds_is_dropped(
    bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timings.json"
    good = '"a.py::good": {"call": 2.0}'
    path.write_text(
        '{"version": 1, "tool": "ci-toolkit", "project": "app", "run": 1, '
        f'"tests": {{{good}, "a.py::bad": {{"setup": {bad}}}}}}}'
    )
    assert set(timings.load(path, "app").tests) == {"a.py::good"}
    assert "1 malformed timing history entry dropped, e.g. 'a.py::bad'" in capsys.readouterr().err


def test_results_with_durations_that_are_not_seconds_are_left_out() -> None:
    outcomes = [
        passed("a.py::ok", 1.0),
        passed("a.py::nan", float("nan")),
        passed("a.py::inf", float("inf")),
        passed("a.py::negative", setup=-1.0),
        passed("a.py::huge", teardown=1e300),
    ]
    assert timings.observations_from_results(outcomes, "unit") == {
        "a.py::ok": Observation(0.0, 1.0, 0.0, "unit")
    }


def test_update_and_save_never_write_nan_or_infinity(tmp_path: Path) -> None:
    history = timings.update(timings.empty("app"), {"a.py::t": Observation(0.0, float("nan"), 0.0)})
    path = tmp_path / "h.json"
    with pytest.raises(ValueError):  # a bug upstream must not become a file nobody can read
        timings.save(path, history)
    assert not path.exists()


# -- 5: `timings import` / `timings merge` -----------------------------------------------------------------


def run_cli(cwd: Path, *args: str) -> Run:
    return run_ci_toolkit(*args, cwd=cwd)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_a.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "app"\n')
    return root


def one_error_line(run: Run, *expected: str) -> None:
    assert run.code == 2, run.describe()
    assert "Traceback" not in run.output, run.describe()
    lines = run.stderr.splitlines()
    assert lines and lines[-1].startswith("ci-toolkit: error: "), run.describe()
    assert all(part in lines[-1] for part in expected), run.describe()


@pytest.mark.e2e
@pytest.mark.parametrize("time_value", ["nan", "NaN", "1e999", "inf", "-1", "-0.5", "1e300"])
def test_import_drops_junit_times_that_are_not_seconds(project: Path, time_value: str) -> None:
    (project / "j.xml").write_text(
        '<testsuite><testcase classname="tests.test_a" name="good" time="1.5"/>'
        f'<testcase classname="tests.test_a" name="bad" time="{time_value}"/></testsuite>'
    )
    run = run_cli(project, "timings", "import", "h.json", "j.xml")
    assert run.code == 0, run.describe()
    skipped = "1 test case(s) with a time that is not a number of seconds 0-1000000 were skipped"
    assert f'{skipped} (e.g. "{time_value}")' in run.stderr
    text = (project / "h.json").read_text()
    assert strict_json(text)["tests"] == {
        "tests/test_a.py::good": {
            "call": 1.5,
            "lane": "",
            "last_seen": 1,
            "runs": 1,
            "setup": 0.0,
            "teardown": 0.0,
        }
    }


@pytest.mark.e2e
def test_import_of_junit_whose_every_time_is_garbage_is_one_line(project: Path) -> None:
    (project / "j.xml").write_text(
        '<testsuite><testcase classname="tests.test_a" name="a" time="abc"/>'
        '<testcase classname="tests.test_a" name="b" time=""/></testsuite>'
    )
    run = run_cli(project, "timings", "import", "h.json", "j.xml")
    one_error_line(run, "j.xml: no usable test time", "2 test case(s) with a time that is not a number")
    assert not (project / "h.json").exists()


@pytest.mark.e2e
def test_import_of_junit_with_one_bad_time_among_good_ones_drops_it(project: Path) -> None:
    (project / "j.xml").write_text(
        '<testsuite><testcase classname="tests.test_a" name="a" time="abc"/>'
        '<testcase classname="tests.test_a" name="b" time="2"/></testsuite>'
    )
    run = run_cli(project, "timings", "import", "h.json", "j.xml")
    assert run.code == 0, run.describe()
    assert set(timings.load(project / "h.json", "app").tests) == {"tests/test_a.py::b"}
    assert 'were skipped (e.g. "abc")' in run.stderr


@pytest.mark.e2e
def test_import_of_a_3000_segment_classname_is_quick_and_skips_that_case(project: Path) -> None:
    (project / "a").mkdir()
    (project / "a" / "a").symlink_to(project / "a")  # a loop: every prefix of a.a.a... is a directory
    (project / "a" / "a.a").symlink_to(project / "a")
    long = ".".join(["a"] * 3000)
    (project / "j.xml").write_text(
        f'<testsuite><testcase classname="{long}" name="t" time="1"/>'
        f'<testcase classname="{long}.b" name="t" time="1"/>'
        '<testcase classname="tests.test_a" name="ok" time="1"/></testsuite>'
    )
    started = time.monotonic()
    run = run_cli(project, "timings", "import", "h.json", "j.xml")
    assert run.code == 0, run.describe()[:2000]
    assert time.monotonic() - started < 30
    assert "2 test case(s) whose file was not found under" in run.stderr
    assert set(timings.load(project / "h.json", "app").tests) == {"tests/test_a.py::ok"}


def test_node_ids_are_still_found_through_dotted_directories(tmp_path: Path) -> None:
    for rel in ("tests/v1.2/test_x.py", "tests/v1/2/test_y.py", "tests/v1.2.test_z.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    ids = NodeIds(tmp_path)
    assert ids.nodeid("tests.v1.2.test_x.TestA", "t[a.b]", None) == "tests/v1.2/test_x.py::TestA::t[a.b]"
    assert ids.nodeid("tests.v1.2.test_y", "t", None) == "tests/v1/2/test_y.py::t"
    assert ids.nodeid("tests.v1.2.test_z", "t", None) == "tests/v1.2.test_z.py::t"
    assert ids.nodeid("tests.v1.2.nothing", "t", None) is None


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param('{"tests/test_a.py::t": ' + DEEP + "}", "unreadable durations file", id="deep-json"),
        pytest.param('{"tests/test_a.py::t": ' + HUGE + "}", "unreadable durations file", id="huge-int"),
        pytest.param("\x00\x01binary\xff", "not a JUnit XML file", id="binary"),
        pytest.param("[1, 2]", "not a JUnit XML file", id="json-list"),
        pytest.param("", "not a JUnit XML file", id="empty"),
        pytest.param('{"a": 1}', "not a pytest-split durations file", id="other-json"),
        pytest.param('{"tests/test_a.py::t": NaN}', "not a pytest-split durations file", id="all-nan"),
        pytest.param("<" * 200_000, "not a JUnit XML file", id="angle-brackets"),
        pytest.param("<a>" * 50_000 + "</a>" * 50_000, "not a JUnit XML file", id="deep-xml"),
    ],
)
def test_import_of_a_file_that_is_not_junit_or_durations_is_one_line(
    project: Path, content: str, expected: str
) -> None:
    (project / "in.dat").write_bytes(content.encode("utf-8", "surrogateescape"))
    run = run_cli(project, "timings", "import", "h.json", "in.dat")
    one_error_line(run, "in.dat: ", expected)
    assert not (project / "h.json").exists()


@pytest.mark.e2e
def test_import_drops_durations_that_are_not_seconds(project: Path) -> None:
    (project / ".test_durations").write_text(
        '{"tests/test_a.py::ok": 2, "tests/test_a.py::nan": NaN, "tests/test_a.py::inf": 1e999, '
        '"tests/test_a.py::neg": -1, "tests/test_a.py::text": "1"}'
    )
    run = run_cli(project, "timings", "import", "h.json", ".test_durations")
    assert run.code == 0, run.describe()
    assert "4 duration(s) that are not a number of seconds 0-1000000 were skipped" in run.stderr
    assert list(strict_json((project / "h.json").read_text())["tests"]) == ["tests/test_a.py::ok"]


@pytest.mark.e2e
@pytest.mark.parametrize("command", ["import", "merge"])
def test_import_and_merge_refuse_to_write_over_a_file_that_is_not_ours(project: Path, command: str) -> None:
    (project / "j.xml").write_text(
        '<testsuite><testcase classname="tests.test_a" name="t" time="1"/></testsuite>'
    )
    timings.save(
        project / "h.json", timings.update(timings.empty("app"), {"tests/test_a.py::t": Observation(0, 1, 0)})
    )
    source = "j.xml" if command == "import" else "h.json"
    pyproject = (project / "pyproject.toml").read_bytes()
    run = run_cli(project, "timings", command, "pyproject.toml", source)
    one_error_line(run, "pyproject.toml: refuse to write over a file that is not ours")
    assert (project / "pyproject.toml").read_bytes() == pyproject
    # Another project's history is not ours to replace either, nor one of a newer format.
    for name, text in (("billing.json", history_doc(project="billing")), ("v3.json", history_doc(version=3))):
        (project / name).write_text(text)
        run = run_cli(project, "timings", command, name, source)
        one_error_line(run, f"{name}: refuse to write over a file that is not ours")
        assert (project / name).read_text() == text


@pytest.mark.e2e
def test_merge_skips_deep_and_huge_inputs_with_a_warning(project: Path) -> None:
    (project / "deep.json").write_text(DEEP)
    (project / "huge.json").write_text(history_doc(run=-1).replace("-1", HUGE))
    timings.save(
        project / "h.json", timings.update(timings.empty("app"), {"tests/test_a.py::t": Observation(0, 1, 0)})
    )
    run = run_cli(project, "timings", "merge", "out.json", "deep.json", "huge.json", "h.json")
    assert run.code == 0, run.describe()
    assert "deep.json: timing history is not valid JSON" in run.stderr
    assert "huge.json: timing history is not valid JSON" in run.stderr
    assert set(timings.load(project / "out.json", "app").tests) == {"tests/test_a.py::t"}


@pytest.mark.e2e
def test_import_into_an_unwritable_place_is_one_line(project: Path) -> None:
    (project / "j.xml").write_text(
        '<testsuite><testcase classname="tests.test_a" name="t" time="1"/></testsuite>'
    )
    (project / "file").write_text("")
    run = run_cli(project, "timings", "import", "file/h.json", "j.xml")
    one_error_line(run, "file/h.json: cannot write")


# -- 17: never Infinity in a plan or a report ---------------------------------------------------------------


def test_a_plan_of_huge_estimates_is_still_json() -> None:
    tests = [f"tests/test_{i}.py::t" for i in range(4)]
    plan = planning.make_plan(tests, lambda nodeid: TestTiming(1e308, 1e308, 1e308), 2)
    text = json.dumps(planning.to_json(plan), allow_nan=False)
    assert strict_json(text)["total"] == 4 * 3 * timings.MAX_SECONDS


@pytest.mark.e2e
def test_plan_json_never_says_infinity(
    sample_project_factory: Callable[..., SampleProject], tmp_path: Path
) -> None:
    project = sample_project_factory()
    history = history_file(project.config())
    history.parent.mkdir(parents=True, exist_ok=True)
    tests = {nodeid: {"call": 1e308, "setup": 1e308} for nodeid in SampleProject.UNIT}
    tests[SampleProject.SERIAL[0]] = {"call": 3.0}
    history.write_text(history_doc(project="samplepkg", tests=tests))
    warnings = ""
    for fmt in ("json", "github-matrix"):
        result = CliRunner().invoke(
            plan_command.command,
            ["--shards", "2", "--format", fmt, "--config", str(project.root / "pyproject.toml")],
        )
        assert result.exit_code == 0, result.output
        strict_json(result.stdout)
        warnings += result.stderr
    assert warnings.count("4 malformed timing history entries dropped") == 1  # once per process


def shard_dir(tmp_path: Path, lanes: dict[str, Any], lower_bound: float = 1.0) -> Path:
    directory = tmp_path / "shard1"
    (directory / "results").mkdir(parents=True)
    plan = planning.make_plan(["a.py::t"], lambda nodeid: TestTiming(0.0, 1.0, 0.0), 1)
    doc = planning.to_json(plan)
    doc["lower_bound"] = lower_bound
    (directory / "plan.json").write_text(json.dumps(doc))
    (directory / "run.json").write_text(
        '{"version": 1, "shard": 1, "shards": 1, "lanes": {'
        + ", ".join(f'"{k}": {v}' for k, v in lanes.items())
        + "}}"
    )
    return directory


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999", "1e300"])
def test_split_report_rejects_wall_times_that_are_not_seconds(tmp_path: Path, value: str) -> None:
    directory = shard_dir(tmp_path, {"unit": value})
    result = CliRunner().invoke(split_report.command, [str(directory), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"ci-toolkit: error: {directory}/run.json: lane unit: wall time must be a number of seconds 0-1000000"
    )
    assert not (tmp_path / "r.json").exists()


def test_split_report_json_has_no_infinite_ratio(tmp_path: Path) -> None:
    directory = shard_dir(tmp_path, {"unit": 1000}, lower_bound=5e-324)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(split_report.command, [str(directory), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert strict_json(out.read_text())["slowest_vs_lower_bound"] is None


@pytest.mark.parametrize("content", [DEEP, '{"shard": ' + HUGE + "}"], ids=["deep", "huge-int"])
def test_split_report_of_deep_or_huge_json_is_one_line(tmp_path: Path, content: str) -> None:
    directory = shard_dir(tmp_path, {"unit": 1})
    (directory / "run.json").write_text(content)
    result = CliRunner().invoke(split_report.command, [str(directory)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"ci-toolkit: error: {directory}/run.json: run record is not valid JSON")


# -- 5, end to end: `ci-toolkit local` with somebody else's history ----------------------------------------

TWO_XDIST_LANES = """
[tool.ci-toolkit]
workers = 2

[[tool.ci-toolkit.lanes]]
name = "main"
markers = "not integration"

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
"""


@pytest.mark.e2e
def test_local_leaves_a_foreign_history_alone_and_warns_once_per_run(
    sample_project_factory: Callable[..., SampleProject],
) -> None:
    project = sample_project_factory(pyproject_extra=TWO_XDIST_LANES)
    path = project.root / ".ci-toolkit" / "timings.json"
    path.parent.mkdir()
    foreign = history_doc(project="billing", tests={"tests/test_unit.py::test_add": {"call": 7.0}})
    path.write_text(foreign)
    beside = path.with_name("timings.ci-toolkit-samplepkg.json")
    for run_number in (1, 2):
        run = run_ci_toolkit("local", "--no-color", "--", "-p", "no:cacheprovider", cwd=project.root)
        assert run.code == 0, run.describe()
        assert run.output.count("timing history is for project 'billing'") == 1, run.describe()
        assert path.read_text() == foreign
        ours = timings.load(beside, "samplepkg")
        assert ours.run == run_number and len(ours.tests) == 7


def test_show_names_the_file_the_history_was_read_from(app: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    from ci_toolkit.commands.timings import group

    path = history_file(app)
    path.parent.mkdir()
    path.write_text(history_doc(project="billing"))
    beside = path.with_name("timings.ci-toolkit-app.json")
    timings.save(beside, History("app", 3, {"a.py::t": TestTiming(0.0, 2.0, 0.0, 3, 3)}))
    monkeypatch.chdir(app.root)
    result = CliRunner().invoke(group, ["show"])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[0]
        == f"timing history {beside}: project app, 3 run(s), 1 tests, 2.0 s in all"
    )
    assert result.stderr.count("\n") == 1 and FOREIGN in result.stderr
    assert path.read_text() == history_doc(project="billing")
