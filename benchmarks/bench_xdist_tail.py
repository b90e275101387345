"""Our duration-aware xdist scheduler against xdist's own `--dist load` and `--dist worksteal`: real runs.

Two generated suites (benchmarks/_suites.py), each run with `-n 2` (`--workers`):

- tail-heavy: 8 tests of 1 s placed together at the start of the collection, then 200 tests of 10 ms
  (the FIELD-NOTES case: `load` hands the whole slow block to one worker).
- uniform: 300 tests of 20 ms; nothing to gain, so what is measured is the scheduler's cost.

Per suite, one recording run (`--dist load` with our plugin's --ci-toolkit-results; it also warms the
bytecode caches) gives the timing history ours is told about: converted with ci_toolkit.timings
(observations_from_results, update, save). Then `--reps` rounds, each running every mode once, the order
rotating each round so drift hits every mode alike:

| mode   | pytest arguments |
|--------|------------------|
| ours   | `-p xdist.plugin -p ci_toolkit.pytest_plugin -n 2 --ci-scheduler=duration --ci-timings=HISTORY` |
| load   | `-p xdist.plugin -n 2 --dist=load` |
| worksteal | `-p xdist.plugin -n 2 --dist=worksteal` |
| load-1 | `-p xdist.plugin -n 2 --dist=load --maxschedchunk=1` (information only, not a target) |
| empty  | `-p xdist.plugin -n 2 -k no_test_has_this_name`: start-up alone (workers start and collect) |
| ours-empty | ours' arguments with `-k no_test_has_this_name`: ours' start-up (plugin, history, planning) |

Plugin autoloading is off (PYTEST_DISABLE_PLUGIN_AUTOLOAD=1) and the plugins that matter are named, so
the result does not depend on which unrelated pytest plugins the machine has installed (hypothesis,
pytest-benchmark, ... each add start-up to every process and worker); `--all-plugins` lets them all load
instead (then the built-in modes get `-p no:ci_toolkit`, as a team without ci-toolkit would not load it).
Every run also gets `-v` (so xdist names its scheduler class, printed below) and `-p no:cacheprovider`.
Times are wall-clock from outside the process, interpreter start-up included; medians of the rounds.
floor = median(empty) + max(total/workers, longest): what a perfect scheduler would take.

Targets: median(ours) / median(best of load, worksteal) <= 0.85 on the tail-heavy suite, <= 1.02 on the
uniform one.

Usage: python benchmarks/bench_xdist_tail.py [--reps 3]
Exit status: 1 when a run fails (or with --strict when a target is missed); else 0.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _suites import (
    Run,
    clean_env,
    history_from_results,
    load_results,
    plugin_args,
    run_pytest,
    write_tail_suite,
    write_uniform_suite,
)

BUILT_IN = ("load", "worksteal")
MODES = ("ours", "load", "worksteal", "load-1", "empty", "ours-empty")
# Selects nothing: workers start and collect, no test runs (pytest exits 5).
_NOTHING = "no_test_has_this_name"


@dataclass(frozen=True)
class Suite:
    name: str
    write: Callable[[Path], None]
    target: float


SUITES = (Suite("tail-heavy", write_tail_suite, 0.85), Suite("uniform", write_uniform_suite, 1.02))


def mode_args(mode: str, workers: int, history: Path, autoload: bool) -> list[str]:
    common = ["-v", "-n", str(workers)]
    if mode.startswith("ours"):
        plugins = plugin_args(["xdist", "ci_toolkit"], autoload)
        nothing = ["-k", _NOTHING] if mode == "ours-empty" else []
        return [*plugins, *common, "--ci-scheduler=duration", f"--ci-timings={history}", *nothing]
    plugins = plugin_args(["xdist"], autoload)
    if mode == "load-1":
        return [*plugins, *common, "--dist=load", "--maxschedchunk=1"]
    if mode == "empty":
        return [*plugins, *common, "-k", _NOTHING]
    return [*plugins, *common, f"--dist={mode}"]


def fail(run: Run) -> int:
    why = run.problem or f"exited {run.returncode}"
    print(f"\nFAILED: {run.label}: {why}; log {run.log}:\n{run.tail()}", file=sys.stderr)
    return 1


def record(
    root: Path, workers: int, logs: Path, env: dict[str, str], autoload: bool
) -> tuple[Path, float, float] | Run:
    """History from a recording run; returns (history path, total seconds, longest test) or the failed run."""
    from ci_toolkit import timing as timings

    results = logs / f"{root.name}-record.json"
    run = run_pytest(
        f"{root.name} recording run",
        [
            *plugin_args(["xdist", "ci_toolkit"], autoload),
            "-n",
            str(workers),
            "--dist=load",
            f"--ci-toolkit-results={results}",
        ],
        root,
        logs / f"{root.name}-record.log",
        env,
    )
    if not run.ok:
        return run
    history_path = logs / f"{root.name}-history.json"
    timings.save(history_path, history_from_results(results, timings.project_name(root)))
    tests = load_results(results)
    return history_path, sum(t.duration for t in tests), max(t.duration for t in tests)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3, help="rounds of every mode (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="xdist workers, -n (default 2)")
    parser.add_argument("--only", choices=[s.name for s in SUITES], help="run one suite only")
    parser.add_argument(
        "--all-plugins",
        action="store_true",
        help="let every installed pytest plugin load (default: only xdist and, for ours, ci-toolkit)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the suites and logs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="ci-toolkit-bench-xdist-"))
    logs = tmp / "logs"
    logs.mkdir()
    missed: list[str] = []
    env = clean_env(autoload=args.all_plugins)
    try:
        for suite in SUITES:
            if args.only and suite.name != args.only:
                continue
            root = tmp / suite.name
            root.mkdir()
            suite.write(root)
            recorded = record(root, args.workers, logs, env, args.all_plugins)
            if isinstance(recorded, Run):
                args.keep = True
                return fail(recorded)
            history, total, longest = recorded
            ideal = max(total / args.workers, longest)
            print(
                f"\n{suite.name}: {root}; recorded test time {total:.2f} s, longest {longest:.2f} s; "
                f"ideal with {args.workers} workers max(total/{args.workers}, longest) = {ideal:.2f} s "
                "+ start-up"
            )
            walls: dict[str, list[float]] = {m: [] for m in MODES}
            session: dict[str, list[float]] = {m: [] for m in MODES}
            schedulers: dict[str, set[str]] = {m: set() for m in MODES}
            for rep in range(args.reps):
                order = MODES[rep % len(MODES) :] + MODES[: rep % len(MODES)]
                for mode in order:
                    run = run_pytest(
                        f"{suite.name} {mode} #{rep + 1}",
                        mode_args(mode, args.workers, history, args.all_plugins),
                        root,
                        logs / f"{suite.name}-{mode}-{rep + 1}.log",
                        env,
                    )
                    if run.returncode != (5 if mode.endswith("empty") else 0) or run.problem:
                        args.keep = True
                        return fail(run)
                    walls[mode].append(run.seconds)
                    if run.session_seconds is not None:
                        session[mode].append(run.session_seconds)
                    schedulers[mode].add(run.scheduler or "?")
                print(
                    f"  round {rep + 1}: " + ", ".join(f"{m} {walls[m][-1]:.2f}" for m in order),
                    flush=True,
                )
            med = {m: statistics.median(walls[m]) for m in MODES}
            best = min(BUILT_IN, key=lambda m: med[m])
            print(
                f"  {'mode':<10} {'median s':>9} {'min':>6} {'max':>6} {'pytest s':>9}"
                f" {'vs best':>8}  scheduler"
            )
            for m in MODES:
                inner = f"{statistics.median(session[m]):9.2f}" if session[m] else f"{'-':>9}"
                print(
                    f"  {m:<10} {med[m]:9.2f} {min(walls[m]):6.2f} {max(walls[m]):6.2f} {inner}"
                    f" {med[m] / med[best]:8.3f}  {','.join(sorted(schedulers[m]))}"
                )
            floor = med["empty"] + ideal
            print(
                f"  floor = empty run {med['empty']:.2f} + ideal {ideal:.2f} = {floor:.2f} s; "
                f"ours / floor = {med['ours'] / floor:.3f}; "
                f"floor / best built-in = {floor / med[best]:.3f} (the best ratio possible here)"
            )
            ratio = med["ours"] / med[best]
            verdict = "PASS" if ratio <= suite.target else "MISS"
            print(f"  ours / best built-in ({best}) = {ratio:.3f}  (target <= {suite.target}: {verdict})")
            if schedulers["ours"] & {"LoadScheduling", "WorkStealingScheduling", "?"}:
                print("  warning: ours ran with xdist's own scheduler (or none was reported)")
            if verdict == "MISS":
                missed.append(f"{suite.name}: {ratio:.3f} > {suite.target}")
    finally:
        if args.keep:
            print(f"\nkept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
