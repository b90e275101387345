"""Configuration from the environment, read once per process.

A frozen dataclass rather than pydantic-settings: three variables do not justify another dependency, and
tests build a Settings directly instead of patching the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_PROVIDER_URL = "http://127.0.0.1:8090"


@dataclass(frozen=True)
class Settings:
    database_url: str | None  # None: fail on first use, not at import (importing the app must not connect)
    payment_provider_url: str = DEFAULT_PROVIDER_URL
    payment_provider_key: str = ""
    payment_provider_timeout: float = 10.0  # seconds for one provider request, connect to last byte

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            database_url=environ.get("DATABASE_URL") or None,
            payment_provider_url=environ.get("PAYMENT_PROVIDER_URL") or DEFAULT_PROVIDER_URL,
            payment_provider_key=environ.get("PAYMENT_PROVIDER_KEY", ""),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; also a FastAPI dependency, so tests can override it."""
    return Settings.from_env(os.environ)
