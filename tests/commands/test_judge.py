"""`--base` and `--compare` as the commands take them: `ci-toolkit gate` on a `coverage json` report in a
real temporary git repository (patch check, exit codes, one-line errors), and the shared options on
`local`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support import git

from ci_toolkit.commands import gate, local
from ci_toolkit.commands.judge import Against, delta, judge, prepare
from ci_toolkit.config import load
from ci_toolkit.errors import DataError, ExitCode

PAY = "".join(f"x{i} = {i}\n" for i in range(1, 11))


def coverage_json(root: Path, missing: list[int]) -> Path:
    """`coverage json` of app/pay.py (13 statements after the change) with *missing* lines not run."""
    executed = [n for n in range(1, 14) if n not in missing]
    entry = {
        "executed_lines": executed,
        "missing_lines": missing,
        "excluded_lines": [],
        "summary": {"num_statements": 13, "missing_lines": len(missing)},
    }
    empty = {
        "executed_lines": [],
        "missing_lines": [],
        "excluded_lines": [],
        "summary": {"num_statements": 0},
    }
    path = root / "coverage.json"
    path.write_text(json.dumps({"meta": {}, "files": {"app/pay.py": entry, "app/__init__.py": empty}}))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project on branch `work`, which changed app/pay.py lines 5-6 and 12-13 since `main`."""
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.ci-toolkit.coverage]\nsource = ["app"]\npatch_fail_under = 75\n'
    )
    (root / "app/__init__.py").write_text("")
    (root / "app/pay.py").write_text(PAY)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "work")
    (root / "app/pay.py").write_text(PAY.replace("x5 = 5\n", "x5 = 50\nextra = 1\n") + "y = 1\nz = 2\n")
    return root


def run_gate(root: Path, *args: str) -> Result:
    os.chdir(root)
    return CliRunner().invoke(gate.command, ["--no-color", *args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def _keep_cwd() -> object:
    before = Path.cwd()
    yield
    os.chdir(before)


def test_patch_below_its_floor_fails_the_gate(project: Path) -> None:
    data = coverage_json(project, missing=[6, 12])  # 2 of the 4 changed lines did not run
    result = run_gate(project, "--base", "main", "--json", "v.json", str(data))
    assert result.exit_code == ExitCode.GATE_FAILED, result.output
    saved = json.loads((project / "v.json").read_text())
    (check,) = [c for c in saved["coverage"]["checks"] if c["kind"] == "patch"]
    assert (check["covered"], check["total"], check["passed"]) == (2, 4, False)
    assert check["missing_lines"] == "app/pay.py 6, 12"
    assert "patch" in result.output


def test_patch_at_its_floor_passes_and_without_base_there_is_no_patch_check(project: Path) -> None:
    data = coverage_json(project, missing=[12])
    assert run_gate(project, "--base", "main", str(data)).exit_code == ExitCode.OK
    result = run_gate(project, "--json", "v.json", str(data))
    assert result.exit_code == ExitCode.OK
    assert all(
        c["kind"] != "patch" for c in json.loads((project / "v.json").read_text())["coverage"]["checks"]
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--base", "no-such-branch"], "--base no-such-branch: no such commit or branch here"),
        (["--compare", "missing.json"], "--compare missing.json: cannot read it"),
        (["--compare", "pyproject.toml"], "--compare pyproject.toml: not JSON"),
    ],
)
def test_bad_base_or_compare_is_one_line_exit_2(project: Path, args: list[str], fragment: str) -> None:
    data = coverage_json(project, missing=[])
    result = run_gate(project, *args, str(data))
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert fragment in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_compare_reports_the_delta(project: Path) -> None:
    before = coverage_json(project, missing=[1, 2, 3, 4])
    assert run_gate(project, "--json", "main.json", str(before)).exit_code == ExitCode.OK
    config = load(project / "pyproject.toml")
    against = prepare(config, None, project / "main.json")
    verdict = judge(coverage_json(project, missing=[1]), config, against)
    change = delta(verdict, against)
    assert change is not None
    assert (round(change.total_before, 2), round(change.total_after, 2)) == (69.23, 92.31)
    assert run_gate(project, "--compare", "main.json", str(before)).exit_code == ExitCode.OK


def test_no_delta_without_compare_or_without_coverage(project: Path) -> None:
    config = load(project / "pyproject.toml")
    verdict = judge(None, config, Against())
    assert delta(verdict, Against()) is None
    (project / "main.json").write_text(
        json.dumps({"schema_version": 2, "coverage": {"total": {"covered": 0, "total": 0}}})
    )
    against = prepare(config, None, project / "main.json")
    assert delta(verdict, against) is None  # this run measured nothing: no delta to show
    assert delta(None, against) is None


def test_local_checks_base_before_running_anything(project: Path, tmp_path: Path) -> None:
    os.chdir(project)
    result = CliRunner().invoke(local.command, ["--base", "nope"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "--base nope: no such commit or branch here" in result.output
    assert not (project / ".ci-toolkit").exists()  # no run started


def test_prepare_raises_data_error(project: Path) -> None:
    config = load(project / "pyproject.toml")
    with pytest.raises(DataError):
        prepare(config, "-x", None)
    assert prepare(config, None, None) == Against()
