"""--ci-shard=K/N|auto [--ci-plan=FILE] [--ci-timings=FILE]: run shard K of N of the tests left after
-m/-k and other deselection; the rest are deselected the pytest way.

With --ci-plan, shard K is read from a plan manifest (ci_toolkit.run.exchange.plan) and the tests collected
here must be the ones the plan was made from (checked by fingerprint, before any deselection). Without
it, the shards are planned here from the timing history (--ci-timings, else the project's configured one:
history.shard_inputs), deterministically, so that every shard, and every xdist worker of a shard, plans the
same split, priced by `ci-toolkit plan`'s cost model (planning.cost). `auto` takes K/N from the CI's
environment.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.errors import CiToolkitError
from ci_toolkit.pytest_plugin.groups import xdist_group
from ci_toolkit.pytest_plugin.history import ShardInputs, shard_inputs
from ci_toolkit.run.exchange import plan as manifest

SHARD_PLUGIN = "ci_toolkit-shard"

SHARD_ENV = "CI_TOOLKIT_SHARD"  # "K/N", set by our GitHub action
# (index variable, total variable, the index of the first shard) per CI, in the order they are tried.
CI_SHARD_VARIABLES = (
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", 1),  # GitLab `parallel:`
    ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0),  # CircleCI `parallelism:`
    ("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0),  # Buildkite `parallelism:`
)
_DIFF_EXAMPLES = 3
PLAN_ERROR = f"{manifest.OPTION} "  # how a plan mismatch's message starts


def parse_shard(text: str, label: str = "--ci-shard") -> tuple[int, int]:
    """ "K/N" -> (K, N), 1 <= K <= N; a ValueError whose message is one line starting with `label`."""
    index, sep, total = text.strip().partition("/")
    try:
        if not sep:
            raise ValueError
        k, n = int(index), int(total)
    except ValueError:
        raise ValueError(f"{label} {text}: expected K/N, shard K of N counted from 1 (e.g. 2/4)") from None
    return _in_range(k, n, f"{label} {text}")


def _in_range(
    k: int,
    n: int,
    where: str,
    *,
    total: str = "the number of shards",
    index: str = "shard index",
    first: int = 1,
) -> tuple[int, int]:
    """(k, n) when 1 <= n <= MAX_SHARDS and 1 <= k <= n; else a ValueError naming `total` or `index`,
    whose values count from `first`."""
    from ci_toolkit.planning.plan import MAX_SHARDS

    if not 1 <= n <= MAX_SHARDS:
        raise ValueError(f"{where}: {total} must be 1-{MAX_SHARDS}")
    if not 1 <= k <= n:
        raise ValueError(f"{where}: {index} must be {first}-{n - 1 + first}")
    return k, n


def shard_from_env(environ: Mapping[str, str]) -> tuple[int, int, str] | None:
    """(K, N, where it came from) from the first CI convention whose variables are set, else None."""
    if environ.get(SHARD_ENV, "").strip():
        return (*parse_shard(environ[SHARD_ENV], SHARD_ENV), SHARD_ENV)
    for index_var, total_var, first in CI_SHARD_VARIABLES:
        index, total = environ.get(index_var, "").strip(), environ.get(total_var, "").strip()
        if not index or not total:
            continue
        label = f"{index_var}={index} {total_var}={total}"
        try:
            k, n = int(index) + 1 - first, int(total)
        except ValueError:
            raise ValueError(f"{label}: expected whole numbers") from None
        k, n = _in_range(k, n, label, total=total_var, index=index_var, first=first)
        return k, n, f"{index_var}/{total_var}"
    return None


def configure_shard(config: pytest.Config, base: Path) -> None:
    spec = config.getoption("ci_shard")
    plan_file = config.getoption("ci_plan")
    if spec is None:
        if plan_file:
            raise pytest.UsageError(f"{manifest.OPTION} {plan_file}: needs --ci-shard K/N (or auto)")
        return
    try:
        if spec.strip() == "auto":
            found = shard_from_env(os.environ)
            if found is None:
                config.pluginmanager.register(ShardNote(), SHARD_PLUGIN)
                return
            k, n, source = found
        else:
            (k, n), source = parse_shard(spec), "--ci-shard"
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if plan_file:
        selector = ShardSelector(k, n, source, read_plan(base / plan_file, n), plan_file, None)
    else:
        timings = config.getoption("ci_timings")
        # Read here, once per process, so that the header can name the history before collection. An
        # xdist worker keeps quiet: its controller has said what is wrong with the history already.
        quiet = hasattr(config, "workerinput")
        with contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext():
            inputs = shard_inputs(config.rootpath, config.inipath, base / timings if timings else None)
        selector = ShardSelector(k, n, source, None, None, inputs)
    config.pluginmanager.register(selector, SHARD_PLUGIN)


def read_plan(path: Path, shards: int) -> Any:
    """The manifest as a ci_toolkit.planning Plan; any problem is one UsageError line."""
    try:
        plan = manifest.read(path, f"{manifest.OPTION} {path}")
    except CiToolkitError as exc:
        raise pytest.UsageError(str(exc)) from None
    if len(plan.shards) != shards:
        raise pytest.UsageError(
            f"{manifest.OPTION} {path}: the plan has {len(plan.shards)} shards, not {shards}; "
            f"pass --ci-shard K/{len(plan.shards)} or make a plan with {shards} shards"
        )
    return plan


class ShardNote:
    """--ci-shard auto outside a parallel CI job: say that everything runs, rather than stay silent."""

    def pytest_report_header(self) -> str:
        return "ci-toolkit: --ci-shard auto: no shard in the environment, running every test"


class ShardSelector:
    """Keeps shard K's tests at collection. In an xdist session it acts in each worker, where the
    tests are collected; every worker makes the same choice, so xdist sees identical collections."""

    def __init__(
        self, k: int, n: int, source: str, plan: Any, plan_file: str | None, inputs: ShardInputs | None
    ) -> None:
        self.k, self.n, self.source = k, n, source
        self.plan, self.plan_file, self.inputs = plan, plan_file, inputs
        self.usage_error = False
        self.unknown: tuple[int, int] | None = None  # (tests without history, tests planned) once planned

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # xdist's controller stopping on a worker's shouldfail set below: a usage error, as without xdist.
        if str(excinfo.value).startswith(PLAN_ERROR):
            self.usage_error = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.usage_error:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_report_header(self) -> str:
        if self.inputs is None:
            origin = f"plan {self.plan_file}"
        else:
            origin = f"planned here, history: {self.inputs.origin}"
        where = "" if self.source == "--ci-shard" else f" (from {self.source})"
        return f"ci-toolkit: shard {self.k}/{self.n}{where}, {origin}"

    def pytest_report_collectionfinish(self) -> str | None:
        # Only where the tests are collected: under xdist the workers, whose lines nobody sees.
        if self.unknown is None:
            return None
        unknown, planned = self.unknown
        return f"ci-toolkit: shard {self.k}/{self.n}: {unknown} of {planned} tests without history: estimated"

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None, None, None]:
        # As a wrapper: the ids before anything deselects (what a plan's fingerprint covers) and before
        # xdist's loadgroup appends "@group" to them; after the yield, what -m/-k and the rest left.
        before = {id(item): item.nodeid for item in items}
        result = yield
        ids = [before.get(id(item), item.nodeid) for item in items]
        try:
            mine = self.choose(list(before.values()), ids, items, config)
        except pytest.UsageError as exc:
            if not hasattr(config, "workerinput"):
                raise
            # Raised in an xdist worker, the error would reach the controller as a crash of the
            # worker after xdist had sent it tests: instead run nothing and stop the session with
            # this message, which xdist passes on to the controller.
            session.shouldfail = str(exc)
            items[:] = []
            return result
        keep = [item for item, nodeid in zip(items, ids, strict=True) if nodeid in mine]
        if len(keep) != len(items):
            kept = {id(item) for item in keep}
            config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
            items[:] = keep
        return result

    def choose(
        self, collected: list[str], ids: list[str], items: list[pytest.Item], config: pytest.Config
    ) -> set[str]:
        from ci_toolkit import planning

        if self.inputs is None:
            check_fingerprint(self.plan, collected, self.plan_file or "")
            return set(self.plan.shards[self.k - 1].tests)
        from ci_toolkit import timing
        from ci_toolkit.planning import cost, pricing

        workers = _session_workers(config)
        # Durations recorded under coverage (what `ci-toolkit local` records) are not this session's when
        # it runs without: asked for its own mode, the history converts them where it learned how.
        mode = timing.mode(_coverage_mode(config), workers)
        estimate = timing.Estimator(self.inputs.history, mode=mode)
        overhead = pricing.shard_overhead(self.inputs.overhead, self.inputs.history, [mode])
        known = ("history", "converted")
        self.unknown = (sum(estimate.source(nodeid) not in known for nodeid in ids), len(ids))
        groups = {
            nodeid: name for nodeid, item in zip(ids, items, strict=True) if (name := xdist_group(item))
        }
        plan = planning.make_plan(
            ids,
            cost.session_estimate(estimate, ids, workers),
            self.n,
            groups=groups,
            keep_together=self.inputs.keep_together,
            overhead=overhead.seconds,
        )
        return set(plan.shards[self.k - 1].tests) if self.k <= len(plan.shards) else set()


def check_fingerprint(plan: Any, collected: Sequence[str], plan_file: str) -> None:
    from ci_toolkit import planning

    if planning.fingerprint(collected) == plan.fingerprint:
        return
    planned = {nodeid for shard in plan.shards for nodeid in shard.tests}
    here = set(collected)
    new, gone = sorted(here - planned), sorted(planned - here)
    examples = [f"+{nodeid}" for nodeid in new[:_DIFF_EXAMPLES]] + [
        f"-{nodeid}" for nodeid in gone[:_DIFF_EXAMPLES]
    ]
    raise pytest.UsageError(
        f"{PLAN_ERROR}{plan_file}: the tests collected here differ from the plan's "
        f"({len(new) + len(gone)} ids: {len(new)} not in the plan, {len(gone)} planned but not "
        f"collected, e.g. {', '.join(examples)}); "
        "every shard must collect the same tests: make the plan again from this checkout"
    )


def _session_workers(config: pytest.Config) -> int:
    """This session's xdist workers (0 without xdist); xdist hands workers the resolved number."""
    value = getattr(config.option, "numprocesses", None)
    if isinstance(value, int):
        return value
    if value in (None, "0"):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):  # "auto" or "logical", not resolved here
        return os.cpu_count() or 1


def _coverage_mode(config: pytest.Config) -> str:
    """What this session measures, as pytest-cov was asked: "off", "line" or "branch"."""
    if not getattr(config.option, "cov_source", None) or getattr(config.option, "no_cov", False):
        return "off"
    return "branch" if getattr(config.option, "cov_branch", None) else "line"
