"""Benchmark `ci-toolkit local` against the hand-written pytest + coverage commands it replaces.

Two measurements, both in one invocation:

1. local: wall time of `ci-toolkit local` vs `python -m pytest -n 2 --cov=pkg --cov-branch --cov-report=
   --junitxml=out.xml` followed by `python -m coverage report --fail-under=80`, on a generated sample project
   (benchmarks/_project.py). Runs are interleaved and the order flips every repetition, so drift (thermal,
   cache, noisy neighbours) hits both sides alike. Target: median(ours) / median(theirs) <= 1.03. Printed
   beside it, the floor no tool can go below: `pytest --collect-only` (an interpreter importing pytest and
   collecting the suite, before any first test), plus the tests' own seconds (theirs' JUnit XML) spread
   over the workers; and theirs' two commands timed one by one.
2. start-up: median of `ci-toolkit --help` vs `python -c pass`. Target: difference <= 150 ms.

Both measure the checkout this script lives in: it goes first on PYTHONPATH of every command, whatever
`ci_toolkit` the environment has installed.

Usage: python benchmarks/bench_local.py --reps 5
Exit status: 0 when every run succeeded (and, with --strict, every target was met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import FAIL_UNDER, SEED, WORKERS, write_project

REPO = Path(__file__).resolve().parent.parent

LOCAL_TARGET_RATIO = 1.03
# pytest's final line, e.g. "===== 332 passed in 6.42s =====" (long runs add " (0:01:05)").
_SESSION_LINE = re.compile(r"^=+ .* in (\d+(?:\.\d+)?)s\b.*=+\s*$", re.MULTILINE)
STARTUP_TARGET_MS = 150.0

# Variables that would make one side behave differently from a clean CI shell. PYTHONDONTWRITEBYTECODE
# (set in many Docker images) would make every run compile the checkout's modules again, which an
# installed ci-toolkit never does: pip compiles them when it installs.
_SCRUBBED_ENV = (
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "COVERAGE_FILE",
    "COVERAGE_PROCESS_START",
    "COVERAGE_RCFILE",
    "PYTHONDONTWRITEBYTECODE",
)


@dataclass(frozen=True)
class Run:
    """One timed execution of one side."""

    side: str
    seconds: float
    returncode: int
    failed_command: str
    log: Path
    parts: tuple[float, ...] = ()  # seconds of each command, in order

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def ci_toolkit_command() -> list[str]:
    """The installed console script next to this interpreter, else the module form.

    The script next to sys.executable skips any PATH shim (pyenv, asdf) that would add its own start-up time.
    """
    bindir = Path(sys.executable).parent
    for name in ("ci-toolkit", "ci-toolkit.exe"):
        if (bindir / name).is_file():
            return [str(bindir / name)]
    return [sys.executable, "-m", "ci_toolkit"]


def theirs_commands() -> list[list[str]]:
    # `-p no:ci_toolkit`: our package registers a pytest11 entry point, which a team without ci-toolkit
    # would not have loaded; blocking it keeps the baseline honest (and working while the plugin is absent).
    return [
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:ci_toolkit",
            "-n",
            str(WORKERS),
            "--cov=pkg",
            "--cov-branch",
            "--cov-report=",
            "--junitxml=out.xml",
        ],
        [sys.executable, "-m", "coverage", "report", f"--fail-under={FAIL_UNDER}"],
    ]


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in _SCRUBBED_ENV:
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(path for path in (str(REPO), env.get("PYTHONPATH", "")) if path)
    return env


def reset_outputs(project: Path) -> None:
    """Remove what either side left behind, so neither pays for (or profits from) the other's files."""
    for pattern in (".coverage", ".coverage.*", "out.xml"):
        for path in project.glob(pattern):
            path.unlink()
    # Ours keeps its JUnit XML and data under .ci-toolkit/; a fresh CI checkout has none.
    shutil.rmtree(project / ".ci-toolkit", ignore_errors=True)


def timed(side: str, commands: Sequence[Sequence[str]], cwd: Path, log: Path, env: dict[str, str]) -> Run:
    """Run `commands` like `a && b`, all output into `log`, timing the whole sequence and each command."""
    returncode, failed = 0, ""
    parts: list[float] = []
    with log.open("wb") as out:
        start = time.perf_counter()
        for command in commands:
            began = time.perf_counter()
            returncode = subprocess.run(
                command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env
            ).returncode
            parts.append(time.perf_counter() - began)
            if returncode != 0:
                failed = " ".join(command)
                break
        seconds = time.perf_counter() - start
    return Run(side, seconds, returncode, failed, log, tuple(parts))


def log_tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(errors="replace").rstrip().splitlines()
    return "\n".join("    | " + line for line in text[-lines:])


def count_tests(junit: Path) -> int | None:
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    return sum(int(suite.get("tests", 0)) for suite in suites)


def junit_seconds(junit: Path) -> float | None:
    """The sum of the test cases' times in a JUnit XML file (pytest's: setup + call + teardown)."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return None
    return sum(float(case.get("time", 0) or 0) for case in root.iter("testcase"))


def startup_seconds(project: Path, env: dict[str, str], runs: int = 7) -> float:
    """Median wall time of `pytest --collect-only`: what some process of any tool must do before the first
    test can run (start the interpreter, import pytest, collect the suite)."""
    command = [sys.executable, "-m", "pytest", "-p", "no:ci_toolkit", "-p", "no:cacheprovider", "-q"]
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([*command, "--collect-only"], cwd=project, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def session_seconds(log: Path) -> float | None:
    """The last pytest session duration printed in `log`, if any."""
    matches = _SESSION_LINE.findall(log.read_text(errors="replace"))
    return float(matches[-1]) if matches else None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report_failure(run: Run, command_label: str) -> None:
    print(
        f"\n{run.side} FAILED (exit {run.returncode}): {run.failed_command or command_label}", file=sys.stderr
    )
    print(f"  log: {run.log}", file=sys.stderr)
    print(log_tail(run.log), file=sys.stderr)


def bench_local(project: Path, logs: Path, reps: int, warmup: int) -> tuple[bool, bool]:
    """Return (every run succeeded, ratio target met)."""
    env = clean_env()
    ours = [[*ci_toolkit_command(), "local"]]
    theirs = theirs_commands()
    sides = {"ours": ours, "theirs": theirs}
    labels = {side: " && ".join(" ".join(c) for c in cmds) for side, cmds in sides.items()}
    print("== local: full test run with merged coverage and gate ==")
    for side, label in labels.items():
        print(f"  {side:<6}: {label}")

    def one(side: str, tag: str) -> Run:
        reset_outputs(project)
        return timed(side, sides[side], project, logs / f"{side}-{tag}.log", env)

    for i in range(warmup):
        for side in sides:
            run = one(side, f"warmup{i + 1}")
            if not run.ok:
                report_failure(run, labels[side])
                return False, False
    if warmup:
        print(f"  tests per run: {count_tests(project / 'out.xml') or '?'} (from the baseline's JUnit XML)")
        print(f"  ours' summary (warm-up):\n{log_tail(logs / 'ours-warmup1.log', 8)}")

    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    # Wall time minus pytest's own session time: start-up, combining, gating, reporting. Much less
    # sensitive to load from other processes than the whole run, so it shows where a gap comes from.
    outside: dict[str, list[float]] = {"ours": [], "theirs": []}
    # Theirs' commands one by one: the pytest run, then `coverage report`.
    theirs_parts: list[tuple[float, ...]] = []
    # The tests' own seconds (setup, call and teardown), from theirs' JUnit XML: the work the floor spreads.
    test_seconds: list[float] = []
    for rep in range(1, reps + 1):
        # Flip the order every repetition: whichever goes second runs on warmer caches.
        order = ("ours", "theirs") if rep % 2 else ("theirs", "ours")
        runs = {side: one(side, f"rep{rep}") for side in order}
        for side in order:
            if not runs[side].ok:
                report_failure(runs[side], labels[side])
                return False, False
            times[side].append(runs[side].seconds)
            if side == "theirs":
                theirs_parts.append(runs[side].parts)
                seconds = junit_seconds(project / "out.xml")
                if seconds is not None:
                    test_seconds.append(seconds)
            session = session_seconds(runs[side].log)
            if session is not None:
                outside[side].append(runs[side].seconds - session)
        print(
            f"  rep {rep}/{reps} ({order[0]} first): ours {runs['ours'].seconds:7.3f} s"
            f"   theirs {runs['theirs'].seconds:7.3f} s"
        )

    med_ours, med_theirs = statistics.median(times["ours"]), statistics.median(times["theirs"])
    ratio = med_ours / med_theirs
    met = ratio <= LOCAL_TARGET_RATIO
    for side, median in (("ours", med_ours), ("theirs", med_theirs)):
        spread = f"min {min(times[side]):.3f}, max {max(times[side]):.3f}"
        print(f"  median {side:<6} {median:7.3f} s  ({spread})")
    print(f"  ratio ours/theirs = {ratio:.3f}  (target <= {LOCAL_TARGET_RATIO:.2f})  {verdict(met)}")
    pytest_alone = statistics.median(parts[0] for parts in theirs_parts)
    report_alone = statistics.median(parts[1] for parts in theirs_parts)
    print(f"  theirs' commands: pytest {pytest_alone:.3f} s + coverage report {report_alone:.3f} s (medians)")
    if test_seconds:
        start = startup_seconds(project, env)
        work = statistics.median(test_seconds)
        floor = start + work / WORKERS
        print(
            f"  floor   {floor:7.3f} s = pytest --collect-only {start:.3f} s + the tests' own "
            f"{work:.3f} s (theirs' JUnit XML) over {WORKERS} workers; "
            f"ours/floor = {med_ours / floor:.3f}, theirs/floor = {med_theirs / floor:.3f}"
        )
    if outside["ours"] and outside["theirs"]:
        ours_out, theirs_out = statistics.median(outside["ours"]), statistics.median(outside["theirs"])
        print(
            f"  outside the pytest session (diagnostic, no target): ours {ours_out:.3f} s, "
            f"theirs {theirs_out:.3f} s, difference {ours_out - theirs_out:+.3f} s"
        )
    return True, met


def bench_startup(logs: Path, runs: int) -> tuple[bool, bool]:
    """Return (every run succeeded, start-up target met)."""
    env = clean_env()
    sides = {
        "ci-toolkit --help": [*ci_toolkit_command(), "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    print("\n== start-up ==")
    times: dict[str, list[float]] = {label: [] for label in sides}
    for i in range(runs + 2):
        order = list(sides) if i % 2 else list(reversed(sides))
        for label in order:
            run = timed(label, [sides[label]], Path.cwd(), logs / "startup.log", env)
            if not run.ok:
                report_failure(run, " ".join(sides[label]))
                return False, False
            if i >= 2:  # the first two rounds only warm the OS caches
                times[label].append(run.seconds * 1000)
    medians = {label: statistics.median(ms) for label, ms in times.items()}
    for label, median in medians.items():
        print(f"  {label:<18} median {median:7.1f} ms over {runs} runs  ({' '.join(sides[label])})")
    diff = medians["ci-toolkit --help"] - medians["python -c pass"]
    met = diff <= STARTUP_TARGET_MS
    print(f"  difference = {diff:.1f} ms  (target <= {STARTUP_TARGET_MS:.0f} ms)  {verdict(met)}")
    return True, met


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark ci-toolkit local and start-up against plain tools."
    )
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per side (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per side first (default 1)")
    parser.add_argument("--startup-runs", type=int, default=20, help="start-up runs per side (default 20)")
    parser.add_argument("--seed", type=int, default=SEED, help="sample project seed")
    parser.add_argument("--skip-local", action="store_true", help="only measure start-up")
    parser.add_argument("--skip-startup", action="store_true", help="only measure the local run")
    parser.add_argument("--keep", action="store_true", help="keep the sample project and logs")
    parser.add_argument("--strict", action="store_true", help="also exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.startup_runs < 1 or args.warmup < 0:
        parser.error("--reps and --startup-runs must be >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # Progress lines should appear as runs finish, and in order with the failure report on stderr.
        sys.stdout.reconfigure(line_buffering=True)
    workdir = Path(tempfile.mkdtemp(prefix="ci-toolkit-bench-"))
    project, logs = workdir / "project", workdir / "logs"
    logs.mkdir()
    write_project(project, seed=args.seed)
    print(f"python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs; project {project}")
    ok, met = True, True
    try:
        if not args.skip_local:
            run_ok, run_met = bench_local(project, logs, args.reps, args.warmup)
            ok, met = ok and run_ok, met and run_met
        if ok and not args.skip_startup:
            run_ok, run_met = bench_startup(logs, args.startup_runs)
            ok, met = ok and run_ok, met and run_met
    finally:
        if args.keep or not ok:
            print(f"\nkept {workdir} (project and logs)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not ok:
        return 1
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
