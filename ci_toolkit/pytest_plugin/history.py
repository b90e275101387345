"""The timing history as the plugin reads it (--ci-timings), for shards planned here and the duration
scheduler: estimates alone without one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ci_toolkit.timing import Estimator


def estimator(timings: Path | None, root: Path) -> Estimator:
    from ci_toolkit import timing as history

    project = history.project_name(root)
    return history.Estimator(history.load(timings, project) if timings else history.empty(project))
