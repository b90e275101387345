"""The gate as the commands run it: coverage data and the configuration in, a Verdict out.

`--base` and `--compare` are checked by `prepare` before anything runs (a typo must not cost a test run),
then used by `judge` (patch coverage) and `delta` (the change against a saved verdict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.gate.compare import Baseline, Delta
    from ci_toolkit.gate.patch import Base
    from ci_toolkit.gate.verdict import Verdict


@dataclass(frozen=True)
class Against:
    """What a verdict is judged against besides the floors: a git base (--base), a saved verdict
    (--compare)."""

    base: Base | None = None
    baseline: Baseline | None = None


def prepare(config: Config, base_ref: str | None, compare_path: Path | None) -> Against:
    """Check `--base REF` (the ref exists, the merge base is in the clone) and read `--compare FILE`;
    each problem is one line (DataError, exit 2)."""
    # Imported only when asked for: a plain run must not pay for them before its tests start.
    base: Base | None = None
    baseline: Baseline | None = None
    if base_ref is not None:
        from ci_toolkit.gate import patch

        base = patch.merge_base(config.root, base_ref)
    if compare_path is not None:
        from ci_toolkit.gate import compare

        baseline = compare.read(compare_path)
    return Against(base=base, baseline=baseline)


def judge(data: Path | None, config: Config, against: Against | None = None) -> Verdict:
    """Load coverage (None: no data was produced at all) and evaluate the thresholds, and the patch
    coverage when *against* has a base.

    Only the coverage source is judged (configured, or detected as `local` measures it): what else was
    measured never counts, and source files the data does not name count at 0%.
    """
    from ci_toolkit.errors import ConfigError
    from ci_toolkit.gate import covdata, patch
    from ci_toolkit.gate import verdict as gate
    from ci_toolkit.run import argv

    if data is None:
        return gate.evaluate(covdata.CoverageReport(files=(), has_branches=False), config.coverage)
    try:
        entries = argv.coverage_sources(config)
    except ConfigError as exc:
        # Nothing configured and no package to detect: nothing may be judged (a measured file outside the
        # source must never count), so the gate fails closed, once the data itself proved to be coverage.
        covdata.load(data, config.root, source=())
        return gate.unjudged(f"no coverage source to judge: {exc}")
    report = covdata.load(data, config.root, source=resolved_source(config, entries))
    found = None
    if against is not None and against.base is not None:
        found = patch.measure(against.base.ref, patch.changed_lines(config.root, against.base), report)
    return gate.evaluate(report, config.coverage, found)


def resolved_source(config: Config, entries: Sequence[str]) -> tuple[Path, ...]:
    """The paths the coverage source `entries` name in the project: what the gate judges (and what
    `local` has coverage.py parse while the tests run). ConfigError for an entry that names nothing."""
    from ci_toolkit.gate.source import resolve_source

    return resolve_source(entries, config.root, str(config.path or config.root))


def delta(verdict: Verdict | None, against: Against) -> Delta | None:
    """The change against the saved verdict, when one was given and this run judged any coverage."""
    from ci_toolkit.gate import compare

    if against.baseline is None or verdict is None or verdict.of_kind("data"):
        return None
    return compare.delta(against.baseline, verdict)
