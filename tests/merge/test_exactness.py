"""`ci-toolkit merge` end to end: three shards run in three differently named checkouts, merged in a
fourth, give what one unsharded run gives: the same lines and arcs per file and the same gate verdict."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import coverage
import pytest
from click.testing import CliRunner

from ci_toolkit import config as config_mod
from ci_toolkit.commands.judge import judge
from ci_toolkit.commands.merge import command as merge

pytestmark = pytest.mark.e2e

PYPROJECT = """
[tool.ci-toolkit]
workers = 2

[[tool.ci-toolkit.lanes]]
name = "main"
markers = "not integration"

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
workers = 0

[tool.ci-toolkit.coverage]
fail_under = 85

[tool.coverage.run]
branch = true
"""


def local(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST") and k != "CI_TOOLKIT_SHARD"
    }
    return subprocess.run(
        [sys.executable, "-m", "ci_toolkit", "local", "--no-color", *args, "--", "-p", "no:cacheprovider"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def measured(data_file: Path, root: Path) -> dict[str, tuple[list[int], list[tuple[int, int]]]]:
    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    return {
        os.path.relpath(name, root): (sorted(data.lines(name) or []), sorted(data.arcs(name) or []))
        for name in data.measured_files()
    }


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, sample_project_maker: Callable[..., object]
) -> dict[str, Path]:
    """One unsharded run, and three shards' output dirs as download-artifact leaves them."""
    base = tmp_path_factory.mktemp("merge")
    sample_project_maker(base / "whole", pyproject_extra=PYPROJECT)
    proc = local(base / "whole")
    assert proc.returncode == 3, proc.stdout + proc.stderr  # partial.py and unused.py: the gate fails
    artifacts = base / "artifacts"
    for k, name in ((1, "alpha"), (2, "runner-b"), (3, "src-c")):
        checkout = base / name / "a"
        shutil.copytree(base / "whole", checkout, ignore=shutil.ignore_patterns(".ci-toolkit"))
        proc = local(checkout, "--shard", f"{k}/3")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        shutil.copytree(checkout / ".ci-toolkit", artifacts / f"shard-{k}")
        shutil.rmtree(checkout)  # its paths must name nothing on this machine any more
    here = base / "fourth"
    shutil.copytree(base / "whole", here, ignore=shutil.ignore_patterns(".ci-toolkit"))
    return {"whole": base / "whole", "artifacts": artifacts, "here": here}


def test_three_shards_merge_to_what_one_run_measures(
    runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = runs["here"]
    monkeypatch.chdir(here)
    out = here / "verdict.json"
    result = CliRunner().invoke(merge, [str(runs["artifacts"]), "--no-color", "--json", str(out)])
    assert result.exit_code == 3, result.output  # the same gate verdict as the unsharded run: failed
    assert "merged 3 shards" in result.output
    balance = json.loads(out.read_text())["shards"]  # predicted against realised, every shard known
    assert [s["shard"] for s in balance] == [1, 2, 3]
    assert all(s["realised"] is not None and s["predicted"] >= 0 for s in balance)

    merged = measured(here / ".ci-toolkit" / ".coverage", here)
    whole = measured(runs["whole"] / ".ci-toolkit" / ".coverage", runs["whole"])
    assert merged == whole
    assert any(arcs for _, arcs in merged.values())

    config_here = config_mod.load(here / "pyproject.toml")
    config_whole = config_mod.load(runs["whole"] / "pyproject.toml")
    assert judge(here / ".ci-toolkit" / ".coverage", config_here) == judge(
        runs["whole"] / ".ci-toolkit" / ".coverage", config_whole
    )
    # The layout an unsharded run leaves: one JUnit and results file per lane, run.json unsharded.
    for lane in ("main", "integration"):
        assert (here / ".ci-toolkit" / "junit" / f"{lane}.xml").is_file()
        assert (here / ".ci-toolkit" / "results" / f"{lane}.json").is_file()
    record = json.loads((here / ".ci-toolkit" / "run.json").read_text())
    assert record["shard"] is None and set(record["lanes"]) == {"main", "integration"}
    summary = json.loads(out.read_text())
    assert summary["exit_code"] == 3
    # The timing history learnt every shard's tests.
    history = json.loads((here / ".ci-toolkit" / "timings.json").read_text())
    assert len(history["tests"]) == 7
