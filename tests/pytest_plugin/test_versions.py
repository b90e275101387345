"""The versions ci-toolkit declares, checked against those installed: one line and a failed run, never an
INTERNALERROR or a half-green summary, when a project pins pytest-xdist (or pytest...) below them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import cli_env, imports_after, run_ci_toolkit

from ci_toolkit.errors import ExitCode, PytestExit
from ci_toolkit.versions import installed_problems, message, problems

DECLARED = [
    "pytest>=8.0",
    "pytest-xdist>=3.5",
    'tomli>=2.0; python_version < "3.11"',
    'ruff>=0.6; extra == "test"',
]


def versions(**found: str) -> dict[str, str]:
    return {name.replace("_", "-"): version for name, version in found.items()}


def test_versions_in_range_are_no_problem() -> None:
    installed = versions(pytest="8.0.0", pytest_xdist="3.5.0", tomli="2.0.1")
    assert problems(DECLARED, installed.get, python="3.10") == []
    # A pre-release or a post-release of a version in range is in range too.
    assert problems(["pytest>=8.0"], {"pytest": "9.1.0rc1"}.get) == []
    assert problems(["pytest>=8.0"], {"pytest": "8.0.0.post1"}.get) == []


def test_a_version_below_the_floor_is_named_with_what_is_needed() -> None:
    installed = versions(pytest="8.0.2", pytest_xdist="3.4.0")
    assert problems(DECLARED, installed.get, python="3.12") == [
        "pytest-xdist 3.4.0 is installed; ci-toolkit needs pytest-xdist>=3.5"
    ]


def test_a_missing_package_is_named_and_markers_decide_what_is_needed() -> None:
    installed = versions(pytest="8.3.0", pytest_xdist="3.8.0")
    # tomli only on Pythons before 3.11; ruff only for the "test" extra.
    assert problems(DECLARED, installed.get, python="3.11") == []
    assert problems(DECLARED, installed.get, python="3.10") == [
        "tomli is not installed; ci-toolkit needs tomli>=2.0"
    ]


def test_what_cannot_be_read_is_left_to_pip_and_to_the_run() -> None:
    assert problems(["not a requirement!"], {}.get) == []
    assert problems(["pytest>=8.0"], {"pytest": "local-build"}.get) == []


def test_this_environment_is_in_range() -> None:
    assert installed_problems() == []


def test_the_message_says_what_to_do() -> None:
    line = message(["pytest-xdist 3.4.0 is installed; ci-toolkit needs pytest-xdist>=3.5"])
    assert line.startswith("pytest-xdist 3.4.0 is installed; ci-toolkit needs pytest-xdist>=3.5 (pip install")
    assert "\n" not in line


@pytest.fixture
def old_xdist(tmp_path: Path) -> dict[str, str]:
    """An environment in which importlib.metadata finds pytest-xdist 3.4.0, below our floor: a
    dist-info directory on PYTHONPATH, found before the installed one. A stand-in for a project's pin (the
    real old release is not installed here: the version matrix, tests/matrix.py, runs the real floors);
    xdist's code stays the installed one, so only the check can fail the run."""
    fake = tmp_path / "pinned"
    info = fake / "pytest_xdist-3.4.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pytest-xdist\nVersion: 3.4.0\n")
    return cli_env(extra={"PYTHONPATH": str(fake)})


EXPECTED = "ci-toolkit: pytest-xdist 3.4.0 is installed; ci-toolkit needs pytest-xdist>=3.5"


@pytest.mark.e2e
def test_the_plugin_stops_a_run_that_asks_for_it_with_one_line(
    sample_project_factory, old_xdist: dict[str, str]
) -> None:
    project = sample_project_factory("pinned")
    pytest_run = [sys.executable, "-m", "pytest", "-p", "ci_toolkit.pytest_plugin", "-p", "xdist.plugin"]
    asked = subprocess.run(
        [*pytest_run, "-n", "2", "--ci-scheduler", "duration", "--ci-toolkit-results=r.json"],
        cwd=project.root,
        env=old_xdist,
        capture_output=True,
        text=True,
        check=False,
    )
    output = asked.stdout + asked.stderr
    assert asked.returncode == PytestExit.USAGE_ERROR, output
    assert [line for line in output.splitlines() if "ci-toolkit needs" in line] == [
        f"ERROR: {EXPECTED} (pip install what it needs, or a ci-toolkit release that supports yours)"
    ]
    assert "INTERNALERROR" not in output and "Traceback" not in output
    assert not (project.root / "r.json").exists()

    # A pytest run that asks nothing of ci-toolkit is not ours to stop.
    plain = subprocess.run(
        [*pytest_run, "-q"], cwd=project.root, env=old_xdist, capture_output=True, text=True, check=False
    )
    assert plain.returncode == PytestExit.OK, plain.stdout + plain.stderr


@pytest.mark.e2e
def test_local_fails_before_any_test_runs_naming_the_versions(
    sample_project_factory, old_xdist: dict[str, str]
) -> None:
    project = sample_project_factory("pinned-local")
    run = run_ci_toolkit("local", cwd=project.root, env=old_xdist)
    assert run.code == ExitCode.USAGE_ERROR, run.describe()
    assert EXPECTED in run.output
    assert "INTERNALERROR" not in run.output and "passed" not in run.output


def reference(requirements: list[str], installed: dict[str, str], python: str) -> list[str]:
    """What `packaging` alone says of each requirement: the problems' order aside, `problems` must agree."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    found = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(
            {"extra": "", "python_version": python}
        ):
            continue
        version = installed.get(requirement.name)
        if version is None:
            found.append(f"{requirement.name} is not installed")
        elif not requirement.specifier.contains(Version(version), prereleases=True):
            found.append(f"{requirement.name} {version} is installed")
    return found


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.13"])
@pytest.mark.parametrize(
    "version",
    ["7.4.4", "8", "8.0", "8.0.0", "8.0.1", "8.0.0rc1", "8.0.0.post1", "8.0.0.dev3", "10.2", "1!1.0"],
)
def test_the_shapes_decided_without_packaging_agree_with_packaging(version: str, python: str) -> None:
    """ci-toolkit decides its own requirements' simple shapes without importing `packaging` (the
    import was most of the check's cost in every pytest session); every answer must be packaging's."""
    declared = [
        "pytest>=8.0",
        "pytest-cov >= 8.0.0",
        "pytest-xdist[psutil]>=8",
        'tomli>=8.0; python_version < "3.11"',
        "mkdocs>=8.0 ; python_version >= '3.11'",
        'ruff==9.9; extra == "test"',
        "pytest-benchmark>=8.0,<10",  # two specifiers: packaging's
        'click>=8.0; sys_platform == "linux"',  # another marker: packaging's
    ]
    names = ["pytest", "pytest-cov", "pytest-xdist", "tomli", "mkdocs", "ruff", "pytest-benchmark", "click"]
    installed = dict.fromkeys(names, version)
    said = [line.split(";")[0] for line in problems(declared, installed.get, python=python)]
    assert sorted(said) == sorted(reference(declared, installed, python))
    # And a package that is not installed at all.
    del installed["pytest-xdist"]
    said = [line.split(";")[0] for line in problems(declared, installed.get, python=python)]
    assert sorted(said) == sorted(reference(declared, installed, python))


def test_our_own_requirements_are_checked_without_importing_packaging() -> None:
    code = "from ci_toolkit.versions import installed_problems\nassert installed_problems() == []"
    assert "packaging" not in imports_after(code)
