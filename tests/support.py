"""What tests that start `ci-toolkit` as a real process share: its environment, its finished run, and
the private world (TMPDIR, record dir) in which services tests check that nothing is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 300  # a safety net against a hang, not a timing check

# Set by the session running these tests; a child ci-toolkit must not inherit them: it would believe
# it is an xdist worker, be measured by pytest-cov, print debug tracebacks or write to our job's env.
_INHERITED_PREFIXES = ("PYTEST_XDIST_", "COV_CORE_")
_INHERITED = ("PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS", "CI_TOOLKIT_DEBUG", "GITHUB_ENV")


def cli_env(*, autoload: bool = False, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment minus what belongs to this test session. Without `autoload`, pytest loads only
    the plugins ci-toolkit names (PYTEST_DISABLE_PLUGIN_AUTOLOAD), so plugins installed here by chance
    cannot change the child's results."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_INHERITED_PREFIXES) and key not in _INHERITED
    }
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Run:
    """One finished `ci-toolkit` process."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def last_line(self) -> str:
        lines = self.stdout.rstrip("\n").splitlines()
        return lines[-1] if lines else ""

    def describe(self) -> str:
        """Shown when an assertion fails: the command and everything it wrote."""
        command = " ".join(("ci-toolkit", *self.args))
        return f"{command} -> {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def run_ci_toolkit(
    *args: str | Path, cwd: Path, env: Mapping[str, str] | None = None, autoload: bool = False
) -> Run:
    argv = tuple(str(arg) for arg in args)
    proc = subprocess.run(
        [sys.executable, "-m", "ci_toolkit", *argv],
        cwd=cwd,
        env=dict(env) if env is not None else cli_env(autoload=autoload),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )
    return Run(argv, proc.returncode, proc.stdout, proc.stderr)


def processes_mentioning(*markers: str) -> list[str]:
    """Live processes (not zombies: those are already dead, waiting to be reaped) other than us whose
    command line or working directory contains one of `markers`."""
    found: list[str] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and any(marker in cmdline or marker in cwd for marker in markers):
            found.append(f"{proc.name}: {cmdline.strip()} (cwd {cwd})")
    return found


@dataclass
class World:
    """One private TMPDIR for the servers and one record dir for the sample tests."""

    tmpdir: Path
    records: Path
    autoload: bool = False  # True: pytest loads every installed plugin, as in a user's own environment

    def env(self) -> dict[str, str]:
        extra = {"TMPDIR": str(self.tmpdir), "RECORD_DIR": str(self.records)}
        return cli_env(autoload=self.autoload, extra=extra)

    def run(self, project: Path, *args: str) -> Run:
        return run_ci_toolkit(*args, cwd=project, env=self.env())

    def start(self, project: Path, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "ci_toolkit", *args],
            cwd=project, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def record(self, name: str) -> dict[str, str]:
        data: dict[str, str] = json.loads((self.records / f"{name}.json").read_text())
        return data

    def ours(self, *also: Path) -> list[str]:
        """Processes whose command line or working directory lies under our TMPDIR (or `also`)."""
        return processes_mentioning(str(self.tmpdir), *map(str, also))

    def data_dirs(self) -> list[str]:
        # The binaries/initdb cache is shared on purpose; everything else of ours is per service.
        return sorted(
            p.name
            for p in self.tmpdir.iterdir()
            if p.name.startswith("ci-toolkit-") and not p.name.startswith("ci-toolkit-cache-")
        )

    def assert_nothing_left(self, project: Path) -> None:
        deadline = time.monotonic() + 10  # processes killed a moment ago may still be being reaped
        while self.ours(project) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.ours(project) == []
        assert self.data_dirs() == []
        state = project / ".ci-toolkit" / "services" / "state.json"
        assert not state.exists(), state.read_text()


def imports_after(code: str) -> set[str]:
    """The modules a fresh interpreter has imported once it has run `code`."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def unmeasured_env() -> dict[str, str]:
    """Our environment without what would make a child process measured by this test session's coverage."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}


def coverage_run(root: Path, script: str, data: Path) -> Path:
    """Branch coverage data of `python script` run in `root` by coverage.py, written to `data`."""
    subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--branch", f"--data-file={data}", script],
        cwd=root, env=unmeasured_env(), check=True, capture_output=True,
    )  # fmt: skip
    return data


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` as tests need it: a fixed identity, no user or system configuration (no signing,
    hooks or aliases of the machine's), and a failure that names git's own message. Its stdout, stripped."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()
