"""`ci-toolkit paths`: the output dir and the timing history as `name=value` lines for $GITHUB_OUTPUT."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ci_toolkit.cli import cli


def _project(root: Path, table: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[tool.ci-toolkit]\n{table}", encoding="utf-8")
    return root / "pyproject.toml"


def test_prints_both_paths_absolute(tmp_path: Path) -> None:
    config = _project(tmp_path / "proj", 'output_dir = "out/ci"\n')
    result = CliRunner().invoke(cli, ["paths", "--config", str(config)])
    assert result.exit_code == 0, result.output
    values = dict(line.split("=", 1) for line in result.output.splitlines())
    assert values["output_dir"] == str((tmp_path / "proj" / "out" / "ci").resolve())
    assert Path(values["timings"]).is_absolute()
    assert Path(values["timings"]).is_relative_to((tmp_path / "proj").resolve())


def test_a_line_break_in_a_path_is_refused(tmp_path: Path) -> None:
    """A newline would forge a second output in $GITHUB_OUTPUT."""
    config = _project(tmp_path / "proj", 'output_dir = "out\\nverdict=passed"\n')
    result = CliRunner().invoke(cli, ["paths", "--config", str(config)])
    assert result.exit_code == 2
    assert "verdict=passed" not in result.stdout.splitlines()
