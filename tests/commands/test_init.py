"""`ci-toolkit init` on real projects in tmp_path: what it writes, what it refuses (writing nothing), and
end to end, that `ci-toolkit local` then passes the lanes check of the lanes it wrote."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import SampleProject
from support import run_ci_toolkit

from ci_toolkit import config
from ci_toolkit.commands.init import command
from ci_toolkit.scaffold import template

WORKFLOW = Path(".github", "workflows", "ci.yml")


@pytest.fixture
def project(
    sample_project_factory: Callable[..., SampleProject], monkeypatch: pytest.MonkeyPatch
) -> SampleProject:
    project = sample_project_factory()
    monkeypatch.chdir(project.root)
    return project


def invoke(*args: str) -> Result:
    return CliRunner().invoke(command, list(args))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_appends_the_table_and_copies_the_workflow(project: SampleProject) -> None:
    before = (project.root / "pyproject.toml").read_bytes()
    result = invoke()
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "ci-toolkit: pyproject.toml: [tool.ci-toolkit] appended",
        f"ci-toolkit: {WORKFLOW}: workflow created",
        "ci-toolkit: next, run `ci-toolkit local`: it checks that every test runs in exactly one lane",
    ]
    after = (project.root / "pyproject.toml").read_bytes()
    assert before.endswith(b"\n\n")  # a blank line there already: nothing between it and the table
    assert after.startswith(before + b"[tool.ci-toolkit]\n")
    assert (project.root / WORKFLOW).read_bytes() == template.workflow()
    loaded = config.load(cwd=project.root)
    assert [(lane.name, lane.markers, lane.workers) for lane in loaded.lanes] == [
        ("default", "not serial and not integration", None),
        ("integration", "integration and not serial", None),
        ("serial", "serial", 0),
    ]
    # The sample project's own [tool.coverage.report] fail_under = 100 carries over.
    assert loaded.coverage.fail_under == 100 and loaded.coverage.source == ("samplepkg",)


def test_a_second_init_is_refused_and_writes_nothing(project: SampleProject) -> None:
    assert invoke().exit_code == 0
    before = snapshot(project.root)
    result = invoke()
    assert result.exit_code == 2
    assert result.stderr == (
        "ci-toolkit: error: pyproject.toml: [tool.ci-toolkit] is there already; pass --force to replace it\n"
    )
    assert snapshot(project.root) == before


def test_a_foreign_workflow_stops_init_before_pyproject_is_touched(project: SampleProject) -> None:
    workflow = project.write(str(WORKFLOW), "name: theirs\n")
    before = snapshot(project.root)
    result = invoke()
    assert result.exit_code == 2
    why = "exists and is not ci-toolkit's workflow; pass --force to replace it"
    assert result.stderr == f"ci-toolkit: error: {WORKFLOW}: {why}\n"
    assert snapshot(project.root) == before
    assert invoke("--no-workflow").exit_code == 0
    assert workflow.read_text(encoding="utf-8") == "name: theirs\n"


def test_force_replaces_both_and_keeps_every_other_byte(project: SampleProject) -> None:
    pyproject = project.root / "pyproject.toml"
    head = pyproject.read_bytes()
    tail = b"\n[tool.ruff]\nline-length = 100\n"
    pyproject.write_bytes(head + b"\n[tool.ci-toolkit]\nworkers = 1\n" + tail)
    project.write(str(WORKFLOW), "name: old\n")
    result = invoke("--force")
    assert result.exit_code == 0, result.output
    assert "[tool.ci-toolkit] replaced lines 17-18" in result.stdout
    after = pyproject.read_bytes()
    assert after.startswith(head + b"\n[tool.ci-toolkit]\n# Written by")
    assert after.endswith(b"critical = []\n" + tail)
    assert (project.root / WORKFLOW).read_bytes() == template.workflow()
    assert invoke("--force").stdout.splitlines()[:2] == [
        "ci-toolkit: pyproject.toml: [tool.ci-toolkit] unchanged",
        f"ci-toolkit: {WORKFLOW}: workflow unchanged",
    ]


def test_dry_run_prints_and_writes_nothing(project: SampleProject) -> None:
    before = snapshot(project.root)
    result = invoke("--dry-run")
    assert result.exit_code == 0
    assert snapshot(project.root) == before
    out = result.stdout
    assert out.startswith("# pyproject.toml: [tool.ci-toolkit] would be appended\n[tool.ci-toolkit]\n")
    assert f"# {WORKFLOW}: workflow would be created\n" + template.workflow().decode() in out


def test_no_workflow(project: SampleProject) -> None:
    assert invoke("--no-workflow").exit_code == 0
    assert not (project.root / ".github").exists()


def test_without_pyproject_one_is_created_holding_the_table(tmp_path: Path) -> None:
    (tmp_path / "src" / "app").mkdir(parents=True)
    (tmp_path / "src" / "app" / "__init__.py").write_text("", encoding="utf-8")
    target = tmp_path / "pyproject.toml"
    result = invoke("--config", str(target), "--no-workflow")
    assert result.exit_code == 0, result.output
    assert f"ci-toolkit: {target}: [tool.ci-toolkit] created" in result.stdout
    assert target.read_text(encoding="utf-8").startswith("[tool.ci-toolkit]\n")
    loaded = config.load(target, cwd=tmp_path)
    assert loaded.coverage.source == ("src/app",) and loaded.coverage.fail_under == 80


def test_mode_and_symlink_are_kept(project: SampleProject) -> None:
    real = project.root / "real.toml"
    (project.root / "pyproject.toml").rename(real)
    (project.root / "pyproject.toml").symlink_to("real.toml")
    real.chmod(0o640)
    assert invoke("--no-workflow").exit_code == 0
    assert (project.root / "pyproject.toml").is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert b"[tool.ci-toolkit]" in real.read_bytes()


@pytest.mark.parametrize("make", ["directory", "dangling"])
def test_a_workflow_path_that_is_not_a_file_is_refused(project: SampleProject, make: str) -> None:
    path = project.root / WORKFLOW
    path.parent.mkdir(parents=True)
    if make == "directory":
        path.mkdir()
        why = "is not a regular file; it is left as it is"
    else:
        path.symlink_to("nowhere.yml")
        why = "is a symlink to nothing; fix or remove it"
    result = invoke("--force")
    assert (result.exit_code, result.stderr) == (2, f"ci-toolkit: error: {WORKFLOW}: {why}\n")
    assert b"ci-toolkit" not in (project.root / "pyproject.toml").read_bytes()


def test_a_workflow_path_through_a_file_is_one_line(project: SampleProject) -> None:
    (project.root / ".github").write_text("", encoding="utf-8")
    result = invoke()
    assert (result.exit_code, result.stderr) == (
        2,
        f"ci-toolkit: error: {WORKFLOW}: cannot read it: Not a directory\n",
    )


def test_a_detected_value_that_does_not_load_is_one_line_and_nothing_is_written(
    project: SampleProject,
) -> None:
    pyproject = project.root / "pyproject.toml"
    pyproject.write_bytes(pyproject.read_bytes() + b'\n[tool.coverage.run]\nsource = ["/abs/path"]\n')
    before = snapshot(project.root)
    result = invoke()
    assert result.exit_code == 2
    assert result.stderr.startswith("ci-toolkit: error: pyproject.toml: tool.ci-toolkit.coverage.source")
    assert result.stderr.count("\n") == 1
    assert snapshot(project.root) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_pyproject_is_one_line(project: SampleProject) -> None:
    (project.root / "pyproject.toml").chmod(0)
    result = invoke()
    assert (result.exit_code, result.stderr) == (
        2,
        "ci-toolkit: error: pyproject.toml: cannot read it: Permission denied\n",
    )


@pytest.mark.e2e
def test_ci_toolkit_local_runs_the_lanes_init_wrote(project: SampleProject) -> None:
    """Every test in exactly one lane (the lanes check passes), each lane as planned; the gate then fails
    on the sample project's own floor of 100, which init carried over."""
    assert invoke().exit_code == 0
    run = run_ci_toolkit("local", cwd=project.root)
    assert run.code == 3, run.describe()
    lanes = {line.split()[0]: line.split()[1:4] for line in run.stdout.splitlines() if " ok " in line}
    assert lanes == {
        "default": ["ok", "4", "passed"],
        "integration": ["ok", "2", "passed"],
        "serial": ["ok", "1", "passed"],
    }
    assert run.last_line == "ci-toolkit: 7 passed, 0 failed, 0 skipped"
