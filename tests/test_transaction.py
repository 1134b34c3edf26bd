"""The request's one transaction owner (app.core.transaction, docs/architecture.md "Transactions").

A view's work is committed when the view returns (whatever the status: a refused attempt may be recorded),
rolled back when it raises or when it shows a service's refusal (`refused`); a request that logged reads of a
person's data keeps nothing unless its response is a success; `Busy` is never a form error but the 503 page.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import abort, get_flashed_messages
from sqlalchemy import func, select

from app.calendar.models import ClosedDay
from app.core import transaction
from app.core.access import public
from app.core.exceptions import Busy, DomainError
from app.extensions import db

DAY = date(2030, 1, 2)


def _add_closed_day() -> None:
    db.session.add(ClosedDay(day=DAY, reason="Test"))
    db.session.flush()


def _kept() -> int:
    """How many test rows the database kept (the test's own session forgets what it had pending first)."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(ClosedDay).where(ClosedDay.day == DAY))


@pytest.fixture
def views(app):
    def route(name: str):
        def register(view):
            app.add_url_rule(f"/_transaction/{name}", f"transaction_{name}", public(view))
            return view

        return register

    @route("returns")
    def returns():
        _add_closed_day()
        return "ok"

    @route("returns-an-error-status")
    def returns_an_error_status():
        _add_closed_day()  # e.g. a failed login attempt, recorded on the page that says it failed
        return "wrong code", 400

    @route("aborts")
    def aborts():
        _add_closed_day()
        abort(404)

    @route("refuses")
    def refuses():
        _add_closed_day()
        try:
            raise DomainError("Afvist.")
        except DomainError as exc:
            transaction.refused(exc)
        return "shown"

    @route("busy")
    def busy():
        _add_closed_day()
        try:
            raise Busy("Prøv igen om lidt.")
        except DomainError as exc:
            transaction.refused(exc)
        return "never"

    @route("read-then-404")
    def read_then_404():
        _add_closed_day()
        transaction.keep_only_if_successful()
        return "not found", 404

    @route("read-then-200")
    def read_then_200():
        _add_closed_day()
        transaction.keep_only_if_successful()
        return "shown"

    transaction.init_app(app)
    return app


def test_every_view_of_the_app_owns_its_transaction(app):
    unowned = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not getattr(view, "owns_transaction", False)
    ]
    assert unowned == []


@pytest.mark.own_app  # registers routes: needs an app that has served no request yet
def test_a_view_that_returns_is_committed(views, client):
    assert client.get("/_transaction/returns").status_code == 200
    assert _kept() == 1


@pytest.mark.own_app  # registers routes: needs an app that has served no request yet
def test_a_view_that_returns_an_error_status_is_committed_too(views, client):
    assert client.get("/_transaction/returns-an-error-status").status_code == 400
    assert _kept() == 1


@pytest.mark.own_app  # registers routes: needs an app that has served no request yet
def test_a_view_that_raises_is_rolled_back(views, client):
    assert client.get("/_transaction/aborts").status_code == 404
    assert _kept() == 0


@pytest.mark.own_app  # registers routes: needs an app that has served no request yet
def test_a_refusal_is_rolled_back_and_flashed(views, client):
    with client:
        assert client.get("/_transaction/refuses").get_data(as_text=True) == "shown"
        assert get_flashed_messages(with_categories=True) == [("error", "Afvist.")]
    assert _kept() == 0


@pytest.mark.own_app  # registers routes: needs an app that has served no request yet
def test_busy_is_the_503_page_not_a_form_error(views, client):
    response = client.get("/_transaction/busy")
    assert response.status_code == 503
    assert _kept() == 0


@pytest.mark.own_app  # registers routes: needs an app that has served no request yet
def test_logged_reads_are_kept_only_with_a_successful_response(views, client):
    assert client.get("/_transaction/read-then-404").status_code == 404
    assert _kept() == 0
    assert client.get("/_transaction/read-then-200").status_code == 200
    assert _kept() == 1


def test_refused_puts_the_message_on_the_field_it_names(app):
    from wtforms import Form, StringField

    class NameForm(Form):
        name = StringField()

    form = NameForm()
    with app.test_request_context():
        transaction.refused(DomainError("Navnet er taget.", field="name"), form)
        assert form.name.errors == ["Navnet er taget."]
        assert get_flashed_messages() == []


def test_no_view_module_commits_or_rolls_back_itself():
    """Views leave the transaction to its owner (`_owned`, `refused`, `discard`): none calls commit or rollback."""
    from config import BASE_DIR

    views = [
        path for path in (BASE_DIR / "app").rglob("*.py") if path.name == "views.py" or path.name.endswith("_views.py")
    ]
    assert len(views) > 20, "the view modules were not found"
    offenders = [
        f"{path.relative_to(BASE_DIR)}:{number}"
        for path in views
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.(commit|rollback)\(", line)
    ]
    assert offenders == []
