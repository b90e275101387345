"""Redis: the RESP encoding, the probe's strictness, Valkey standing in, and the URL with a password."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_docker import fake_server

from ci_toolkit.services.base import ServiceSpec
from ci_toolkit.services.binaries import Binaries
from ci_toolkit.services.kinds import redis

KIND = redis.Redis()


def test_commands_are_arrays_of_bulk_strings() -> None:
    assert redis.resp_command("PING") == b"*1\r\n$4\r\nPING\r\n"
    assert redis.resp_command("AUTH", "pässword") == b"*2\r\n$4\r\nAUTH\r\n$9\r\np\xc3\xa4ssword\r\n"


def test_pong_is_the_one_answer_the_native_backend_accepts() -> None:
    listener = fake_server.serve_in_thread("redis")
    try:
        assert redis.ping("127.0.0.1", listener.getsockname()[1]).detail == redis.PONG
    finally:
        fake_server.stop(listener)


class FakeVersion(Binaries):
    """Binaries whose server reports `actual` without running anything."""

    actual = ""

    @property
    def version(self) -> str:
        return self.actual


@pytest.mark.parametrize(
    ("flavor", "actual", "wanted", "matches"),
    [
        ("redis", "7.0.15", "7", True),
        ("redis", "7.0.15", "6", False),
        ("valkey", "8.1.1", "7", True),  # Valkey speaks Redis 7.2's protocol
        ("valkey", "8.1.1", "6.2", True),
        ("valkey", "8.1.1", "8", True),
        ("valkey", "8.1.1", "9", False),
        ("valkey", "8.1.1", "latest", False),
    ],
)
def test_valkey_stands_in_for_redis_up_to_7(flavor: str, actual: str, wanted: str, matches: bool) -> None:
    binaries = FakeVersion(flavor, "system", Path("/usr/bin/x"), Path("/usr/bin"))
    object.__setattr__(binaries, "actual", actual)
    assert KIND.version_matches(binaries, wanted) is matches


def test_the_url_carries_the_password_only_when_there_is_one() -> None:
    assert KIND.url_template_for(ServiceSpec("cache", "redis")) == "redis://{host}:{port}/{database}"
    with_password = ServiceSpec("cache", "redis", password="pw")
    assert KIND.url_template_for(with_password) == "redis://{user}:{password}@{host}:{port}/{database}"
