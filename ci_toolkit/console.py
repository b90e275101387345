"""What ci-toolkit's own output may assume about the terminal it writes to."""

from __future__ import annotations

import os
from typing import TextIO


def wants_color(stream: TextIO, flag: bool | None) -> bool:
    """--color/--no-color when given; else colour on a terminal, unless NO_COLOR is set (no-color.org)."""
    if flag is not None:
        return flag
    return not os.environ.get("NO_COLOR") and stream.isatty()
