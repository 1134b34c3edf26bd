"""The audit page for coordinators (`/audit`) and the right-of-access downloads (`/me/data.json`,
`/users/<id>/data.json`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_login import current_user

from app.accounts.models import User
from app.audit import data_export, queries
from app.audit.forms import AuditFilterForm
from app.audit.labels import action_label, object_label
from app.audit.models import AuditEntry
from app.audit.services import add_shown, record_read, record_shown
from app.core import clock
from app.core.access import ALL_LEVELS, AccessLevel, allow
from app.core.downloads import as_attachment
from app.extensions import db

bp = Blueprint("audit", __name__)

PER_PAGE = 50

#: object type -> (endpoint, view argument) of the page the audit row links to.
_OBJECT_PAGES = {
    "run": ("courses.run_detail", "run_id"),
    "enrolment": ("enrolment.enrolment_history", "enrolment_id"),
    "user": ("accounts.user_edit", "user_id"),
    "programme": ("programmes.programme_detail", "programme_id"),
    "provider": ("providers.provider_detail", "provider_id"),
    "closed_day": ("calendar.closed_day_edit", "closed_day_id"),
    "method": ("courses.method_edit", "method_id"),
    "staff_role": ("accounts.staff_role_edit", "role_id"),
    "unit": ("accounts.unit_edit", "unit_id"),
}


def object_url(entry: AuditEntry) -> str | None:
    """The page of the entry's object, or None (deleted objects, objects without a page)."""
    if entry.action.endswith(".delete"):
        return None
    run_id = (entry.details or {}).get("run") if isinstance(entry.details, dict) else None
    if entry.object_type in ("course_day", "feedback") and isinstance(run_id, int):
        return url_for("courses.run_detail", run_id=run_id)
    page = _OBJECT_PAGES.get(entry.object_type or "")
    if page is None or entry.object_id is None:
        return None
    endpoint, argument = page
    values: dict[str, Any] = {argument: entry.object_id}
    return url_for(endpoint, **values)


def _plain_value(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_plain_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain_value(item) for item in value)
    return str(value)


def detail_lines(entry: AuditEntry) -> list[str]:
    """The entry's details as short "key: value" texts (lists comma-separated, nested maps flattened)."""
    details = entry.details if isinstance(entry.details, dict) else {}
    return [f"{key}: {_plain_value(value)}" for key, value in details.items()]


def _filters(form: AuditFilterForm) -> queries.AuditFilters:
    def value(name: str):
        return None if form[name].errors else form[name].data

    return queries.AuditFilters(
        actor=(value("actor") or "").strip(),
        subject=(value("subject") or "").strip(),
        subject_id=value("subject_id"),
        action=value("action") or "",
        object_type=value("object_type") or "",
        object_id=value("object_id"),
        date_from=value("date_from"),
        date_to=None if form.date_from.errors else value("date_to"),
    )


@bp.get("/audit")
@allow(AccessLevel.COORDINATOR)
def audit_log():
    """The audit log, newest first, filtered by actor, person, action, object and period."""
    form = AuditFilterForm(request.args)
    form.validate()  # a bad filter is shown next to its field and ignored, never a 500
    filters = _filters(form)
    page = queries.search(filters, page=request.args.get("page", 1, type=int), per_page=PER_PAGE)
    subject_person = db.session.get(User, filters.subject_id) if filters.subject_id is not None else None
    filter_args = {key: arg for key, arg in request.args.items() if key != "page" and key in form and arg}
    html = render_template(
        "audit/log.html",
        form=form,
        page=page,
        filter_args=filter_args,
        subject_person=subject_person,
        action_label=action_label,
        object_label=object_label,
        object_url=object_url,
        detail_lines=detail_lines,
    )
    # The page names people (actors, subjects): reading the log is a read of them (docs/audit.md).
    shown = queries.people_on_page(page.items, subject_person)
    if filters.searches_a_person:
        # Looking a person up in the log is itself a lookup of that person.
        subject_id = filters.subject_id or queries.only_person_matching(filters.subject)
        record_read(
            "audit.search",
            subject=subject_id,
            shown=shown,
            details={k: v for k, v in (("subject", filters.subject), ("subject_id", filters.subject_id)) if v},
        )
    else:
        record_shown("audit.view", shown)
    return html


def _data_response(user: User, entry: AuditEntry | None = None) -> Response:
    """The person's file; `entry`: the coordinator's logged download, which then names the other people the
    file shows (the actors in its audit sections) as well."""
    now = clock.utcnow()
    export = data_export.build_export(user, now=now)
    if entry is not None:
        add_shown(entry, data_export.people_named(export))
    body = data_export.to_json(export)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    name = data_export.file_name(user, now)
    return as_attachment(response, name, name)


@bp.get("/me/data.json")
@allow(*ALL_LEVELS)
def my_data():
    """The logged-in person's own data (right of access); not logged: it is their own."""
    return _data_response(current_user._get_current_object())


@bp.get("/users/<int:user_id>/data.json")
@allow(AccessLevel.COORDINATOR)
def user_data(user_id: int):
    """A coordinator downloads a person's data for them (right of access); logged as user.data_export."""
    user = db.get_or_404(User, user_id)
    # Logged before the export is built, so the file shows this very export among the lookups.
    entry = record_read("user.data_export", subject=user, object_type="user", object_id=user.id)
    if entry is not None:
        db.session.flush()
    return _data_response(user, entry)


__all__ = ["bp", "object_url"]
