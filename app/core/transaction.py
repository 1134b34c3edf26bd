"""One transaction owner per request (docs/architecture.md, "Transactions").

Services add and flush, never commit. `init_app()` wraps every view function of the app in `_owned()`, the
request's one transaction owner:

- the view returned a response: its work is committed — audit entries and outbox rows included, they are
  rows of the same transaction — except that a request which logged reads of a person's data
  (`keep_only_if_successful()`, the audit log's `record_read`) and answers with an error (status >= 400) is
  rolled back, so a failed lookup logs nothing;
- the view raised: everything is rolled back and the error handlers (app/errors.py) answer.

A service's refusal is a `DomainError`. A view that shows it catches it and calls `refused(exc, form)`: the
work the service had started is rolled back at once (the page is then rendered from the database as it is),
and the message goes next to the form field it names or, when it names none, into a flash. `Busy` (the lock
was not had in time) is never a form error: `refused()` lets it through to the 503 page. Whatever the view
writes after a refusal (a record of the refused attempt) is committed with the response, as any other work.

The scheduler's jobs (scheduler/jobs.py) and the CLI commands own their transactions themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, flash, g

from app.core.exceptions import Busy, DomainError, ValidationFailed
from app.extensions import db

__all__ = ["discard", "init_app", "keep_only_if_successful", "refused", "submitted"]

T = TypeVar("T")

#: The attribute that marks a view already wrapped by `_owned` (a function attribute: set with setattr).
OWNS_TRANSACTION = "owns_transaction"


def init_app(app: Flask) -> None:
    """Make every registered view (blueprints registered before this call) a transaction owner."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static" and not getattr(view, OWNS_TRANSACTION, False):
            app.view_functions[endpoint] = _owned(view)


def _owned(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def owner(*args, **kwargs):
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            g.pop("keep_only_if_successful", None)
            db.session.rollback()
            raise
        if g.pop("keep_only_if_successful", False) and response.status_code >= 400:
            db.session.rollback()
        else:
            db.session.commit()
        return response

    setattr(owner, OWNS_TRANSACTION, True)
    return owner


def keep_only_if_successful() -> None:
    """What this request writes is kept only if its response is a success (status < 400)."""
    g.keep_only_if_successful = True


def discard() -> None:
    """Roll back what the request has written so far, when a refusal comes as an answer rather than a
    `DomainError` (a wrong code, a refused link, a lost unique-key race): the page is then rendered from the
    database as it is, and whatever the view writes afterwards (a record of the refused attempt) is committed
    with the response as any other work."""
    db.session.rollback()


def refused(exc: DomainError, form=None, *, category: str = "error") -> None:
    """A service refused: roll back what it had started, and show why — next to the form field(s) the
    error names (a `ValidationFailed` names several), else as a flash. `Busy` is re-raised (503 page)."""
    if isinstance(exc, Busy):
        raise exc
    discard()
    errors = exc.errors if isinstance(exc, ValidationFailed) else {exc.field or "": [exc.message]}
    for name, messages in errors.items():
        if form is not None and name and name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            for message in messages:
                flash(message, category)


def submitted(form, save: Callable[[], T]) -> T | None:
    """A form page's POST: when `form` was posted and validates, run the service call `save` and return what
    it returns (the object it created or changed; never None). None when the form was not posted, did not
    validate, or the service refused — the reasons then stand on the form (`refused`)."""
    if not form.validate_on_submit():
        return None
    try:
        return save()
    except DomainError as exc:
        refused(exc, form)
        return None
