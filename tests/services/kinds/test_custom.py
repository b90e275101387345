"""Custom services: what the configuration must say for each backend."""

from __future__ import annotations

from ci_toolkit.services import kinds
from ci_toolkit.services.base import ServiceSpec

KIND = kinds.get("custom")


def test_native_needs_a_command_that_exists() -> None:
    assert KIND.native_unavailable_reason(ServiceSpec("api", "custom"), None) == (
        'service "api": a custom service needs command = [...] for the native backend'
    )
    missing = ServiceSpec("api", "custom", command=("no-such-binary-xyz", "--port", "{port}"))
    assert (
        KIND.native_unavailable_reason(missing, None)
        == 'service "api": command "no-such-binary-xyz" not found'
    )
    assert KIND.native_unavailable_reason(ServiceSpec("api", "custom", command=("sh",)), None) is None
    assert KIND.find() is None  # no binaries of its own to look for


def test_docker_needs_an_image_and_its_port() -> None:
    assert KIND.docker_unavailable_reason(ServiceSpec("mail", "custom")) == (
        'service "mail": a custom service under docker needs image = "..."'
    )
    assert KIND.docker_unavailable_reason(ServiceSpec("mail", "custom", image="mailpit")) == (
        'service "mail": a custom service under docker needs port = <the port the image listens on>'
    )
