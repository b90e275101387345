"""The coverage source: what its entries name, which model paths lie in it, data measured elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit.errors import ConfigError
from ci_toolkit.gate.source import (
    candidate_files,
    elsewhere,
    foreign,
    in_source,
    real,
    relative_path,
    resolve_source,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("app/__init__.py", "app/sub/mod.py", "src/lib/__init__.py", "tool.py", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    return tmp_path


def test_an_entry_is_a_path_first_then_a_package_or_module_here_or_in_src(project: Path) -> None:
    found = resolve_source(["app", "app/sub/mod.py", "app.sub", "lib", "tool", "app.sub.mod"], project, "x")
    assert found == (
        project / "app",
        project / "app/sub/mod.py",
        project / "app/sub",
        project / "src/lib",
        project / "tool.py",
        project / "app/sub/mod.py",
    )


@pytest.mark.parametrize("entry", ["nothing", "app/none.py", "not-a.name!"])
def test_an_entry_that_names_nothing_is_a_config_error(project: Path, entry: str) -> None:
    with pytest.raises(ConfigError, match=r"^pyproject.toml: tool.ci-toolkit.coverage.source: \"") as info:
        resolve_source([entry], project, "pyproject.toml")
    assert f"nor a package or module there or in {project / 'src'}" in str(info.value)


def test_in_source_compares_real_paths(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    link = tmp_path_factory.mktemp("links") / "checkout"
    link.symlink_to(project)
    assert in_source("app/sub/mod.py", link, [project / "app"])
    assert in_source(str(project / "app"), project, [link / "app"])
    assert not in_source("application.py", project, [project / "app"])
    assert not in_source("tool.py", project, [project / "app"])


def test_candidate_files_are_every_python_file_coverage_could_take(project: Path) -> None:
    (project / "app" / "sub" / "data.json").write_text("{}")
    (project / "app" / "sub" / ".#lock.py").write_text("")
    assert candidate_files([project / "app", project / "tool.py"]) == {
        real(project / name) for name in ("app/__init__.py", "app/sub/mod.py", "tool.py")
    }


def test_model_paths_are_relative_to_the_root_when_under_it(project: Path) -> None:
    link = project.parent / f"{project.name}-link"
    link.symlink_to(project)
    assert relative_path("./app//sub/../a.py", project) == "app/a.py"
    assert relative_path(str(project / "app" / "a.py"), project) == "app/a.py"
    assert relative_path(str(link / "app" / "a.py"), project) == "app/a.py"
    assert relative_path(str(project / "app" / "a.py"), link) == "app/a.py"
    assert relative_path("/elsewhere/a.py", project) == "/elsewhere/a.py"


def test_data_measured_elsewhere_names_no_source_file_and_files_gone_here(project: Path) -> None:
    here = {"a.py", "b.py"}
    assert elsewhere([], 0, here.__contains__) is None  # nothing measured: nothing to say
    assert elsewhere(["a.py", "x.py"], 1, here.__contains__) is None  # some under the source
    assert elsewhere(["a.py", "b.py"], 0, here.__contains__) is None  # outside the source, but here
    facts = elsewhere(["a.py", "x.py", "y.py"], 0, here.__contains__)
    assert facts == {"example": "x.py", "gone": 2, "measured": 3}
    assert foreign(Path("cov.json"), [project / "app", Path("/opt/lib")], project, facts) == (
        "cov.json: none of the 3 files it names is under the coverage source (app, /opt/lib), and 2 do "
        "not exist here (e.g. x.py): was it measured in another project or checkout? Re-run the tests "
        "here, or map the paths with coverage.py's [paths] setting and `coverage combine`"
    )
