"""Benchmark the FastAPI + PostgreSQL example: `ci-toolkit local` against `pytest -n 2 --cov` written by hand.

Ours:         `ci-toolkit local` in examples/fastapi-postgres, as CI runs it (CI=true: no initdb cache is
              kept between runs): it starts PostgreSQL itself, runs the lanes unit, integration (xdist, a
              database per worker) and slow, merges coverage, gates and stops PostgreSQL.
Hand-written: `python -m pytest -n 2 --cov=app --cov-branch` then `coverage report --fail-under=85`, timed
              together, against a PostgreSQL started once before the rounds by `ci-toolkit services up`
              (the same binaries and settings), with DATABASE_URL as `services up` exports it to the lanes.
Lower bound:  what neither side can avoid on 2 cores: one pytest start-up in the project (`pytest
              --collect-only -q`: the interpreter, the plugins, the app and every test module) plus the
              tests' serial work (the sum of their durations in a serial recording, with coverage) / 2.

Each round runs the three measurements once, the order rotating by one every round, on two copies of the
example (ours keeps its timing history between rounds, as a CI cache would; the warm-up creates it). The
hand-written side must pass and run as many tests as ours. Printed: the medians, each side's ratio to the
lower bound, and the headline ratio ours / hand-written (target <= 1.00).

Usage: python benchmarks/bench_example.py --reps 5
Exit status: 0 when every run succeeded (and, with --strict, the target was met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import signal
import statistics
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_local import Run, ci_toolkit_command, clean_env, report_failure, timed, verdict

# The checkout this script belongs to is what is measured (unless --checkout names another), whatever
# ci-toolkit the environment has installed: an editable install may point at another copy.
REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.0
WORKERS = 2  # the hand-written side's -n, and the cores the lower bound spreads the work over
FAIL_UNDER = 85
SIDES = ("ours", "hand", "start-up")
# pytest's final line, e.g. "===== 226 passed in 12.34s =====".
_SESSION_LINE = re.compile(r"^=+ (.*) in \d+(?:\.\d+)?s\b.*=+\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Bound:
    """The lower bound of a run of the example on `cores` cores."""

    startup: float
    work: float
    cores: int

    @property
    def seconds(self) -> float:
        return self.startup + self.work / self.cores


def copy_example(checkout: Path, dest: Path) -> Path:
    project = dest / "fastapi-postgres"
    ignored = shutil.ignore_patterns(
        ".ci-toolkit", "__pycache__", ".coverage*", ".pytest_cache", "summary.json"
    )
    shutil.copytree(checkout / "examples" / "fastapi-postgres", project, ignore=ignored)
    return project


def hand_commands(junit: str | None = None) -> list[list[str]]:
    """The hand-written side; with `junit`, the serial recording instead (no xdist, a JUnit XML)."""
    # `-p no:ci_toolkit`: a team without ci-toolkit would not load our pytest plugin (a pytest11 entry point).
    pytest = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:ci_toolkit",
        "--cov=app",
        "--cov-branch",
        "--cov-report=",
    ]
    pytest += ["-n", str(WORKERS)] if junit is None else [f"--junitxml={junit}"]
    return [pytest, [sys.executable, "-m", "coverage", "report", f"--fail-under={FAIL_UNDER}"]]


def startup_command() -> list[list[str]]:
    return [[sys.executable, "-m", "pytest", "-p", "no:ci_toolkit", "--collect-only", "-q"]]


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.removeprefix("export "): value for key, value in pairs}


def start_postgres(project: Path, env: dict[str, str], logs: Path) -> dict[str, str]:
    """The hand-written side's server: the example's postgres service, left running by `services up`."""
    env_file = logs / "postgres.env"
    command = [[*ci_toolkit_command(), "services", "up", "--env-file", str(env_file)]]
    run = timed("postgres", command, project, logs / "postgres-up.log", env)
    if not run.ok:
        report_failure(run, "ci-toolkit services up")
        raise SystemExit(1)
    return read_env_file(env_file)


def stop_services(projects: list[Path], env: dict[str, str], logs: Path) -> None:
    """`services down` in both copies: the hand-written side's server, and whatever an interrupted
    `ci-toolkit local` (killed by subprocess.run after a Ctrl-C) left behind."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave a server running
    try:
        for i, project in enumerate(projects):
            command = [[*ci_toolkit_command(), "services", "down"]]
            timed("postgres", command, project, logs / f"services-down-{i}.log", env)
    finally:
        signal.signal(signal.SIGINT, previous)


def reset(project: Path) -> None:
    for path in project.glob(".coverage*"):
        path.unlink()


def summary(project: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / "summary.json").read_text())
    return data


def passed_tests(log: Path) -> int | None:
    """How many tests pytest's last session line in `log` says passed, None unless all of them did."""
    sessions = _SESSION_LINE.findall(log.read_text(errors="replace"))
    if not sessions or re.search(r"\b(failed|errors?)\b", sessions[-1]):
        return None
    found = re.search(r"(\d+) passed", sessions[-1])
    return int(found.group(1)) if found else None


def recorded_work(junit: Path) -> tuple[int, float]:
    """(tests, seconds) of a JUnit XML: each test's setup, call and teardown, pytest's default."""
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    return len(cases), sum(float(case.get("time", 0.0)) for case in cases)


def not_the_same_suite(data: dict[str, object], hand_log: Path, tests: int) -> str | None:
    """Why this round's two sides did not both pass the recording's `tests` tests, or None."""
    ours = data.get("tests")
    passed = ours.get("passed") if isinstance(ours, dict) and data.get("passed") else None
    counts = {"ours": passed, "hand": passed_tests(hand_log)}
    if all(count == tests for count in counts.values()):
        return None
    return f"tests passed (None: not all) {counts}; the serial recording ran {tests}"


def rotated(round_number: int) -> tuple[str, ...]:
    shift = round_number % len(SIDES)
    return SIDES[shift:] + SIDES[:shift]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="rounds of the three measurements (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per side first (default 1)")
    parser.add_argument(
        "--checkout", type=Path, default=REPO, help="the ci-toolkit checkout to measure (default: this one)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.warmup < 1:
        parser.error("--reps and --warmup must be >= 1 (the warm-up gives ours its timing history)")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    # A SIGTERM unwinds like a Ctrl-C, so the finally below stops the servers either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="ci-toolkit-bench-example-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # as root the server runs as an unprivileged user who must get in
        logs = base / "logs"
        logs.mkdir()
        checkout = args.checkout.resolve()
        ours_dir = copy_example(checkout, base / "ours")
        hand_dir = copy_example(checkout, base / "hand")
        env = clean_env()
        env["PYTHONPATH"] = str(checkout)
        env["CI"] = "true"  # what a CI machine pays: nothing cached between runs
        env["TMPDIR"] = str(base)
        try:
            hand_env = {**env, **start_postgres(hand_dir, env, logs)}
            return bench(ours_dir, hand_dir, env, hand_env, logs, args)
        finally:
            stop_services([hand_dir, ours_dir], env, logs)


def bench(
    ours_dir: Path,
    hand_dir: Path,
    env: dict[str, str],
    hand_env: dict[str, str],
    logs: Path,
    args: argparse.Namespace,
) -> int:
    commands = {
        "ours": [[*ci_toolkit_command(), "local", "--json", "summary.json"]],
        "hand": hand_commands(),
        "start-up": startup_command(),
    }
    print(f"== example: {args.checkout}/examples/fastapi-postgres, ci-toolkit local vs pytest -n 2 --cov ==")
    print(f"  ours    : {' '.join(commands['ours'][0])}  (starts and stops PostgreSQL itself)")
    print(f"  hand    : {' && '.join(' '.join(c) for c in commands['hand'])}  (PostgreSQL already running)")
    print(f"  start-up: {' '.join(commands['start-up'][0])}")
    exported = ", ".join(f"{k}=...:{v.rsplit(':', 1)[-1]}" for k, v in hand_env.items() if k not in env)
    print(f"  hand-written side's server: {exported}")

    def one(side: str, tag: str) -> Run | None:
        project, side_env = (ours_dir, env) if side == "ours" else (hand_dir, hand_env)
        reset(hand_dir)
        run = timed(side, commands[side], project, logs / f"{side}-{tag}.log", side_env)
        if not run.ok:
            report_failure(run, side)
            return None
        return run

    for i in range(args.warmup):
        for side in ("ours", "hand"):
            if one(side, f"warmup{i + 1}") is None:
                return 1
    recording = record(hand_dir, hand_env, logs)
    if recording is None:
        return 1
    tests, work = recording

    times: dict[str, list[float]] = {side: [] for side in SIDES}
    start_to_ready: list[float] = []
    waited: list[float] = []
    lanes: dict[str, list[float]] = {}
    for rnd in range(1, args.reps + 1):
        order = rotated(rnd)
        for side in order:
            run = one(side, f"round{rnd}")
            if run is None:
                return 1
            times[side].append(run.seconds)
        data = summary(ours_dir)
        problem = not_the_same_suite(data, logs / f"hand-round{rnd}.log", tests)
        if problem:
            print(f"  round {rnd}: {problem}", file=sys.stderr)
            return 1
        services = data.get("services") or []
        start_to_ready.append(sum(float(s["seconds"]) for s in services))  # type: ignore[index, union-attr]
        waited.append(float(data.get("services_waited") or 0.0))  # type: ignore[arg-type]
        for lane in data["lanes"]:  # type: ignore[union-attr]
            lanes.setdefault(lane["name"], []).append(float(lane["wall_time"]))  # type: ignore[index]
        latest = ", ".join(f"{side} {times[side][-1]:.2f} s" for side in SIDES)
        print(f"  round {rnd} ({', '.join(order)} in this order): {latest}")

    median = {side: statistics.median(values) for side, values in times.items()}
    bound = Bound(startup=median["start-up"], work=work, cores=WORKERS)
    print(f"  tests: {tests} passed on both sides and in the serial recording")
    print(f"  median wall: ours {median['ours']:.2f} s, hand-written {median['hand']:.2f} s")
    print(
        f"  lower bound: start-up {bound.startup:.2f} s + {work:.2f} s of tests / {WORKERS} cores "
        f"= {bound.seconds:.2f} s; ours {median['ours'] / bound.seconds:.2f} x it, "
        f"hand-written {median['hand'] / bound.seconds:.2f} x it"
    )
    print(
        "  ours per lane (median): "
        + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in lanes.items())
    )
    ready, wait = statistics.median(start_to_ready), statistics.median(waited)
    print(f"  ours' PostgreSQL: start to ready {ready:.2f} s, of which the run waited {wait:.2f} s")
    ratio = median["ours"] / median["hand"]
    ok = ratio <= TARGET_RATIO
    print(f"  ratio ours/hand-written = {ratio:.3f} (target <= {TARGET_RATIO:.2f}) {verdict(ok)}")
    return 0 if ok or not args.strict else 1


def record(project: Path, env: dict[str, str], logs: Path) -> tuple[int, float] | None:
    """One untimed serial run with coverage: how many tests there are and how long their work takes."""
    junit = logs / "recording.xml"
    reset(project)
    run = timed("recording", hand_commands(str(junit)), project, logs / "recording.log", env)
    if not run.ok:
        report_failure(run, "the serial recording")
        return None
    return recorded_work(junit)


if __name__ == "__main__":
    raise SystemExit(main())
