"""Naming a place in the TOML document and a value found there, as a user would write them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

KeyPath = tuple[str | int, ...]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key_path(path: KeyPath) -> str:
    """`tool.ci-toolkit.lanes[1].name`; segments that are not TOML bare keys are double-quoted."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            shown = segment if _BARE_KEY.fullmatch(segment) else json.dumps(segment, ensure_ascii=False)
            text += f".{shown}" if text else shown
    return text


def show_value(value: Any, limit: int = 60) -> str:
    """A value as TOML would spell it, shortened to one readable line."""
    text = _toml_repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else repr(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_repr(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{format_key_path((str(k),))} = {_toml_repr(v)}" for k, v in value.items())
        return "{" + items + "}"
    return repr(value)
