"""Domain errors raised by services; views show them with `app.core.transaction.refused` (on a form field or
in a flash), after which the request's transaction is rolled back."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the action. `field` names the form field it belongs to, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    """Several field errors at once: `errors` maps field name -> list of messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for msgs in errors.values() for m in msgs))
        self.errors = errors


class NotAllowed(DomainError):
    """The actor may not do this."""


class Conflict(DomainError):
    """The action clashes with the current state (e.g. a duplicate)."""


class Busy(DomainError):
    """A row the action needs is being changed by many at once and its lock was not had in time: nothing was
    changed, try again. Never shown on a form: the request answers with the 503 page (app/errors.py)."""
