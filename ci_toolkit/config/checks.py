"""Value checks shared by every [tool.ci-toolkit] table: each raises ConfigError naming the key path."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any, NoReturn

from ci_toolkit.config.keypath import KeyPath, format_key_path, show_value
from ci_toolkit.errors import ConfigError


class Checks:
    """The generic checks; the table parsers build on them."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        raise ConfigError(f"{self.label}: {format_key_path(path)}: {message}")

    def expected(self, path: KeyPath, what: str, value: Any) -> NoReturn:
        self.fail(path, f"expected {what}, got {show_value(value)}")

    def table(self, value: Any, path: KeyPath, allowed: Collection[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.expected(path, "a table", value)
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f'did you mean "{close[0]}"?' if close else "valid keys: " + ", ".join(allowed)
                self.fail((*path, key), f"unknown key; {hint}")
        return value

    def boolean(self, value: Any, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            self.expected(path, "true or false", value)
        return value

    def string(self, value: Any, path: KeyPath) -> str:
        if not isinstance(value, str):
            self.expected(path, "a string", value)
        return value

    def strings(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.expected(path, "a list of strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.expected((*path, index), "a string", item)
        return tuple(value)
