"""`ci-toolkit gate`: judge coverage that some other run produced.

Teams can adopt the gate alone: point it at a `.coverage` data file or a
`coverage json` report and it applies the same thresholds `local` does.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.errors import ExitCode

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.gate import Verdict
    from ci_toolkit.results import LaneResult


def run(*, config_path: Path | None, json_path: Path | None, color: bool | None, data: Path) -> int:
    from ci_toolkit import config as config_mod

    config = config_mod.load(config_path)
    verdict = judge(data if data.is_absolute() else Path.cwd() / data, config)
    code = ExitCode.OK if verdict.passed else ExitCode.GATE_FAILED
    publish((), verdict, json_path=json_path, color=color, note=None, exit_code=code)
    return code


def judge(data: Path | None, config: Config) -> Verdict:
    """Load coverage (None: no data was produced at all) and evaluate the thresholds."""
    from ci_toolkit import covdata, gate

    report = (
        covdata.CoverageReport(files=(), has_branches=False)
        if data is None
        else covdata.load(data, config.root)
    )
    return gate.evaluate(report, config.coverage)


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
    from ci_toolkit.report import json_report, terminal

    use_color = sys.stdout.isatty() if color is None else color
    text = terminal.render(lanes, verdict, color=use_color, note=note)
    sys.stdout.write("\n" + text + ("" if text.endswith("\n") else "\n"))
    sys.stdout.flush()
    if json_path is not None:
        extra: dict[str, object] = {"exit_code": int(exit_code), "services": list(services)}
        if services_waited is not None:
            extra["services_waited"] = round(services_waited, 3)
        json_report.write(json_path, json_report.to_dict(lanes, verdict, extra=extra))
