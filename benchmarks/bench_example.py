"""Benchmark the FastAPI + PostgreSQL example: `ci-toolkit local` against plain serial `pytest --cov`.

Ours:   `ci-toolkit local` in examples/fastapi-postgres, as CI runs it (CI=true: no initdb cache is kept
        between runs), 2 workers: it starts PostgreSQL itself, collects, runs the lanes unit, integration
        (xdist, a database per worker) and slow, merges coverage, gates and stops PostgreSQL.
Theirs: `python -m pytest --cov=app --cov-branch` serially, the whole suite in one process, against a
        PostgreSQL started by hand beforehand (its start-up is not counted), then `coverage report
        --fail-under=85`, the gate a team without ci-toolkit would write.

Both run on the same copy of the example with the same interpreter and plugins (ours' pytest plugin is
blocked on their side with `-p no:ci_toolkit`). Runs are interleaved and the order flips every repetition.
Ours keeps its timing history between repetitions, as a CI cache would; the warm-up run creates it.

Printed: the median wall times and their ratio (target <= 0.7 on 2 cores), and the services' start-up as
a share of our run: from start to ready, and the part of it the run actually waited for (the rest
overlaps the lanes that need no service).

Also printed, to tell what no runner could do better here: the start-up of one pytest process in this
project (median of 3 `pytest --collect-only`: the interpreter, the plugins, importing the app and every
test module), and a floor for our ratio on this machine. The serial run pays that start-up once; lanes
pay it once per pytest process (a lane without xdist: one; with N workers: the controller, which imports
the conftests too, and N workers). With the tests' own work W = theirs - start-up spread perfectly over
the cores C, our wall time is at least (W + processes x start-up) / C.

Usage: python benchmarks/bench_example.py --reps 5
Exit status: 0 when every run succeeded (and, with --strict, the target was met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_local import Run, ci_toolkit_command, clean_env, report_failure, timed, verdict

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi-postgres"
TARGET_RATIO = 0.7
FAIL_UNDER = 85


def copy_example(dest: Path) -> Path:
    project = dest / "fastapi-postgres"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".ci-toolkit", "__pycache__", ".coverage*")
    )
    return project


def start_postgres(project: Path, env: dict[str, str], logs: Path) -> dict[str, str]:
    """The hand-started server of the baseline: the example's own postgres service, left running by
    `ci-toolkit services up` (the same binaries and settings ours uses), its URL read from the env file."""
    env_file = logs / "postgres.env"
    run = timed("postgres", [[*ci_toolkit_command(), "services", "up", "--env-file", str(env_file)]],
                project, logs / "postgres-up.log", env)  # fmt: skip
    if not run.ok:
        report_failure(run, "ci-toolkit services up")
        raise SystemExit(1)
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def stop_postgres(project: Path, env: dict[str, str], logs: Path) -> None:
    timed("postgres", [[*ci_toolkit_command(), "services", "down"]], project, logs / "postgres-down.log", env)


def theirs_commands() -> list[list[str]]:
    return [
        [sys.executable, "-m", "pytest", "-p", "no:ci_toolkit", "-p", "no:cacheprovider",
         "--cov=app", "--cov-branch", "--cov-report="],
        [sys.executable, "-m", "coverage", "report", f"--fail-under={FAIL_UNDER}"],
    ]  # fmt: skip


def reset(project: Path) -> None:
    for path in project.glob(".coverage*"):
        path.unlink()


def summary(project: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / "summary.json").read_text())
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ci-toolkit-bench-example-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # as root the server runs as an unprivileged user who must get in
        logs = base / "logs"
        logs.mkdir()
        ours_dir = copy_example(base / "ours")
        theirs_dir = copy_example(base / "theirs")
        env = clean_env()
        env["CI"] = "true"  # what a CI machine pays: nothing cached between runs
        env["TMPDIR"] = str(base)
        theirs_env = {**env, **start_postgres(theirs_dir, env, logs)}
        try:
            return bench(ours_dir, theirs_dir, env, theirs_env, logs, args)
        finally:
            stop_postgres(theirs_dir, env, logs)


def bench(
    ours_dir: Path,
    theirs_dir: Path,
    env: dict[str, str],
    theirs_env: dict[str, str],
    logs: Path,
    args: argparse.Namespace,
) -> int:
    ours_cmd = [[*ci_toolkit_command(), "local", "--json", "summary.json"]]
    theirs_cmd = theirs_commands()
    print("== example: examples/fastapi-postgres, ci-toolkit local vs serial pytest --cov ==")
    print(f"  ours  : {' '.join(ours_cmd[0])}  (starts and stops PostgreSQL itself)")
    print(f"  theirs: {' && '.join(' '.join(c) for c in theirs_cmd)}  (PostgreSQL already running)")

    def one(side: str, tag: str) -> Run:
        if side == "ours":
            return timed(side, ours_cmd, ours_dir, logs / f"ours-{tag}.log", env)
        reset(theirs_dir)
        return timed(side, theirs_cmd, theirs_dir, logs / f"theirs-{tag}.log", theirs_env)

    for i in range(args.warmup):
        for side in ("ours", "theirs"):
            run = one(side, f"warmup{i + 1}")
            if not run.ok:
                report_failure(run, side)
                return 1

    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    start_to_ready: list[float] = []
    waited: list[float] = []
    lanes: dict[str, list[float]] = {}
    for rep in range(1, args.reps + 1):
        order = ("ours", "theirs") if rep % 2 else ("theirs", "ours")
        for side in order:
            run = one(side, f"rep{rep}")
            if not run.ok:
                report_failure(run, side)
                return 1
            times[side].append(run.seconds)
        data = summary(ours_dir)
        services = data.get("services") or []
        start_to_ready.append(sum(float(s["seconds"]) for s in services))  # type: ignore[index, union-attr]
        waited.append(float(data.get("services_waited") or 0.0))  # type: ignore[arg-type]
        for lane in data["lanes"]:  # type: ignore[union-attr]
            lanes.setdefault(lane["name"], []).append(float(lane["wall_time"]))  # type: ignore[index]
        print(f"  rep {rep}: ours {times['ours'][-1]:.2f} s, theirs {times['theirs'][-1]:.2f} s")

    ours, theirs = statistics.median(times["ours"]), statistics.median(times["theirs"])
    ratio = ours / theirs
    ready, wait = statistics.median(start_to_ready), statistics.median(waited)
    print(f"  median wall: ours {ours:.2f} s, theirs {theirs:.2f} s")
    print(
        "  ours per lane (median): "
        + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in lanes.items())
    )
    print(
        f"  service start-up: start to ready {ready:.2f} s ({ready / ours:.0%} of our run), "
        f"of which the run waited {wait:.2f} s ({wait / ours:.0%}); the rest overlapped other work"
    )
    ok = ratio <= TARGET_RATIO
    print(f"  ratio ours/theirs = {ratio:.3f} (target <= {TARGET_RATIO}) {verdict(ok)}")
    startup = pytest_startup(theirs_dir, theirs_env, logs)
    processes = sum(w + 1 if w else 1 for w in lane_workers())  # with xdist: the controller too
    cores = os.cpu_count() or 1
    floor = (theirs - startup + processes * startup) / cores
    tests = theirs - startup
    print(
        f"  one pytest start-up here: {startup:.2f} s; ours starts {processes} pytest processes, the serial "
        f"run 1; floor on {cores} cores: ({tests:.1f} s of tests + {processes} x {startup:.2f} s) / "
        f"{cores} = {floor:.1f} s, a ratio of {floor / theirs:.2f}"
    )
    return 0 if ok or not args.strict else 1


def lane_workers() -> list[int]:
    """Each lane's xdist workers, from the example's own configuration."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the same parser, as ci-toolkit itself uses there
        import tomli as tomllib

    config = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["tool"]["ci-toolkit"]
    default = int(config.get("workers", 0))
    return [int(lane.get("workers", default)) for lane in config["lanes"]]


def pytest_startup(project: Path, env: dict[str, str], logs: Path) -> float:
    command = [[sys.executable, "-m", "pytest", "-p", "no:ci_toolkit", "-p", "no:cacheprovider",
                "--collect-only", "-q"]]  # fmt: skip
    runs = [timed("collect", command, project, logs / f"collect-{i}.log", env).seconds for i in range(3)]
    return statistics.median(runs)


if __name__ == "__main__":
    raise SystemExit(main())
