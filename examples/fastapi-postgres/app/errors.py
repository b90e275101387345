"""Domain errors. Services raise these; app.main maps each family onto one HTTP status.

Keeping HTTP out of the services means they read (and can be called) as plain Python; the mapping to
status codes lives in one table in app.main.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the service understood but will not carry out; str(error) is the client's detail."""


class NotFound(DomainError):
    """The thing addressed does not exist (404)."""


class Conflict(DomainError):
    """The request contradicts the current state: a duplicate, a wrong status, a reused key (409)."""


class Invalid(DomainError):
    """Well-formed but semantically unacceptable input that only the service can judge (422)."""


class PaymentDeclined(DomainError):
    """The payment provider refused the card (402)."""


class UpstreamError(DomainError):
    """A service we depend on failed or answered nonsense; the client may retry (502)."""
