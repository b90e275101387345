"""What several commands share: the configuration they start from and, for `local` and `gate`, how the
coverage is judged and the verdict published (the summary on stdout, `--json`).

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.gate.verdict import Verdict
    from ci_toolkit.run.results import LaneResult


def load_config(config_path: Path | None, *, json_path: Path | None = None) -> Config:
    """`--config`'s file, or the nearest pyproject.toml upwards. `--json`'s file is checked first: a
    verdict that cannot be written must not cost a run (or a judgement) first, and is one line."""
    from ci_toolkit import config as config_mod
    from ci_toolkit.files import outputs

    outputs.check(json_path=json_path)
    return config_mod.load(config_path)


def judge(data: Path | None, config: Config) -> Verdict:
    """Load coverage (None: no data was produced at all) and evaluate the thresholds.

    Only the coverage source is judged (configured, or detected as `local` measures it): what else was
    measured never counts, and source files the data does not name count at 0%.
    """
    from ci_toolkit.errors import ConfigError
    from ci_toolkit.gate import covdata
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
    source = covdata.resolve_source(entries, config.root, str(config.path or config.root))
    return gate.evaluate(covdata.load(data, config.root, source=source), config.coverage)


def publish(
    lanes: Sequence[LaneResult],
    verdict: Verdict | None,
    *,
    json_path: Path | None,
    color: bool | None,
    note: str | None,
    exit_code: int,
    services: Sequence[Mapping[str, object]] = (),
    services_waited: float | None = None,
) -> None:
    """The summary on stdout, and the same verdict as JSON in `json_path` when one was asked for."""
    from ci_toolkit.console import wants_color
    from ci_toolkit.report import json_report, terminal

    use_color = wants_color(sys.stdout, color)
    text = terminal.render(lanes, verdict, color=use_color, note=note)
    sys.stdout.write("\n" + text + ("" if text.endswith("\n") else "\n"))
    sys.stdout.flush()
    if json_path is not None:
        extra: dict[str, object] = {"exit_code": int(exit_code), "services": list(services)}
        if services_waited is not None:
            extra["services_waited"] = round(services_waited, 3)
        json_report.write(json_path, json_report.to_dict(lanes, verdict, extra=extra))
