"""Shards run for real: realised slowest shard / lower bound, ours (`--ci-shard`) vs pytest-split.

A generated suite (benchmarks/_suites.py write_fixture_suite: 16 modules, every test using a module-scoped
fixture; half the modules pay 0.5-1 s to set it up) is run once serially with our plugin's
--ci-toolkit-results. That one recording gives both sides their input:

- ours: a ci_toolkit.timings history (observations_from_results, update, save), HISTORY;
- pytest-split: its flat {nodeid: setup+call+teardown} durations file, DURATIONS.

Then, `--reps` rounds, each running every side's N (4) shards one after the other (a single CI runner
running the shards in turn; the side order rotates each round):

- ours: `pytest -p ci_toolkit.pytest_plugin --ci-shard=K/N --ci-timings=HISTORY`
- split-chunks: `pytest -p pytest_split.plugin --splits=N --group=K --durations-path=DURATIONS`
- split-least: the same with `--splitting-algorithm=least_duration`

(split-chunks is pytest-split's default algorithm, duration_based_chunks.) Plugin autoloading is off
(PYTEST_DISABLE_PLUGIN_AUTOLOAD=1), so each run has its own splitter and nothing else, whatever unrelated
plugins the machine has installed. pytest-split is importable from its own directory through PYTHONPATH,
for its runs only. `--all-plugins` lets every installed plugin load instead: then pytest-split registers
itself through the entry point in its dist-info (`-p pytest_split.plugin` on top would register it twice
and stop pytest), and its runs get `-p no:ci_toolkit`. Each shard's wall time is taken from outside
(interpreter start-up, collection and every module set-up the shard pays included).

lower bound = start-up + max(work / N, largest test including its module's set-up), where work is the sum
of every test's setup+call+teardown in the serial recording (each module's fixture paid once) and start-up
is the median wall time of `pytest --collect-only` on the suite, measured in every round: what every
shard pays before its first test. No split can finish its slowest shard sooner.

Target: median over rounds of (ours' slowest shard) / lower bound <= 1.10.

Usage: python benchmarks/bench_shards_realised.py [--reps 3] [--split-dir /tmp/ci-toolkit-bench-split]
Exit status: 1 when a run fails (or with --strict when the target is missed); else 0.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _suites import (
    SEED,
    Run,
    TimedTest,
    clean_env,
    find_pytest_split,
    history_from_results,
    load_results,
    plugin_args,
    run_pytest,
    write_durations,
    write_fixture_suite,
)

TARGET = 1.10
SIDES = ("ours", "split-chunks", "split-least")
_PASSED = re.compile(r"(\d+) passed")
_ESTIMATE = re.compile(r"\[pytest-split\] Running group \d+/\d+ \(estimated duration: ([\d.]+)s\)")


def shard_args(side: str, k: int, n: int, history: Path, durations: Path, autoload: bool) -> list[str]:
    # `--option=value` throughout: see _suites.check_run for what a space does to a file argument.
    if side == "ours":
        return [*plugin_args(["ci_toolkit"], autoload), f"--ci-shard={k}/{n}", f"--ci-timings={history}"]
    split = [*plugin_args(["pytest_split"], autoload), f"--splits={n}", f"--group={k}"]
    split.append(f"--durations-path={durations}")
    if side == "split-least":
        split.append("--splitting-algorithm=least_duration")
    return split


def passed(run: Run) -> int:
    """Tests passed, from pytest's summary line ("==== 58 passed, 173 deselected in 8.33s ====")."""
    summaries = [ln for ln in run.text().splitlines() if ln.startswith("=") and " in " in ln]
    found = _PASSED.findall(summaries[-1]) if summaries else []
    return int(found[-1]) if found else 0


def split_estimate(run: Run) -> float | None:
    """pytest-split's own prediction for the shard it ran."""
    found = _ESTIMATE.search(run.text())
    return float(found.group(1)) if found else None


def fail(run: Run) -> int:
    why = run.problem or f"exited {run.returncode}"
    print(f"\nFAILED: {run.label}: {why}; log {run.log}:\n{run.tail()}", file=sys.stderr)
    return 1


def largest_test(tests: Sequence[TimedTest], module_setup: dict[str, float]) -> float:
    """The longest a single test can take in any shard: with its module's set-up paid.

    The recording charged a module's set-up to its first test only; the others get it added.
    """
    firsts = {t.nodeid.split("::")[0]: t.nodeid for t in reversed(tests)}
    longest = 0.0
    for t in tests:
        module = t.nodeid.split("::")[0]
        extra = 0.0 if firsts[module] == t.nodeid else module_setup.get(module, 0.0)
        longest = max(longest, t.duration + extra)
    return longest


def predicted_shards(tests: Sequence[TimedTest], history: object, shards: int) -> list[float] | None:
    """Our planner's own per-shard prediction for the same input, for comparison (None if it fails)."""
    try:
        from ci_toolkit import timing as timings
        from ci_toolkit.planning import make_plan

        plan = make_plan([t.nodeid for t in tests], timings.Estimator(history), shards)  # type: ignore[arg-type]
    except Exception as exc:  # a diagnostic only: the shard runs themselves are what is measured
        print(f"  (no in-process plan: {exc})")
        return None
    return [s.predicted for s in plan.shards]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3, help="rounds of every side's shards (default 3)")
    parser.add_argument("--shards", type=int, default=4, help="N (default 4)")
    parser.add_argument("--seed", type=int, default=SEED, help="suite seed")
    parser.add_argument("--split-dir", help="where pytest-split is installed (pip install --target)")
    parser.add_argument(
        "--all-plugins",
        action="store_true",
        help="let every installed pytest plugin load (default: only ci-toolkit or pytest-split)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the suite and logs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    n = args.shards

    split_dir = find_pytest_split(args.split_dir)
    autoload = args.all_plugins
    env = clean_env(autoload=autoload)
    split_env = clean_env([split_dir] if split_dir else [], autoload=autoload)
    tmp = Path(tempfile.mkdtemp(prefix="ci-toolkit-bench-shards-"))
    root, logs = tmp / "suite", tmp / "logs"
    root.mkdir()
    logs.mkdir()
    try:
        from ci_toolkit import timing as timings

        expensive = write_fixture_suite(root, seed=args.seed)
        results = logs / "record.json"
        run = run_pytest(
            "recording run",
            [*plugin_args(["ci_toolkit"], autoload), f"--ci-toolkit-results={results}"],
            root,
            logs / "record.log",
            env,
        )
        if not run.ok:
            args.keep = True
            return fail(run)
        tests = load_results(results)
        history_path, durations_path = logs / "history.json", logs / "durations.json"
        history = history_from_results(results, timings.project_name(root))
        timings.save(history_path, history)
        write_durations(durations_path, tests)

        work = sum(t.duration for t in tests)
        largest = largest_test(tests, expensive)
        modules = len({t.nodeid.split("::")[0] for t in tests})
        print(
            f"suite {root}: {len(tests)} tests in {modules} modules, {len(expensive)} with a module fixture"
            f" of {min(expensive.values()):.2f}-{max(expensive.values()):.2f} s"
            f" (sum {sum(expensive.values()):.2f} s)"
        )
        print(f"serial recording: work {work:.2f} s, wall {run.seconds:.2f} s")
        print(f"pytest-split from {split_dir or 'the environment'}; N = {n}, {args.reps} rounds")

        walls = {s: [[0.0] * n for _ in range(args.reps)] for s in SIDES}
        startup: list[float] = []
        estimates: dict[str, list[float | None]] = {s: [None] * n for s in SIDES}
        for rep in range(args.reps):
            probe = run_pytest(
                f"collect-only #{rep + 1}",
                [*plugin_args([], autoload), "--collect-only"],
                root,
                logs / "collect.log",
                env,
            )
            if not probe.ok:
                args.keep = True
                return fail(probe)
            startup.append(probe.seconds)
            order = SIDES[rep % len(SIDES) :] + SIDES[: rep % len(SIDES)]
            for side in order:
                count = 0
                for k in range(1, n + 1):
                    run = run_pytest(
                        f"{side} shard {k}/{n} #{rep + 1}",
                        shard_args(side, k, n, history_path, durations_path, autoload),
                        root,
                        logs / f"{side}-{k}-{rep + 1}.log",
                        split_env if side.startswith("split") else env,
                    )
                    # pytest exits 5 when a shard selected nothing: a (bad) split, not a failed run.
                    if run.returncode not in (0, 5) or run.problem:
                        args.keep = True
                        return fail(run)
                    walls[side][rep][k - 1] = run.seconds
                    estimates[side][k - 1] = split_estimate(run)
                    count += passed(run)
                if count != len(tests):
                    print(
                        f"\nFAILED: {side} round {rep + 1} ran {count} tests, not {len(tests)}",
                        file=sys.stderr,
                    )
                    args.keep = True
                    return 1
            print(
                f"  round {rep + 1}: "
                + "; ".join(f"{s} " + " ".join(f"{w:.2f}" for w in walls[s][rep]) for s in order),
                flush=True,
            )

        start = statistics.median(startup)
        bound = start + max(work / n, largest)
        print(
            f"\nlower bound = start-up {start:.2f} + max(work/{n} {work / n:.2f}, largest {largest:.2f})"
            f" = {bound:.2f} s"
        )
        predicted = predicted_shards(tests, history, n)
        print(f"  {'side':<13} {'median per shard (s)':<30} {'slowest':>8} {'sum':>7} {'/ bound':>8}")
        ratios: dict[str, float] = {}
        for side in SIDES:
            per_shard = [statistics.median(walls[side][r][k] for r in range(args.reps)) for k in range(n)]
            slowest = statistics.median(max(walls[side][r]) for r in range(args.reps))
            total = statistics.median(sum(walls[side][r]) for r in range(args.reps))
            ratios[side] = slowest / bound
            shards = " ".join(f"{w:6.2f}" for w in per_shard)
            print(f"  {side:<13} {shards:<30} {slowest:8.2f} {total:7.2f} {ratios[side]:8.3f}")
        print("  predicted, + start-up:")
        if predicted:
            shards = " ".join(f"{p + start:6.2f}" for p in predicted)
            print(f"  {'ours':<13} {shards:<30}  (make_plan in this process, same history)")
        for side in SIDES[1:]:
            if all(e is not None for e in estimates[side]):
                shards = " ".join(f"{e + start:6.2f}" for e in estimates[side] if e is not None)
                print(f"  {side:<13} {shards:<30}  (pytest-split's 'estimated duration')")
        best_theirs = min(ratios["split-chunks"], ratios["split-least"])
        verdict = "PASS" if ratios["ours"] <= TARGET else "MISS"
        print(
            f"\nours slowest / lower bound = {ratios['ours']:.3f} (target <= {TARGET}: {verdict}); "
            f"pytest-split: chunks {ratios['split-chunks']:.3f}, least_duration {ratios['split-least']:.3f}; "
            f"ours / best pytest-split = {ratios['ours'] / best_theirs:.3f}"
        )
        return 1 if args.strict and verdict == "MISS" else 0
    finally:
        if args.keep:
            print(f"\nkept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
