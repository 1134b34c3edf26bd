"""Leader approval (issue 24): who approves a request, and the mails about it. The decisions themselves are
in app.enrolment.approval; this module is what the enrolment services need at the moment of the request
(it imports nothing from them, so both can use it).

Who approves: the leaders of the person's unit by the one inheritance rule (app.accounts.directory.leaders), the
person themself excepted (a leader does not approve their own request), inactive and anonymised leaders
excepted. A person with no such leader (no unit, or nobody leads it) waits for the coordinator instead:
the request is an ordinary coordinator request, which the coordinator sees on the run page.

Mails go through the outbox in the caller's transaction, each rendered in its recipient's language;
dedupe key `approval:<event id>:<user id>`.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.directory.leaders import leaders_of
from app.accounts.models import User
from app.core.templating import dk_date, money
from app.courses.models import CourseRun
from app.enrolment.invitations import my_courses_url
from app.enrolment.models import Enrolment, EnrolmentEvent, EnrolmentStatus, EventKind
from app.extensions import db
from app.notifications.outbox import queue_notice

__all__ = [
    "approvals_url",
    "approvers",
    "decided_by_leader",
    "expired",
    "request_sent",
]


def approvers(person: User) -> list[User]:
    """The leaders who decide `person`'s requests (see the module docstring); empty: the coordinator does."""
    if person.unit_id is None:
        return []
    ids = leaders_of(person.unit_id) - {person.id}
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(User)
            .where(User.id.in_(ids), User.active.is_(True), User.anonymised_at.is_(None))
            .order_by(User.name, User.id)
        )
    )


def approvals_url() -> str:
    """The leader's page "Godkendelser", absolute (mails are rendered outside any request)."""
    return current_app.config["BASE_URL"].rstrip("/") + "/approvals"


def _key(event: EnrolmentEvent, user: User) -> str:
    return f"approval:{event.id}:{user.id}"


def _reason_paragraphs(reason: str | None) -> list[str]:
    return [_("Lederens begrundelse: %(reason)s", reason=reason)] if reason else []


def _to_person(kind: str, enrolment: Enrolment, event: EnrolmentEvent, now: datetime, subject, paragraphs) -> None:
    """A notice to the person who asked for the seat, linking to their courses."""
    queue_notice(
        enrolment.user,
        kind=kind,
        dedupe_key=_key(event, enrolment.user),
        now=now,
        run=enrolment.run,
        link=my_courses_url(),
        subject=subject,
        paragraphs=paragraphs,
    )


def _to_leader(leader: User, kind: str, enrolment: Enrolment, event: EnrolmentEvent, now: datetime, **notice) -> None:
    """A notice to one of the person's leaders, linking to their page "Godkendelser"."""
    queue_notice(
        leader, kind=kind, dedupe_key=_key(event, leader), now=now, run=enrolment.run, link=approvals_url(), **notice
    )


def request_sent(enrolment: Enrolment, event: EnrolmentEvent, now: datetime) -> None:
    """A request waits for the leader: tell the person, and ask each of their leaders (with a link)."""
    run: CourseRun = enrolment.run
    person, title = enrolment.user, run.title
    _to_person(
        "requested",
        enrolment,
        event,
        now,
        subject=lambda: _("Afventer godkendelse: %(run)s", run=title),
        paragraphs=lambda: [
            _(
                "Vi har modtaget din tilmelding til kursusforløbet »%(run)s«. Din leder skal godkende den, "
                "før du får en plads.",
                run=title,
            ),
            _("Du får en mail, når tilmeldingen er godkendt eller afvist."),
        ],
    )
    name, price, capacity, deadline = person.name, run.price_ore, max(run.capacity, 1), run.enrolment_deadline
    for leader in approvers(person):
        _to_leader(
            leader,
            "approval_request",
            enrolment,
            event,
            now,
            days=run.days,
            link_text=lambda: _("Godkend eller afvis under Godkendelser"),
            subject=lambda: _("Godkend tilmelding: %(name)s, %(run)s", name=name, run=title),
            paragraphs=lambda: [
                _(
                    "%(name)s har bedt om at blive tilmeldt kursusforløbet »%(run)s«. Som leder skal du godkende "
                    "eller afvise tilmeldingen.",
                    name=name,
                    run=title,
                ),
                _(
                    "Kursusforløbets pris: %(price)s for hele forløbet (%(seat)s pr. plads).",
                    price=money(price),
                    seat=money(price // capacity),
                ),
                _(
                    "Anmodningen bortfalder, hvis den ikke er besluttet inden tilmeldingsfristen %(date)s.",
                    date=dk_date(deadline),
                ),
            ],
        )


def decided_by_leader(enrolment: Enrolment, event: EnrolmentEvent, now: datetime, reason: str | None) -> None:
    """Tell the person what their leader decided (approved: and what happens next), with the reason."""
    title = enrolment.run.title
    if event.kind == EventKind.LEADER_REJECTED:
        subject, first = (
            lambda: _("Tilmelding afvist: %(run)s", run=title),
            lambda: _("Din leder har afvist din tilmelding til kursusforløbet »%(run)s«.", run=title),
        )
    elif event.kind == EventKind.LEADER_APPROVED:
        subject, first = (
            lambda: _("Godkendt af din leder: %(run)s", run=title),
            lambda: _(
                "Din leder har godkendt din tilmelding til kursusforløbet »%(run)s«. Nu skal kursuskoordinatoren "
                "godkende den, før du får en plads.",
                run=title,
            ),
        )
    elif enrolment.status == EnrolmentStatus.CONFIRMED:
        subject, first = (
            lambda: _("Tilmelding godkendt: %(run)s", run=title),
            lambda: _(
                "Din leder har godkendt din tilmelding til kursusforløbet »%(run)s«, og du har fået en plads. "
                "Kalenderinvitationerne kommer i separate mails.",
                run=title,
            ),
        )
    else:
        subject, first = (
            lambda: _("Tilmelding godkendt: %(run)s", run=title),
            lambda: _(
                "Din leder har godkendt din tilmelding til kursusforløbet »%(run)s«. Kursusforløbet er fuldt, så "
                "du er sat på ventelisten.",
                run=title,
            ),
        )
    _to_person(
        "approval_decision",
        enrolment,
        event,
        now,
        subject=subject,
        paragraphs=lambda: [first(), *_reason_paragraphs(reason)],
    )


def expired(enrolment: Enrolment, event: EnrolmentEvent, now: datetime) -> None:
    """The request lapsed at the enrolment deadline: tell the person and their leaders."""
    run, person, title = enrolment.run, enrolment.user, enrolment.run.title
    name, deadline = person.name, run.enrolment_deadline
    _to_person(
        "approval_expired",
        enrolment,
        event,
        now,
        subject=lambda: _("Tilmelding bortfaldet: %(run)s", run=title),
        paragraphs=lambda: [
            _(
                "Din tilmelding til kursusforløbet »%(run)s« blev ikke godkendt inden tilmeldingsfristen %(date)s "
                "og er bortfaldet.",
                run=title,
                date=dk_date(deadline),
            ),
            _("Kontakt kursuskoordinatoren, hvis du stadig ønsker en plads."),
        ],
    )
    for leader in approvers(person):
        _to_leader(
            leader,
            "approval_expired",
            enrolment,
            event,
            now,
            link_text=lambda: _("Se Godkendelser"),
            subject=lambda: _("Anmodning bortfaldet: %(name)s, %(run)s", name=name, run=title),
            paragraphs=lambda: [
                _(
                    "Anmodningen fra %(name)s om kursusforløbet »%(run)s« er bortfaldet, fordi den ikke blev "
                    "besluttet inden tilmeldingsfristen %(date)s.",
                    name=name,
                    run=title,
                    date=dk_date(deadline),
                )
            ],
        )
