"""The linters GitHub Actions users run, as tests: actionlint, zizmor (offline) and SchemaStore's schemas
(check-jsonschema) find nothing in action.yml, in the templates users copy (workflows/) or in the project's
own workflows (.github/workflows/); shellcheck finds nothing in action.yml's scripts, which actionlint does
not read. Then the rules of issue 12 that no linter checks.

The linters come with the test extra; a test is skipped, saying so, only when its binary is not installed.
Nothing is mocked: the probes are real files in a temporary directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
TEMPLATES = sorted((ROOT / "workflows").glob("*.yml"))
OWN = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
WORKFLOWS = TEMPLATES + OWN
ZIZMOR_CONFIG = Path(__file__).with_name("zizmor.yml")
SELF = "ci-toolkit/ci-toolkit"  # how the templates name the action; users pin it when they copy them
LINTER_TIMEOUT = 300  # seconds: a hung linter fails its test rather than the whole suite's time budget
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$")
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})$")
VERSION = re.compile(r"^v\d+(\.\d+){0,2}$")


def tool(name: str) -> str:
    """The linter `name`, beside this Python first (a virtualenv that is not on PATH), then on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=search)
    if found is None:
        pytest.skip(f"{name} is not installed: pip install -e '.[test]'")
    return found


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=LINTER_TIMEOUT, check=False
    )


def said(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def relative(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(ROOT)) for path in paths]


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1, which PyYAML reads, takes the key `on` for the boolean true.
    return workflow.get("on", workflow.get(True)) or {}


def steps(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every step of a workflow's jobs, or of a composite action."""
    if "runs" in document:
        yield from document["runs"].get("steps", [])
        return
    for job in document["jobs"].values():
        yield from job.get("steps", [])


def uses_lines(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line number, reference, trailing comment) of every `uses:` that is not commented out."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = USES.match(line)
        if match:
            yield number, match["ref"], match["comment"]


GATED = [path for path in WORKFLOWS if "all-green" in load(path)["jobs"]]  # the one required check


def test_the_files_the_linters_read_are_there() -> None:
    assert [path.name for path in TEMPLATES] == ["ci-sharded.yml", "ci.yml", "comment.yml"]
    assert ROOT / "workflows" / "ci-sharded.yml" in GATED
    # actionlint lints action.yml's metadata only through a workflow of this repository that runs it.
    assert any(step.get("uses") == "./" for path in OWN for step in steps(load(path)))


# --- the linters ---------------------------------------------------------------------------------


def test_actionlint_finds_nothing() -> None:
    """actionlint runs shellcheck over every script too when shellcheck is installed (the test extra's)."""
    proc = run(tool("actionlint"), "-no-color", "-oneline", *relative(WORKFLOWS))
    assert (proc.returncode, proc.stdout) == (0, ""), said(proc)


def test_actionlint_reads_action_yml_through_uses_dot(tmp_path: Path) -> None:
    """Proof that the test above really checks action.yml: in a repository holding a copy of it, a workflow
    giving it an input it does not declare gets exactly that finding, and no finding about the metadata."""
    actionlint = tool("actionlint")
    shutil.copyfile(ACTION, tmp_path / "action.yml")
    probe = tmp_path / ".github" / "workflows" / "probe.yml"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "on: push\npermissions: {}\njobs:\n  probe:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: ./\n        with:\n          no-such-input: x\n",
        encoding="utf-8",
    )
    subprocess.run(["git", "init", "--quiet"], cwd=tmp_path, check=True, timeout=LINTER_TIMEOUT)
    proc = run(actionlint, "-no-color", "-oneline", cwd=tmp_path)
    findings = proc.stdout.splitlines()
    assert len(findings) == 1, said(proc)
    assert 'input "no-such-input" is not defined in action "ci-toolkit"' in findings[0]


def test_zizmor_finds_nothing() -> None:
    proc = run(
        tool("zizmor"),
        "--offline",
        "--no-progress",
        "--color=never",
        f"--config={ZIZMOR_CONFIG}",
        *relative([ACTION, *WORKFLOWS]),
    )
    assert proc.returncode == 0, said(proc)


def test_zizmor_config_exempts_ci_toolkit_alone(tmp_path: Path) -> None:
    """The one exception in tests/action/zizmor.yml lets no other action off its SHA pin, GitHub's own
    included (zizmor's default lets actions/* pin a tag)."""
    probe = tmp_path / "probe.yml"
    probe.write_text(
        "on: push\npermissions: {}\njobs:\n  probe:\n    runs-on: ubuntu-latest\n    timeout-minutes: 5\n"
        "    steps:\n"
        "      - uses: actions/setup-python@v7\n"
        "      - uses: someone/ci-toolkit@v1\n"
        "      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0\n"
        f"      - uses: {SELF}@v1\n",
        encoding="utf-8",
    )
    proc = run(
        tool("zizmor"), "--offline", "--no-progress", "--format=json", f"--config={ZIZMOR_CONFIG}", str(probe)
    )
    unpinned = {
        location["concrete"]["feature"].removeprefix("uses:").strip()
        for finding in json.loads(proc.stdout)
        if finding["ident"] == "unpinned-uses"
        for location in finding["locations"]
    }
    assert unpinned == {"actions/setup-python@v7", "someone/ci-toolkit@v1"}, said(proc)


@pytest.mark.parametrize(
    ("schema", "paths"),
    [("vendor.github-actions", [ACTION]), ("vendor.github-workflows", WORKFLOWS)],
    ids=["action", "workflows"],
)
def test_schemastore_schema_validates(schema: str, paths: list[Path]) -> None:
    proc = run(tool("check-jsonschema"), "--builtin-schema", schema, *relative(paths))
    assert proc.returncode == 0, said(proc)


def test_shellcheck_finds_nothing_in_action_yml_scripts() -> None:
    shellcheck = tool("shellcheck")
    for step in steps(load(ACTION)):
        if "run" not in step:
            continue
        proc = subprocess.run(
            [shellcheck, "--shell", step["shell"], "--format", "gcc", "-"],
            input=step["run"],
            capture_output=True,
            text=True,
            timeout=LINTER_TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0, f"action.yml, step {step['name']!r}: {said(proc)}"


# --- what no linter checks -------------------------------------------------------------------------


def test_no_expression_inside_a_script() -> None:
    """Values reach scripts through env: only; `${{ }}` inside run: is pasted into the script unquoted."""
    for path in [ACTION, *WORKFLOWS]:
        for step in steps(load(path)):
            assert "${{" not in step.get("run", ""), f"{path.name}: step {step.get('name', step['run'])!r}"


def test_every_action_is_pinned_to_one_sha_with_its_version() -> None:
    """The same action at the same commit everywhere, action.yml included, so that an upgrade leaves none
    behind; the version in the comment is what a reader and dependabot go by."""
    pins: dict[str, set[tuple[str, str | None]]] = {}
    for path in [ACTION, *WORKFLOWS]:
        for number, ref, comment in uses_lines(path):
            where = f"{path.relative_to(ROOT)}:{number}"
            if ref.startswith("./"):
                continue
            if ref.startswith(f"{SELF}@"):
                assert path in TEMPLATES, f"{where}: {ref} outside the templates (use ./ here)"
                continue
            match = PINNED.match(ref)
            assert match, f"{where}: {ref} is not pinned to a full commit SHA"
            assert comment and VERSION.match(comment), f"{where}: {ref} needs its version as `# vX.Y.Z`"
            pins.setdefault(match["action"], set()).add((match["sha"], comment))
    for action, seen in pins.items():
        assert len(seen) == 1, f"{action} is pinned {len(seen)} ways: {sorted(seen)}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: str(path.relative_to(ROOT)))
def test_least_privilege_and_a_timeout_on_every_job(path: Path) -> None:
    workflow = load(path)
    assert workflow.get("permissions") in ({}, {"contents": "read"}), f"{path.name}: top-level permissions"
    for name, job in workflow["jobs"].items():
        assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout-minutes"
        assert "permissions" in job, f"{path.name}: job {name} should say which permissions it needs"
        if "pull-requests" in job["permissions"]:
            assert any(SELF in step.get("uses", "") or step.get("uses") == "./" for step in job["steps"]), (
                f"{path.name}: job {name} may write to pull requests but does not post the comment"
            )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_new_push_cancels_a_pull_requests_superseded_run(path: Path) -> None:
    workflow = load(path)
    concurrency = workflow.get("concurrency")
    assert concurrency, f"{path.name}: no concurrency"
    assert "github.workflow" in concurrency["group"], f"{path.name}: group on the workflow"
    if "pull_request" in triggers(workflow):
        assert "github.event.pull_request.number" in concurrency["group"]
        assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


@pytest.mark.parametrize("path", GATED, ids=lambda path: str(path.relative_to(ROOT)))
def test_all_green_needs_every_other_job(path: Path) -> None:
    jobs = load(path)["jobs"]
    gate = jobs["all-green"]
    assert set(gate["needs"]) == set(jobs) - {"all-green"}
    assert gate["if"] == "always()", "it must run, and fail, when a job it needs failed or was skipped"


def test_the_sharded_template_plans_shards_and_reports() -> None:
    jobs = load(ROOT / "workflows" / "ci-sharded.yml")["jobs"]
    modes = {
        name: step["with"]["mode"]
        for name, job in jobs.items()
        for step in job["steps"]
        if step.get("uses", "").startswith(f"{SELF}@")
    }
    assert modes == {"plan": "plan", "shard": "shard", "report": "report"}
    assert jobs["shard"]["strategy"]["fail-fast"] is False
    assert jobs["report"]["needs"] == ["plan", "shard"]
    assert jobs["report"]["if"].startswith("${{ !cancelled()")


def test_the_comment_workflow_never_touches_the_pull_requests_code() -> None:
    workflow = load(ROOT / "workflows" / "comment.yml")
    assert set(triggers(workflow)) == {"workflow_run"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    used = [step.get("uses", "").split("@")[0] for step in job["steps"]]
    assert "actions/checkout" not in used
    assert used[-1] == SELF
    assert job["steps"][-1]["with"] == {"mode": "comment"}
