"""A GitHub Actions runner simulation that runs the composite action.yml for real, one job at a time.

`run:` steps run in bash exactly as `shell: bash` runs them on GitHub, with the files and variables a
runner provides; `if:`, `env:`, `with:` and `working-directory:` are evaluated for the expression subset
action.yml uses. The third-party `uses:` steps (actions/cache, upload-/download-artifact) cannot run here:
they are stood in for at that process boundary by copying folders (a cache store and an artifact store a
`Workflow` shares between its jobs).

    workflow = Workflow(tmp_path / "run", event_name="push", event={...})
    job = workflow.job(checkout_dir, {"mode": "run"})
    result = job.run()            # JobResult: outputs, steps, summary, stdout, exit_code

`skip_install=True` (the default) keeps the install step from pip-installing ci-toolkit, which is slow and
would change this environment: a shim directory first on PATH holds `python3`/`python` wrappers that run
sys.executable (where ci-toolkit is importable) and do nothing for `-m pip install`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTION_ROOT = Path(__file__).resolve().parents[2]
ACTION_FILE = ACTION_ROOT / "action.yml"
STEP_TIMEOUT = 600  # a safety net against a hang, not a timing check
BASH = ("bash", "--noprofile", "--norc", "-eo", "pipefail")  # what `shell: bash` runs on GitHub


class ExpressionError(Exception):
    """An expression outside the subset this simulator (and action.yml) uses."""


class SimulationError(Exception):
    """action.yml breaks a rule the simulation enforces (an expression inside `run:`, say)."""


# ---------------------------------------------------------------------------------------------------------
# Expressions


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|&&|\|\||[!()\[\].,])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_STATUS = ("success", "failure", "always", "cancelled")
_INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def truthy(value: Any) -> bool:
    """GitHub's coercion to boolean: false, 0, '', null are falsy; everything else (objects too) truthy."""
    if isinstance(value, (dict, list, Mapping)):
        return True
    return value not in (False, 0, "", None)


def _equal(left: Any, right: Any) -> bool:
    # GitHub compares strings ignoring case, and coerces mixed types to numbers (null == '' holds).
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return left == right
    return _number(left) == _number(right)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return float("nan")
    return float("nan")


def to_text(value: Any) -> str:
    """How `${{ }}` turns a value into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class _Parser:
    """Recursive descent over: or := and ('||' and)*; and := eq ('&&' eq)*; eq := unary (('=='|'!=') unary)?;
    unary := '!' unary | primary; primary := literal | '(' or ')' | call | name ('.' name | '[' or ']')*."""

    def __init__(self, text: str, contexts: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.text = text
        self.items = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.status = status

    def parse(self) -> Any:
        value = self._or()
        if self.pos != len(self.items):
            raise ExpressionError(f"unexpected {self.items[self.pos][1]!r} in {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.items[self.pos][1] if self.pos < len(self.items) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.items):
            raise ExpressionError(f"{self.text!r} ends early")
        item = self.items[self.pos]
        if expected is not None and item[1] != expected:
            raise ExpressionError(f"expected {expected!r}, got {item[1]!r} in {self.text!r}")
        self.pos += 1
        return item

    def _or(self) -> Any:
        return self._chain("||", self._and, lambda left, right: left if truthy(left) else right)

    def _and(self) -> Any:
        return self._chain("&&", self._eq, lambda left, right: right if truthy(left) else left)

    def _chain(self, op: str, operand: Callable[[], Any], combine: Callable[[Any, Any], Any]) -> Any:
        # Both operands are parsed whatever the left one is: nothing here has side effects.
        value = operand()
        while self._peek() == op:
            self._take()
            value = combine(value, operand())
        return value

    def _eq(self) -> Any:
        value = self._unary()
        if self._peek() in ("==", "!="):
            op = self._take()[1]
            same = _equal(value, self._unary())
            return same if op == "==" else not same
        return value

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text)
        if text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r} in {self.text!r}")
        if text in _LITERALS:
            return _LITERALS[text]
        if self._peek() == "(":
            return self._call(text)
        if text not in self.contexts:
            raise ExpressionError(f"unknown context {text!r} in {self.text!r}")
        value = self.contexts[text]
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                key: Any = self._take()[1]
            else:
                key = self._or()
                self._take("]")
            value = _member(value, key)
        return value

    def _call(self, name: str) -> Any:
        self._take("(")
        self._take(")")
        if name not in _STATUS:
            raise ExpressionError(f"function {name}() is not simulated (in {self.text!r})")
        return self.status[name]


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        # Context property names are case-insensitive on GitHub.
        if key in value:
            return value[key]
        folded = {str(k).casefold(): v for k, v in value.items()}
        return folded.get(str(key).casefold())
    if isinstance(value, list) and isinstance(key, float) and key.is_integer() and 0 <= key < len(value):
        return value[int(key)]
    return None


def evaluate(text: str, contexts: Mapping[str, Any], *, failed: bool = False) -> Any:
    """The value of one expression (without `${{ }}`); `failed`: a step of this job failed already."""
    status = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
    return _Parser(text, contexts, status).parse()


def interpolate(text: str, contexts: Mapping[str, Any], *, failed: bool = False) -> str:
    """`text` with every `${{ expr }}` replaced by its value as text."""
    return _INTERPOLATION.sub(lambda m: to_text(evaluate(m.group(1), contexts, failed=failed)), text)


def condition(text: Any, contexts: Mapping[str, Any], *, failed: bool) -> bool:
    """A step's `if:`; without a status function GitHub prepends `success() &&`."""
    if text is None:
        text = "success()"
    if isinstance(text, bool):
        text = "true" if text else "false"
    expr = str(text).strip()
    whole = re.fullmatch(r"\$\{\{(.*)\}\}", expr, re.DOTALL)
    if whole is not None:
        expr = whole.group(1)
    if not any(re.search(rf"\b{name}\s*\(", expr) for name in _STATUS):
        expr = f"success() && ({expr})"
    return truthy(evaluate(expr, contexts, failed=failed))


# ---------------------------------------------------------------------------------------------------------
# Runner file commands


def read_file_commands(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIMITER` ... `DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while i < len(lines) and lines[i].rstrip("\r") != delimiter:
                body.append(lines[i].rstrip("\r"))
                i += 1
            if i >= len(lines):
                raise SimulationError(f"{name}<<{delimiter}: the delimiter never comes (the runner fails)")
            i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise SimulationError(f"invalid file command line {line!r} (the runner fails the step)")
    return values


# ---------------------------------------------------------------------------------------------------------
# Stand-ins for the third-party actions (mocks at the process boundary: they cannot run here)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


@dataclass
class StandInResult:
    outputs: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    error: str = ""


class CacheStore:
    """actions/cache: entries are immutable; a restore takes the exact key, else the newest entry whose key
    starts with each restore-key in turn."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def keys(self) -> list[str]:
        entries = [json.loads(p.read_text()) for p in self.root.glob("*/entry.json")]
        return [e["key"] for e in sorted(entries, key=lambda e: e["serial"])]

    def _dir(self, key: str) -> Path:
        return self.root / uuid.uuid5(uuid.NAMESPACE_URL, key).hex

    def save(self, key: str, paths: Sequence[Path]) -> StandInResult:
        result = StandInResult()
        if not key:
            result.error = "Key is required"
            return result
        present = [p for p in paths if p.exists()]
        if not present:
            result.log.append(
                "::warning::Path Validation Error: Path(s) specified in the action for caching "
                "do(es) not exist, hence no cache is being saved."
            )
            return result
        target = self._dir(key)
        if target.exists():
            result.log.append(
                f"::warning::Failed to save: Unable to reserve cache with key {key}, another job "
                "may be creating this cache."
            )
            return result
        staging = target.with_name(target.name + ".tmp")
        staging.mkdir(parents=True)
        kinds = []
        for index, path in enumerate(paths):
            kinds.append("dir" if path.is_dir() else "file" if path.is_file() else "")
            if path.is_dir():
                shutil.copytree(path, staging / str(index))
            elif path.is_file():
                shutil.copy2(path, staging / str(index))
        meta = {"key": key, "serial": len(self.keys()), "kinds": kinds}
        (staging / "entry.json").write_text(json.dumps(meta))
        staging.rename(target)
        result.log.append(f"Cache saved with key: {key}")
        return result

    def restore(self, key: str, restore_keys: Sequence[str], paths: Sequence[Path]) -> StandInResult:
        result = StandInResult(outputs={"cache-primary-key": key, "cache-hit": "false"})
        keys = self.keys()
        matched = key if key in keys else ""
        for prefix in restore_keys:
            if matched:
                break
            candidates = [k for k in keys if k.startswith(prefix)]
            matched = candidates[-1] if candidates else ""
        if not matched:
            result.log.append(f"Cache not found for input keys: {', '.join([key, *restore_keys])}")
            return result
        entry = self._dir(matched)
        kinds = json.loads((entry / "entry.json").read_text())["kinds"]
        for index, (path, kind) in enumerate(zip(paths, kinds, strict=False)):
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "dir":
                shutil.copytree(entry / str(index), path, dirs_exist_ok=True)
            elif kind == "file":
                shutil.copy2(entry / str(index), path)
        result.outputs["cache-matched-key"] = matched
        result.outputs["cache-hit"] = "true" if matched == key else "false"
        result.log.append(f"Cache restored from key: {matched}")
        return result


class ArtifactStore:
    """upload-/download-artifact v4+: one folder per artifact name, unique per workflow run (immutable)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def path(self, name: str) -> Path:
        return self.root / name

    def upload(
        self, name: str, paths: Sequence[Path], *, include_hidden: bool, if_no_files_found: str
    ) -> StandInResult:
        result = StandInResult()
        files: list[tuple[Path, Path]] = []  # (source, path inside the artifact)
        # The artifact's root is the common ancestor of what was named: a single folder's contents.
        roots = [p if p.is_dir() else p.parent for p in paths if p.exists()]
        base = Path(os.path.commonpath(roots)) if roots else None
        for path in paths:
            if base is None:
                break
            found = sorted(q for q in path.rglob("*") if q.is_file()) if path.is_dir() else [path]
            for source in found:
                if not source.is_file():
                    continue
                rel = source.relative_to(base)
                # Hidden below the uploaded folder, or the folder named itself hidden: both dropped.
                if not include_hidden and (_hidden(rel) or _hidden(Path(path.name))):
                    continue
                files.append((source, rel))
        if not files:
            named = ", ".join(map(str, paths))
            message = f"No files were found with the provided path: {named}. No artifacts will be uploaded."
            if if_no_files_found == "error":
                result.error = message
            elif if_no_files_found != "ignore":
                result.log.append(f"::warning::{message}")
            return result
        if (self.root / name).exists():
            result.error = (
                "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: "
                "an artifact with this name already exists on the workflow run"
            )
            return result
        staging = self.root / f".{name}.{uuid.uuid4().hex}"
        for source, rel in files:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / rel)
        staging.rename(self.root / name)
        result.outputs["artifact-id"] = str(len(self.names()))
        result.log.append(f"Artifact {name} uploaded: {len(files)} files")
        return result

    def download(self, name: str, pattern: str, target: Path, *, merge_multiple: bool) -> StandInResult:
        result = StandInResult(outputs={"download-path": str(target)})
        if name:
            if not (self.root / name).is_dir():
                result.error = f"Unable to download artifact(s): Artifact not found for name: {name}"
                return result
            shutil.copytree(self.root / name, target, dirs_exist_ok=True)
            return result
        chosen = [n for n in self.names() if not pattern or fnmatch.fnmatchcase(n, pattern)]
        result.log.append(f"Found {len(chosen)} artifact(s)")
        for each in chosen:
            shutil.copytree(self.root / each, target if merge_multiple else target / each, dirs_exist_ok=True)
        return result


# ---------------------------------------------------------------------------------------------------------
# Jobs


@dataclass
class StepResult:
    id: str
    name: str
    outcome: str  # success, failure, skipped
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobResult:
    steps: list[StepResult]
    outputs: dict[str, str]  # the action's outputs
    summary: str  # the job summary, every step's GITHUB_STEP_SUMMARY in order
    exit_code: int  # 0 when every step succeeded, else the first failing step's code
    home: Path  # the job's files: runner temp, GITHUB_* files, step scripts

    @property
    def stdout(self) -> str:
        return "".join(step.stdout for step in self.steps)

    @property
    def stderr(self) -> str:
        return "".join(step.stderr for step in self.steps)

    def step(self, key: str) -> StepResult:
        for step in self.steps:
            if key in (step.id, step.name):
                return step
        raise KeyError(key)

    def describe(self) -> str:
        """Shown when an assertion fails: every step's outcome and what it wrote."""
        parts = [f"job -> {self.exit_code}, outputs {self.outputs}"]
        for step in self.steps:
            parts.append(f"--- {step.name} [{step.outcome} {step.exit_code}] {step.outputs}")
            if step.stdout:
                parts.append(step.stdout.rstrip())
            if step.stderr:
                parts.append("(stderr) " + step.stderr.rstrip())
        return "\n".join(parts)


def load_action(path: Path = ACTION_FILE) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if doc.get("runs", {}).get("using") != "composite":
        raise SimulationError(f"{path}: only composite actions are simulated")
    return doc


def check_run_steps(action: Mapping[str, Any]) -> None:
    """The issue's rules: no expression inside `run:`, every input reaches a shell only through `env:`."""
    for step in action["runs"]["steps"]:
        script = step.get("run")
        if script is None:
            continue
        label = step.get("name") or step.get("id")
        if "${{" in script:
            raise SimulationError(f"step {label!r}: `${{{{` inside run: (pass values through env:)")
        if step.get("shell") != "bash":
            raise SimulationError(f"step {label!r}: composite run steps need shell: bash")
        for key in step:
            if key not in ("name", "id", "if", "shell", "env", "run", "working-directory"):
                raise SimulationError(f"step {label!r}: unexpected key {key!r} on a run step")


def _shim(folder: Path) -> Path:
    """python3 and python wrappers for this interpreter; `-m pip install` does nothing (ci-toolkit is in)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = (
        "#!/bin/sh\n"
        "# runner_sim: ci-toolkit is already importable here; installing it would be slow and invasive.\n"
        'if [ "$1" = -m ] && [ "$2" = pip ] && [ "$3" = install ]; then exit 0; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    for name in ("python3", "python"):
        (folder / name).write_text(script)
        (folder / name).chmod(0o755)
    return folder


@dataclass
class Workflow:
    """One workflow run: its id and attempt, its event, the artifact and cache stores its jobs share."""

    root: Path
    event_name: str = "push"
    event: Mapping[str, Any] = field(default_factory=dict)
    repository: str = "octo/sample"
    ref: str = "refs/heads/main"
    sha: str = "0" * 40
    run_id: str = "4242"
    run_attempt: str = "1"
    token: str = "ghs_simulatedtoken0000000000000000000000"
    api_url: str = "https://api.github.invalid"
    cache_root: Path | None = None  # caches outlive runs: share one between Workflows to model that

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.artifacts = ArtifactStore(self.root / "artifacts")
        self.cache = CacheStore(self.cache_root or self.root / "cache")
        self._jobs = 0

    @property
    def head_ref(self) -> str:
        return self._pr_ref("head")

    @property
    def base_ref(self) -> str:
        return self._pr_ref("base")

    def _pr_ref(self, side: str) -> str:
        # The runner sets GITHUB_HEAD_REF / GITHUB_BASE_REF on pull request events only.
        if not self.event_name.startswith("pull_request"):
            return ""
        return str((self.event.get("pull_request") or {}).get(side, {}).get("ref", ""))

    @property
    def ref_name(self) -> str:
        return self.ref.rsplit("/", 1)[-1] if not self.ref.startswith("refs/pull/") else self.ref[10:]

    def job(
        self,
        workspace: Path,
        inputs: Mapping[str, str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        skip_install: bool = True,
        action_file: Path = ACTION_FILE,
    ) -> Job:
        self._jobs += 1
        return Job(
            self, workspace, dict(inputs or {}), dict(env or {}), skip_install, action_file, self._jobs
        )


class Job:
    """One job that uses the action once: its own workspace (the checkout), runner temp and GITHUB_* files."""

    def __init__(
        self,
        workflow: Workflow,
        workspace: Path,
        inputs: dict[str, str],
        env: dict[str, str],
        skip_install: bool,
        action_file: Path,
        number: int,
    ) -> None:
        self.workflow = workflow
        self.workspace = workspace
        self.action = load_action(action_file)
        check_run_steps(self.action)
        unknown = set(inputs) - set(self.action.get("inputs", {}))
        if unknown:
            raise SimulationError(f"inputs not declared by action.yml: {sorted(unknown)}")
        self.given = inputs
        self.extra_env = env
        self.home = workflow.root / f"job-{number}"
        self.temp = self.home / "temp"
        self.files = self.home / "files"
        for folder in (self.temp, self.files):
            folder.mkdir(parents=True, exist_ok=True)
        self.path_dirs: list[str] = [str(_shim(self.home / "shim"))] if skip_install else []
        self.job_env: dict[str, str] = {}
        self.event_path = self.home / "event.json"
        self.event_path.write_text(json.dumps(workflow.event), encoding="utf-8")

    def _github(self) -> dict[str, Any]:
        wf = self.workflow
        return {
            "event_name": wf.event_name,
            "event": wf.event,
            "ref": wf.ref,
            "ref_name": wf.ref_name,
            "head_ref": wf.head_ref,
            "base_ref": wf.base_ref,
            "run_id": wf.run_id,
            "run_attempt": wf.run_attempt,
            "repository": wf.repository,
            "sha": wf.sha,
            "token": wf.token,
            "workspace": str(self.workspace),
            "action_path": str(ACTION_ROOT),
            "api_url": wf.api_url,
        }

    def _inputs(self, contexts: Mapping[str, Any]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, spec in self.action.get("inputs", {}).items():
            if name in self.given:
                values[name] = self.given[name]
            else:
                values[name] = interpolate(to_text((spec or {}).get("default", "")), contexts)
        return values

    def base_env(self) -> dict[str, str]:
        """What every run step starts from: a clean environment plus what a runner sets."""
        wf = self.workflow
        path = [*self.path_dirs, str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]
        env = {
            "PATH": os.pathsep.join(path),
            "HOME": os.environ.get("HOME", str(self.home)),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(ACTION_ROOT),
            "GITHUB_API_URL": wf.api_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": wf.repository,
            "GITHUB_EVENT_NAME": wf.event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_RUN_ID": wf.run_id,
            "GITHUB_RUN_ATTEMPT": wf.run_attempt,
            "GITHUB_SHA": wf.sha,
            "GITHUB_REF": wf.ref,
            "GITHUB_REF_NAME": wf.ref_name,
            "GITHUB_HEAD_REF": wf.head_ref,
            "GITHUB_BASE_REF": wf.base_ref,
            "RUNNER_TEMP": str(self.temp),
            "RUNNER_OS": "Linux",
        }
        env.update(self.extra_env)
        env.update(self.job_env)
        return env

    def run(self) -> JobResult:
        contexts: dict[str, Any] = {
            "github": self._github(),
            "runner": {"temp": str(self.temp), "os": "Linux"},
        }
        contexts["steps"] = {}
        contexts["env"] = {}
        contexts["inputs"] = self._inputs(contexts)
        results: list[StepResult] = []
        summary: list[str] = []
        failed_code: int | None = None
        for index, step in enumerate(self.action["runs"]["steps"]):
            step_id = step.get("id") or f"__step{index}"
            name = step.get("name") or step_id
            failed = failed_code is not None
            if not condition(step.get("if"), contexts, failed=failed):
                result = StepResult(step_id, name, "skipped")
            elif "run" in step:
                result = self._run_step(step, step_id, name, contexts, summary, failed=failed)
            else:
                result = self._uses_step(step, step_id, name, contexts, failed=failed)
            results.append(result)
            contexts["steps"][step_id] = {
                "outputs": result.outputs,
                "outcome": result.outcome,
                "conclusion": result.outcome,
            }
            if result.outcome == "failure" and failed_code is None:
                failed_code = result.exit_code or 1
        outputs = {
            name: interpolate(to_text(spec.get("value", "")), contexts)
            for name, spec in self.action.get("outputs", {}).items()
        }
        return JobResult(results, outputs, "".join(summary), failed_code or 0, self.home)

    def _run_step(
        self,
        step: Mapping[str, Any],
        step_id: str,
        name: str,
        contexts: Mapping[str, Any],
        summary: list[str],
        *,
        failed: bool,
    ) -> StepResult:
        files = {kind: self.files / f"{kind}_{step_id}" for kind in ("output", "env", "path", "summary")}
        for path in files.values():
            path.write_text("")
        env = self.base_env()
        env.update(
            GITHUB_OUTPUT=str(files["output"]),
            GITHUB_ENV=str(files["env"]),
            GITHUB_PATH=str(files["path"]),
            GITHUB_STEP_SUMMARY=str(files["summary"]),
        )
        for key, value in (step.get("env") or {}).items():
            env[key] = interpolate(to_text(value), contexts, failed=failed)
        cwd = self.workspace / interpolate(
            to_text(step.get("working-directory", ".")), contexts, failed=failed
        )
        script = self.home / "scripts" / f"{step_id}.sh"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(step["run"])
        proc = subprocess.run(
            [*BASH, str(script)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        outputs = read_file_commands(files["output"].read_text())
        self.job_env.update(read_file_commands(files["env"].read_text()))
        self.path_dirs[:0] = reversed(_lines(files["path"].read_text()))
        summary.append(files["summary"].read_text())
        outcome = "success" if proc.returncode == 0 else "failure"
        return StepResult(step_id, name, outcome, proc.returncode, proc.stdout, proc.stderr, outputs)

    def _uses_step(
        self, step: Mapping[str, Any], step_id: str, name: str, contexts: Mapping[str, Any], *, failed: bool
    ) -> StepResult:
        action = str(step["uses"]).split("@", 1)[0]
        args = {
            k: interpolate(to_text(v), contexts, failed=failed) for k, v in (step.get("with") or {}).items()
        }
        handler = self._stand_ins().get(action)
        if handler is None:
            raise SimulationError(f"step {name!r}: no stand-in for {action}")
        result = handler(args)
        stdout = "".join(f"{line}\n" for line in result.log)
        if result.error:
            return StepResult(
                step_id, name, "failure", 1, stdout + f"::error::{result.error}\n", "", result.outputs
            )
        return StepResult(step_id, name, "success", 0, stdout, "", result.outputs)

    def _paths(self, value: str) -> list[Path]:
        return [self.workspace / p for p in _lines(value)]  # an absolute path stays what it is

    def _stand_ins(self) -> dict[str, Callable[[dict[str, str]], StandInResult]]:
        store, cache = self.workflow.artifacts, self.workflow.cache
        return {
            "actions/cache/restore": lambda a: cache.restore(
                a.get("key", ""), _lines(a.get("restore-keys", "")), self._paths(a.get("path", ""))
            ),
            "actions/cache/save": lambda a: cache.save(a.get("key", ""), self._paths(a.get("path", ""))),
            "actions/upload-artifact": lambda a: store.upload(
                a.get("name") or "artifact",
                self._paths(a.get("path", "")),
                include_hidden=a.get("include-hidden-files", "false").lower() == "true",
                if_no_files_found=a.get("if-no-files-found", "warn"),
            ),
            "actions/download-artifact": lambda a: store.download(
                a.get("name", ""),
                a.get("pattern", ""),
                self.workspace / a.get("path", "."),
                merge_multiple=a.get("merge-multiple", "false").lower() == "true",
            ),
        }
