"""What several commands share: the configuration they start from and, for `local` and `gate`, how the
coverage is judged and the verdict published (the summary on stdout, `--json`).

Nothing heavy at module level: `ci-toolkit --help` imports this module (see ci_toolkit.commands).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.gate.compare import Delta
    from ci_toolkit.gate.verdict import Verdict
    from ci_toolkit.report.model import Report, ShardTime
    from ci_toolkit.run.results import LaneResult


def load_config(config_path: Path | None, *, json_path: Path | None = None) -> Config:
    """`--config`'s file, or the nearest pyproject.toml upwards. `--json`'s file is checked first: a
    verdict that cannot be written must not cost a run (or a judgement) first, and is one line."""
    from ci_toolkit import config as config_mod
    from ci_toolkit.files import outputs

    outputs.check(json_path=json_path)
    return config_mod.load(config_path)


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
    delta: Delta | None = None,
    shards: Sequence[ShardTime] = (),
    output_dir: Path | None = None,
    coverage_file: Path | None = None,
    root: Path | None = None,
) -> None:
    """The summary on stdout, and the same report as JSON in `json_path` when one was asked for. With
    `output_dir`, the report is also saved there (report.json, which `ci-toolkit report` renders again,
    and report.md), and with `coverage_file` and `root` the coverage data as HTML (htmlcov/)."""
    from ci_toolkit.console import wants_color
    from ci_toolkit.report import json_report, model, terminal

    report = model.build(
        lanes,
        verdict,
        exit_code=exit_code,
        note=note,
        delta=delta,
        services=services,
        services_waited=services_waited,
        shards=shards,
    )
    use_color = wants_color(sys.stdout, color)
    text = terminal.render_report(report, color=use_color)
    sys.stdout.write("\n" + text + ("" if text.endswith("\n") else "\n"))
    sys.stdout.flush()
    if output_dir is not None:
        save_report(report, output_dir, coverage_file=coverage_file, root=root)
    if json_path is not None:
        json_report.write(json_path, model.to_dict(report))


def save_report(
    report: Report, output_dir: Path, *, coverage_file: Path | None = None, root: Path | None = None
) -> None:
    """What a run leaves for later: the report model (report.json), its Markdown within a job summary's
    budget (report.md), and `coverage html` (htmlcov/). These are advisory: a failure is a warning, never
    a different verdict."""
    from ci_toolkit.errors import ConfigError
    from ci_toolkit.files import atomic
    from ci_toolkit.report import budget, html, json_report, markdown
    from ci_toolkit.run import layout

    try:
        layout.claim(output_dir)  # `gate` may be the first to write there: only into a directory of ours
        json_report.save(output_dir / json_report.REPORT_FILE, report)
        atomic.write_text(output_dir / markdown.FILE, markdown.render(report, max_bytes=budget.SUMMARY_LIMIT))
    except ConfigError as exc:
        click.echo(f"ci-toolkit: warning: report not saved: {exc}", err=True)
        return
    except OSError as exc:
        click.echo(f"ci-toolkit: warning: {output_dir}: report not saved: {exc.strerror or exc}", err=True)
        return
    if (
        coverage_file is not None
        and root is not None
        and report.verdict is not None
        and coverage_file.is_file()
    ):
        problem = html.write(coverage_file, root, output_dir / html.DIRECTORY)
        if problem is not None:
            click.echo(f"ci-toolkit: warning: {problem}", err=True)
