"""Small files that ci-toolkit and the pytest processes it starts hand each other, both sides here.

Every one carries the id of the ci-toolkit run it belongs to, so that a pytest of an earlier run (one that
outlived a killed ci-toolkit for a moment) never takes this run's word for its own, nor this run ours.
"""

from __future__ import annotations


def verdict_text(run_id: str) -> str:
    """The verdict file's content that lets the pytest processes of run `run_id` go on after the lanes
    check; anything else stops them."""
    return f"go {run_id}".rstrip() + "\n"
