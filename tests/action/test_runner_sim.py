"""The runner simulation itself (tests/action/runner_sim.py): expressions, file commands, the stand-ins for
actions/cache and the artifact actions (themselves mocks at the process boundary), and jobs of tiny
composite actions written here."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from runner_sim import (
    ACTION_FILE,
    ArtifactStore,
    CacheStore,
    ExpressionError,
    SimulationError,
    Workflow,
    check_run_steps,
    condition,
    evaluate,
    interpolate,
    load_action,
    read_file_commands,
)

CONTEXTS: dict[str, Any] = {
    "inputs": {"mode": "report", "artifact-prefix": "ci-toolkit", "empty": ""},
    "steps": {"publish": {"outputs": {"pending-comment": "", "verdict": "passed"}}},
    "github": {"head_ref": "", "ref_name": "main", "event": {"repository": {"default_branch": "main"}}},
    "runner": {"temp": "/tmp/rt"},
}


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("inputs.mode", "report"),
        ("inputs.artifact-prefix", "ci-toolkit"),
        ("inputs['artifact-prefix']", "ci-toolkit"),
        ("inputs.mode == 'REPORT'", True),  # strings compare ignoring case
        ("inputs.mode != 'run'", True),
        ("inputs.mode == 'run' || inputs.mode == 'report'", True),
        ("github.head_ref || github.ref_name", "main"),  # || gives the first truthy operand
        ("inputs.mode && inputs.empty", ""),  # && the first falsy one
        ("!(inputs.mode == 'report')", False),
        ("github.event.repository.default_branch", "main"),
        ("github.event.nothing.here", None),
        ("steps.publish.outputs.missing != ''", False),  # null == '' on GitHub
        ("steps.publish.outputs.verdict != ''", True),
        ("'it''s'", "it's"),
        ("true && !false", True),
    ],
)
def test_expressions(expr: str, value: Any) -> None:
    assert evaluate(expr, CONTEXTS) == value


@pytest.mark.parametrize(
    "expr", ["contains(inputs.mode, 'r')", "secrets.X", "inputs.mode ==", "inputs.mode @"]
)
def test_expressions_outside_the_subset_are_refused(expr: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expr, CONTEXTS)


def test_interpolation() -> None:
    text = "${{ runner.temp }}/${{ inputs.artifact-prefix }}-plan ${{ github.event.none }}!"
    assert interpolate(text, CONTEXTS) == "/tmp/rt/ci-toolkit-plan !"


@pytest.mark.parametrize(
    ("when", "failed", "runs"),
    [
        (None, False, True),
        (None, True, False),  # success() is the default
        ("inputs.mode == 'report'", False, True),
        ("inputs.mode == 'report'", True, False),
        ("${{ !cancelled() && inputs.mode == 'report' }}", True, True),
        ("always()", True, True),
        ("failure()", False, False),
        ("failure()", True, True),
        ("cancelled()", True, False),
        ("${{ steps.publish.outputs.pending-comment != '' }}", False, False),
    ],
)
def test_conditions(when: str | None, failed: bool, runs: bool) -> None:
    assert condition(when, CONTEXTS, failed=failed) is runs


def test_file_commands_both_forms() -> None:
    text = "a=1\nurl=x=y\nbody<<EOF_1\nline one\nline=two\nEOF_1\n\nb=\n"
    assert read_file_commands(text) == {"a": "1", "url": "x=y", "body": "line one\nline=two", "b": ""}
    with pytest.raises(SimulationError):
        read_file_commands("body<<EOF\nnever closed\n")


def test_the_real_action_keeps_expressions_out_of_run() -> None:
    check_run_steps(load_action(ACTION_FILE))


def test_an_expression_inside_run_is_refused() -> None:
    action = {"runs": {"steps": [{"name": "bad", "shell": "bash", "run": "echo ${{ inputs.mode }}"}]}}
    with pytest.raises(SimulationError, match="inside run"):
        check_run_steps(action)


# ---------------------------------------------------------------------------------------------------------
# Stand-ins


def test_cache_restores_exact_key_else_newest_prefix_and_keys_are_immutable(tmp_path: Path) -> None:
    cache = CacheStore(tmp_path / "cache")
    source = tmp_path / "t.json"
    for key, text in (
        ("k-main-1", "one"),
        ("k-main-2", "two"),
        ("k-other-3", "three"),
        ("k-main-2", "again"),
    ):
        source.write_text(text)
        cache.save(key, [source])
    assert cache.keys() == ["k-main-1", "k-main-2", "k-other-3"]
    target = tmp_path / "out" / "t.json"
    hit = cache.restore("k-main-1", ["k-main-"], [target])
    assert (hit.outputs["cache-hit"], target.read_text()) == ("true", "one")
    prefix = cache.restore("k-feature-9", ["k-feature-", "k-main-"], [target])
    assert (prefix.outputs["cache-hit"], prefix.outputs["cache-matched-key"]) == ("false", "k-main-2")
    assert target.read_text() == "two"  # the first save of a key stays
    miss = cache.restore("z", ["y-"], [tmp_path / "none"])
    assert "cache-matched-key" not in miss.outputs and not (tmp_path / "none").exists()


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_upload_drops_hidden_files_unless_asked_and_names_are_unique(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    out = tmp_path / "out"
    for rel in ("report.json", ".coverage", "sub/.hidden/x", "sub/y"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(rel)
    assert not store.upload("plain", [out], include_hidden=False, if_no_files_found="error").error
    assert _tree(store.path("plain")) == {"report.json": "report.json", "sub/y": "sub/y"}
    assert not store.upload("all", [out], include_hidden=True, if_no_files_found="error").error
    assert set(_tree(store.path("all"))) == {"report.json", ".coverage", "sub/.hidden/x", "sub/y"}
    again = store.upload("all", [out], include_hidden=True, if_no_files_found="error")
    assert "already exists" in again.error
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        "No files were found"
        in store.upload("e", [empty], include_hidden=True, if_no_files_found="error").error
    )
    assert not store.upload("e", [empty], include_hidden=True, if_no_files_found="warn").error
    hidden_root = tmp_path / ".out"
    out.rename(hidden_root)  # a hidden folder named itself: v4.4+ drops it whole
    assert store.upload("h", [hidden_root], include_hidden=False, if_no_files_found="error").error
    assert store.names() == ["all", "plain"]


def test_download_by_name_pattern_and_merged(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    for name in ("p-shard-1", "p-shard-2", "p-plan"):
        folder = tmp_path / "src" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.txt").write_text(name)
        store.upload(name, [folder], include_hidden=False, if_no_files_found="error")
    store.download("p-plan", "", tmp_path / "one", merge_multiple=False)
    assert _tree(tmp_path / "one") == {"p-plan.txt": "p-plan"}
    store.download("", "p-shard-*", tmp_path / "many", merge_multiple=False)
    assert set(_tree(tmp_path / "many")) == {"p-shard-1/p-shard-1.txt", "p-shard-2/p-shard-2.txt"}
    store.download("", "p-shard-*", tmp_path / "merged", merge_multiple=True)
    assert set(_tree(tmp_path / "merged")) == {"p-shard-1.txt", "p-shard-2.txt"}
    assert "not found" in store.download("nope", "", tmp_path / "x", merge_multiple=False).error


# ---------------------------------------------------------------------------------------------------------
# Jobs of small composite actions


_ACTION = """\
name: t
inputs:
  who:
    default: world
  token:
    default: ${{ github.token }}
outputs:
  greeting:
    value: ${{ steps.one.outputs.greeting }}
  tool:
    value: ${{ steps.two.outputs.tool }}
runs:
  using: composite
  steps:
    - id: one
      shell: bash
      working-directory: sub
      env:
        WHO: ${{ inputs.who }}
        HAS_TOKEN: ${{ inputs.token != '' }}
      run: |
        echo "greeting=hello $WHO from ${PWD##*/}" >> "$GITHUB_OUTPUT"
        { echo "multi<<END"; echo "a"; echo "b"; echo "END"; } >> "$GITHUB_OUTPUT"
        echo "LATER=set" >> "$GITHUB_ENV"
        mkdir -p "$RUNNER_TEMP/bin" && echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
        printf '#!/bin/sh\\necho tool\\n' > "$RUNNER_TEMP/bin/mytool" && chmod +x "$RUNNER_TEMP/bin/mytool"
        echo "has token: $HAS_TOKEN; env token: ${GITHUB_TOKEN:-none}" >> "$GITHUB_STEP_SUMMARY"
    - id: two
      shell: bash
      run: |
        echo "tool=$(mytool) $LATER" >> "$GITHUB_OUTPUT"
        python3 -m pip install --quiet nothing-at-all
        python3 -c 'import sys; print(sys.executable)'
        false
        echo "never"
    - id: skipped
      shell: bash
      run: echo skipped
    - id: always
      if: ${{ always() }}
      shell: bash
      run: echo "always ran"
"""


def _job(tmp_path: Path, text: str, inputs: dict[str, str] | None = None) -> Any:
    action = tmp_path / "action.yml"
    action.write_text(textwrap.dedent(text))
    (tmp_path / "ws" / "sub").mkdir(parents=True)
    workflow = Workflow(tmp_path / "wf", token="ghs_unit")
    return workflow.job(tmp_path / "ws", inputs, action_file=action).run()


def test_a_job_runs_steps_like_a_runner(tmp_path: Path) -> None:
    job = _job(tmp_path, _ACTION, {"who": "sim"})
    assert job.step("one").outputs == {"greeting": "hello sim from sub", "multi": "a\nb"}
    assert job.outputs == {"greeting": "hello sim from sub", "tool": "tool set"}
    assert job.summary == "has token: true; env token: none\n"  # tokens reach no step but through env:
    two = job.step("two")
    assert (two.outcome, two.exit_code) == ("failure", 1)
    assert two.stdout == f"{sys.executable}\n"  # the shim: pip did nothing, python3 is this interpreter
    assert job.step("skipped").outcome == "skipped"
    assert job.step("always").stdout == "always ran\n"
    assert job.exit_code == 1


def test_inputs_must_be_declared(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="not declared"):
        _job(tmp_path, _ACTION, {"whom": "x"})


def test_a_uses_step_without_a_stand_in_is_refused(tmp_path: Path) -> None:
    text = "name: t\nruns:\n  using: composite\n  steps:\n    - uses: someone/else@v1\n"
    with pytest.raises(SimulationError, match="no stand-in"):
        _job(tmp_path, text)
