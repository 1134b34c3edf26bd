"""The coordinator's mail outbox page: every queued mail with its delivery status, filters by status and
course run, and "send again" for a mail that failed (app.notifications.outbox does the work)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.audit.services import record_shown
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.exceptions import DomainError
from app.core.i18n import _l
from app.core.templating import dk_date, dk_datetime
from app.core.transaction import refused
from app.courses.models import CourseRun
from app.extensions import db
from app.notifications import outbox
from app.notifications.forms import OutboxFilterForm
from app.notifications.models import OutboxStatus

bp = Blueprint("notifications", __name__)

#: Rows per page unless the config says OUTBOX_PER_PAGE.
PER_PAGE = 50

#: What each kind of mail is, as the coordinator reads it; an unknown kind shows as stored.
KIND_LABELS = {
    "invitation": _l("Invitation"),
    "update": _l("Ændret kursusdag"),
    "follow_up_confirmed": _l("Opfølgningsdag fastlagt"),
    "cancellation": _l("Afmelding fra kursusdag"),
    "day_cancelled": _l("Aflyst kursusdag"),
    "notice": _l("Besked"),
    "requested": _l("Tilmelding afventer godkendelse"),
    "waitlisted": _l("Venteliste"),
    "rejected": _l("Tilmelding afvist"),
    "cancelled": _l("Afmelding bekræftet"),
    "reminder": _l("Påmindelse"),
    "feedback": _l("Anmodning om tilbagemelding"),
    "password_reset": _l("Nulstilling af adgangskode"),
    "account_invitation": _l("Invitation til at vælge adgangskode"),
    "password_changed": _l("Adgangskode skiftet"),
    "mfa_locked": _l("Totrinsbekræftelse låst"),
}


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else kind


def local_datetime(value: datetime | None) -> str:
    """A stored timestamp in the municipality's time zone (Europe/Copenhagen), short form."""
    return dk_datetime(clock.as_utc(value), "short")


def _run_choices() -> list[tuple[int, str]]:
    """(id, "title (first day)") of every run, newest first (by first course day), in one query."""
    first_day = CourseRun.first_day
    rows = db.session.execute(
        select(CourseRun.id, CourseRun.title, first_day).order_by(first_day.desc().nulls_last(), CourseRun.id.desc())
    )
    return [(run_id, f"{title} ({dk_date(day, 'medium')})" if day else title) for run_id, title, day in rows]


def _filter_args(args) -> dict[str, Any]:
    """The list's filters from `args`, only well-formed values (so a redirect can carry them safely)."""
    kept = {}
    status = args.get("status", "")
    if status in {s.value for s in OutboxStatus}:
        kept["status"] = status
    for name in ("run", "page"):
        value = args.get(name, "")
        if re.fullmatch(r"[0-9]{1,10}", value):
            kept[name] = value
    return kept


@bp.get("/outbox")
@allow(AccessLevel.COORDINATOR)
def outbox_list():
    """Every mail the portal has queued, newest first, with counts per status and filters."""
    form = OutboxFilterForm(formdata=request.args)
    form.set_run_choices(_run_choices(), _("Alle"))
    form.validate()
    # A value the form refused (unknown status, a run that is no number or no run) is None here: the list
    # ignores that filter and the message stands next to the field.
    status, run_id = form.value("status"), form.value("run")
    per_page = current_app.config.get("OUTBOX_PER_PAGE", PER_PAGE)
    page = outbox.list_outbox(status, run_id, request.args.get("page", 1, type=int), per_page)
    # The filters in force, for the page links and the retry buttons (refused values are not carried on).
    args = {name: value for name, value in (("status", status), ("run", run_id)) if value}
    record_shown("outbox.view", [row.recipient_user_id for row in page.items], details={"mails": len(page.items)})
    return render_template(
        "notifications/outbox.html",
        form=form,
        page=page,
        counts=outbox.outbox_counts(),
        status=status,
        run_id=run_id,
        args=args,
        filtered=bool(args),
        kind_label=kind_label,
        local_datetime=local_datetime,
        statuses=list(OutboxStatus),
    )


@bp.post("/outbox/<int:message_id>/retry")
@allow(AccessLevel.COORDINATOR)
def outbox_retry(message_id: int):
    """Put a failed mail back in the queue; back to the list with the same filters."""
    try:
        row = outbox.retry(current_user, message_id, clock.now())
    except DomainError as exc:
        refused(exc)
    else:
        email = row.recipient_email
        flash(_("Mailen til %(email)s er sat i kø igen og sendes ved næste udsendelse.", email=email), "success")
    return redirect(url_for(".outbox_list", **_filter_args(request.args)))
