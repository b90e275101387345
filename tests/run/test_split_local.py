"""`ci-toolkit local --shard K/N`, the timing history it keeps, and `ci-toolkit split-report` on shards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ci_toolkit.commands.split_report import command as split_report
from ci_toolkit.run.results import load_outcomes

pytestmark = pytest.mark.e2e

LANES = """
[tool.ci-toolkit]
workers = 2

[[tool.ci-toolkit.lanes]]
name = "main"
markers = "not integration"

[[tool.ci-toolkit.lanes]]
name = "integration"
markers = "integration"
workers = 0
"""
ALL_TESTS = 7  # the sample project's


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


def ran(output_dir: Path) -> list[str]:
    return [o.nodeid for path in sorted((output_dir / "results").glob("*.json")) for o in load_outcomes(path)]


def test_two_shards_split_the_suite_and_split_report_judges_them(
    tmp_path: Path, sample_project_maker: Callable[..., object]
) -> None:
    root = tmp_path / "project"
    sample_project_maker(root, pyproject_extra=LANES)
    shards: list[Path] = []
    for k in (1, 2):
        proc = local(root, "--shard", f"{k}/2")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"shard {k}/2: predicted " in proc.stdout
        assert f"coverage gate skipped: shard {k}/2 ran part of the suite" in proc.stdout
        shards.append(Path(shutil.copytree(root / ".ci-toolkit", tmp_path / f"shard{k}")))

    # Both planned from the same history: the project's is left alone by a sharded run.
    assert (shards[0] / "plan.json").read_text() == (shards[1] / "plan.json").read_text()
    assert not (root / ".ci-toolkit" / "timings.json").exists()
    assert all((shard / "shard-timings.json").is_file() for shard in shards)
    first, second = ran(shards[0]), ran(shards[1])
    assert first and second and not set(first) & set(second)
    assert len(first) + len(second) == ALL_TESTS
    run = json.loads((shards[1] / "run.json").read_text())
    assert (run["shard"], run["shards"]) == (2, 2) and set(run["lanes"]) <= {"main", "integration"}

    out = tmp_path / "report.json"
    result = CliRunner().invoke(split_report, [str(shards[1]), str(shards[0]), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "split quality: 2 of 2 shards" in result.output
    assert "idle fraction:" in result.output and "lower bound" in result.output
    report = json.loads(out.read_text())
    assert [line["index"] for line in report["reported"]] == [1, 2]
    assert sum(line["tests"] for line in report["reported"]) == ALL_TESTS
    assert (
        0 <= report["idle_fraction"] < 1 and report["missing"] == [] and report["ran_in_several_shards"] == []
    )
    again = CliRunner().invoke(split_report, [str(shards[1]), str(shards[0]), "--json", str(out)])
    assert again.exit_code == 0, again.output  # its own earlier report is replaced
    # Anything else is left as it is (issue 9: --json used to replace any file, pyproject.toml too).
    config_file = shards[0].parent / "notes.toml"
    config_file.write_text("[tool.x]\n")
    refused = CliRunner().invoke(split_report, [str(shards[0]), "--json", str(config_file)])
    assert refused.exit_code == 2 and "exists and is not an earlier `ci-toolkit split-report` JSON" in (
        refused.output
    )
    assert config_file.read_text() == "[tool.x]\n"

    # One shard alone: reported, with the other named as missing.
    alone = CliRunner().invoke(split_report, [str(shards[0])])
    assert alone.exit_code == 0 and "note: no output dir given for shard(s) 2" in alone.output
    # The same shard twice, or a directory that is no shard's output: one line, exit 2.
    twice = CliRunner().invoke(split_report, [str(shards[0]), str(shards[0])])
    assert twice.exit_code == 2 and "shard 1/2 given twice" in twice.output
    empty = CliRunner().invoke(split_report, [str(tmp_path)])
    assert empty.exit_code == 2
    assert f"ci-toolkit: error: {tmp_path / 'plan.json'}: no plan here" in empty.output


def test_a_run_updates_the_history_and_a_bad_shard_is_refused(
    tmp_path: Path, sample_project_maker: Callable[..., object]
) -> None:
    root = tmp_path / "project"
    sample_project_maker(root, pyproject_extra=LANES)
    proc = local(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    history = json.loads((root / ".ci-toolkit" / "timings.json").read_text())
    assert history["run"] == 1 and len(history["tests"]) == ALL_TESTS
    assert {entry["lane"] for entry in history["tests"].values()} == {"main", "integration"}
    run = json.loads((root / ".ci-toolkit" / "run.json").read_text())
    assert run["shard"] is None and set(run["lanes"]) == {"main", "integration"}

    bad = local(root, "--shard", "3/2")
    assert bad.returncode == 2
    assert bad.stderr == "ci-toolkit: error: --shard 3/2: shard index must be 1-2\n"


def test_plan_predicts_what_local_shard_runs(sample_project_factory: Callable[..., object]) -> None:
    """Issue 10's drift: `local --shard` priced a test at 1/W of its seconds for a lane on W workers,
    `ci-toolkit plan` did not, so with unequal worker counts the two predicted other seconds and could
    split otherwise. One cost model (planning.cost) now serves both: the plans are the same."""
    from ci_toolkit import timing as timings
    from ci_toolkit.commands.plan import command as plan

    project = sample_project_factory(pyproject_extra=LANES)
    known = {"tests/test_unit.py::test_add": 4.0, "tests/test_integration.py::test_sign_positive": 3.0}
    history = timings.History(
        project="samplepkg",
        run=1,
        tests={n: timings.TestTiming(0.0, s, 0.0, runs=1, last_seen=1) for n, s in known.items()},
    )
    timings.save(project.root / ".ci-toolkit" / "timings.json", history)
    planned = project.root / "planned.json"
    result = CliRunner().invoke(
        plan,
        [
            "--shards",
            "2",
            "--format",
            "json",
            "--output",
            str(planned),
            "--config",
            str(project.root / "pyproject.toml"),
        ],
    )
    assert result.exit_code == 0, result.output

    proc = local(project.root, "--shard", "1/2")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    ours, theirs = (
        json.loads(planned.read_text()),
        json.loads((project.root / ".ci-toolkit" / "plan.json").read_text()),
    )
    assert ours == theirs
    # Each test at its own estimate over its lane's workers: "main" (2 workers) halves, "integration"
    # (no xdist) does not.
    estimate = timings.Estimator(history, {})
    collected = [nodeid for shard in ours["shards"] for nodeid in shard["tests"]]
    expected = sum(estimate(n).duration / (1 if "integration" in n else 2) for n in collected)
    assert abs(ours["total"] - expected) < 1e-3, (ours["total"], expected)
