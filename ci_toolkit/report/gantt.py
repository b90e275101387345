"""The run as a Mermaid `gantt` timeline, which GitHub draws in comments and job summaries: each shard
predicted against realised when the run was sharded, else each lane's wall time."""

from __future__ import annotations

import math

from ci_toolkit.report.escape import label
from ci_toolkit.report.model import Report


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))  # a zero-length task is not drawn


def tasks(report: Report) -> list[str]:
    """The task lines (each one whole row for the byte budget); empty when nothing ran."""
    lines: list[str] = []
    if report.shards:
        for s in report.shards:
            lines.append(f"    section shard {s.index}")
            lines.append(f"    predicted :p{s.index}, 0, {_seconds(s.predicted)}s")
            if s.realised is not None:
                lines.append(f"    realised :r{s.index}, 0, {_seconds(s.realised)}s")
        return lines
    for i, lane in enumerate(report.lanes, start=1):
        if lane.skipped_reason is None:
            lines.append(f"    {label(lane.name)} :l{i}, 0, {_seconds(lane.wall_time)}s")
    if lines:
        lines.insert(0, "    section lanes")
    return lines


def head(report: Report) -> list[str]:
    title = "shards: predicted and realised seconds" if report.shards else "lanes: wall time in seconds"
    return ["```mermaid", "gantt", f"    title {title}", "    dateFormat X", "    axisFormat %M:%S"]


TAIL = ["```", ""]
