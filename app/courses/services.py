"""Course-run use cases: the follow-up-day rule, who may see a run, creating, editing, publishing and
cancelling runs, and methods.

Services take explicit arguments (actor, closed days, months), raise DomainError subclasses and add/flush,
never commit: the view, the CLI command or the job owns the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from babel.lists import format_list
from flask import current_app
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import StaffRole
from app.audit.services import changed_fields, record, record_update, snapshot
from app.calendar.models import ClosedDay
from app.calendar.workdays import follow_up_anchor, non_working_reason
from app.core import clock
from app.core.db import keep_for_request
from app.core.exceptions import Conflict, DomainError, NotAllowed, ValidationFailed
from app.core.templating import dk_date
from app.core.unique import name_taken
from app.core.validators import too_long_message
from app.courses.models import CourseDay, CourseRun, DayKind, Method, RunKind, RunStatus, run_methods
from app.enrolment import invitations
from app.enrolment import services as enrolment_services
from app.extensions import db
from app.notifications.ical import event_content
from app.programmes.models import Programme
from app.providers.models import Provider

if TYPE_CHECKING:
    from app.accounts.models import User

logger = logging.getLogger(__name__)

#: The municipality's language: the language the rule works in when it records a proposal (a closed day's
#: reason is the municipality's text); the reason is stored as parts and shown in the reader's language.
RECORD_LANGUAGE = "da"
#: A stretch of non-working days longer than this means the closed days are wrong, not that the
#: follow-up day should move half a year.
MAX_SKIPPED_DAYS = 60

TITLE_MAX_LENGTH = 200
VENUE_MAX_LENGTH = 300
METHOD_NAME_MAX_LENGTH = 200
MAX_CAPACITY = 1000


# --------------------------------------------------------------------------------------------------
# The follow-up rule
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpProposal:
    """The proposed follow-up day and how the rule got there.

    `anchor` is teaching day 2 + `months` calendar months (one step, clamped to the month's end);
    `skipped` lists each non-working day passed over, with its reason, from `anchor` up to `day`.
    """

    day: date
    anchor: date
    skipped: tuple[tuple[date, str], ...] = ()
    teaching_day_2: date | None = None
    months: int = 3

    @property
    def moved(self) -> bool:
        return self.day != self.anchor


def propose_follow_up_day(
    teaching_day_2: date, closed_days: Mapping[date, str], months: int = 3, language: str = RECORD_LANGUAGE
) -> FollowUpProposal:
    """The follow-up day the product proposes: teaching day 2 + `months`, then the first working day.

    Why "+ months in one step": adding 1 month three times would turn 30 Nov into 28 Feb, then 28 Mar
    and 28 May; `relativedelta(months=3)` gives 28/29 Feb, as a person counting on a calendar would.
    Why "next" working day (not nearest): the follow-up day is meant to come *after* three months of
    practice, never before. Weekends, Danish public holidays and the municipality's closed days (data,
    because local agreements differ) are skipped.

    :raises ValueError: when the result would fall outside the calendar (year 9999) or no working day
        is found within `MAX_SKIPPED_DAYS` (closed days entered for a whole season).
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    anchor = follow_up_anchor(teaching_day_2, months)
    day = anchor
    skipped: list[tuple[date, str]] = []
    while (reason := non_working_reason(day, closed_days, language)) is not None:
        skipped.append((day, reason))
        if len(skipped) > MAX_SKIPPED_DAYS:
            raise ValueError(f"no working day within {MAX_SKIPPED_DAYS} days after {anchor}")
        day += timedelta(days=1)
    return FollowUpProposal(
        day=day, anchor=anchor, skipped=tuple(skipped), teaching_day_2=teaching_day_2, months=months
    )


def describe_proposal(p: FollowUpProposal) -> str:
    """The proposal explained in one sentence, in the current language.

    "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er Nytårsdag;
    flyttet til næste arbejdsdag)"
    """
    rule = ngettext("undervisningsdag 2 + %(num)s måned", "undervisningsdag 2 + %(num)s måneder", p.months)
    day = dk_date(p.day, "long")
    if not p.skipped:
        return _("Forslag: %(day)s (%(rule)s)", day=day, rule=rule)
    first_day, first_reason = p.skipped[0]
    parts = [
        _(
            "%(rule)s = %(anchor)s, som er %(reason)s",
            rule=rule,
            anchor=dk_date(first_day, "long"),
            reason=first_reason,
        )
    ]
    rest = p.skipped[1:]
    if rest:
        days = format_list(
            [_("%(day)s (%(reason)s)", day=dk_date(d, "long"), reason=r) for d, r in rest],
            locale=str(get_locale() or RECORD_LANGUAGE),
        )
        parts.append(
            ngettext(
                "%(days)s er heller ikke en arbejdsdag", "%(days)s er heller ikke arbejdsdage", len(rest), days=days
            )
        )
    parts.append(_("flyttet til næste arbejdsdag"))
    return _("Forslag: %(day)s (%(explanation)s)", day=day, explanation="; ".join(parts))


#: `CourseRun.follow_up_reason_parts["kind"]` of a proposal made by the rule (the only kind so far).
REASON_TEACHING_DAY_2_PLUS_MONTHS = "teaching_day_2_plus_months"


def proposal_parts(p: FollowUpProposal) -> dict:
    """The proposal as stored on the run (`CourseRun.follow_up_reason_parts`): a code, the months and the
    dates, no words, so each reader gets the reason in their own language (`proposal_from_parts`). A skipped
    day's reason is worked out again from its date (weekend, public holiday) except a closed day's, which is
    the municipality's own text and is kept as it was written.

    {"kind": "teaching_day_2_plus_months", "months": 3, "day": "2009-01-02", "anchor": "2009-01-01",
     "skipped": [{"day": "2009-01-01"}, ...{"day": ..., "closed": "Lukket mellem jul og nytår"}]}
    """
    return {
        "kind": REASON_TEACHING_DAY_2_PLUS_MONTHS,
        "months": p.months,
        "day": p.day.isoformat(),
        "anchor": p.anchor.isoformat(),
        "skipped": [
            {"day": d.isoformat(), **({"closed": r} if non_working_reason(d, {}) is None else {})} for d, r in p.skipped
        ],
    }


def proposal_from_parts(parts: Mapping | None, language: str) -> FollowUpProposal | None:
    """The stored proposal again, its skipped days' reasons in `language`; None for parts it does not know."""
    if not parts or parts.get("kind") != REASON_TEACHING_DAY_2_PLUS_MONTHS:
        return None
    try:
        skipped = []
        for entry in parts.get("skipped", []):
            d = date.fromisoformat(entry["day"])
            skipped.append((d, non_working_reason(d, {}, language) or str(entry.get("closed") or "")))
        return FollowUpProposal(
            day=date.fromisoformat(parts["day"]),
            anchor=date.fromisoformat(parts["anchor"]),
            skipped=tuple(skipped),
            months=int(parts["months"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _recorded_proposal(teaching_day_2: date, closed_days: Mapping[date, str], months: int) -> tuple[date, dict]:
    """The proposal as stored on the run: its day and its reason's parts (`proposal_parts`)."""
    try:
        proposal = propose_follow_up_day(teaching_day_2, closed_days, months, language=RECORD_LANGUAGE)
    except (ValueError, OverflowError):
        raise DomainError(
            _("Der kan ikke beregnes en opfølgningsdag ud fra denne dato. Kontrollér 2. undervisningsdag."),
            field="day2_date",
        ) from None
    return proposal.day, proposal_parts(proposal)


def _record_proposal(run: CourseRun, teaching_day_2: date, closed_days: Mapping[date, str], months: int) -> date:
    """Store the rule's proposal on the run and return its day; the reason as parts (a text reason from before
    them is dropped)."""
    proposed_on, run.follow_up_reason_parts = _recorded_proposal(teaching_day_2, closed_days, months)
    run.follow_up_proposed_on, run.follow_up_reason = proposed_on, None
    return proposed_on


def fix_follow_up_day(run: CourseRun) -> bool:
    """The follow-up job's part of the rule: unless the coordinator overrode the follow-up day, apply the
    rule again with today's closed days and holidays (they may have changed since the run was saved), and
    move the day if the result differs (its sequence rises). Call with the run locked. True if it moved.
    """
    follow_up_day, teaching_day_2 = run.follow_up_day, next((d for d in run.days if d.position == 2), None)
    if follow_up_day is None or teaching_day_2 is None or run.follow_up_overridden:
        return False
    months = current_app.config["FOLLOW_UP_OFFSET_MONTHS"]
    proposed_on = _record_proposal(run, teaching_day_2.day, _closed_days(), months)
    if follow_up_day.day == proposed_on:
        return False
    follow_up_day.day = proposed_on
    follow_up_day.sequence += 1
    return True


def _follow_up_confirm_time() -> time:
    hours, _sep, minutes = current_app.config["FOLLOW_UP_CONFIRM_TIME"].partition(":")
    return time(int(hours), int(minutes or 0))


def follow_up_due_at(run: CourseRun) -> datetime | None:
    """When the follow-up job (app.courses.follow_up) should fix the run's follow-up day (aware, local
    time): the evening of teaching day 2 (FOLLOW_UP_CONFIRM_TIME, or the day's end if later)."""
    day2 = next((d for d in run.days if d.kind == DayKind.TEACHING and d.position == 2), None)
    if day2 is None:
        return None
    return datetime.combine(day2.day, max(_follow_up_confirm_time(), day2.ends_at), tzinfo=clock.local_tz())


def _closed_days() -> dict[date, str]:
    """Every closed day, date -> reason (what the rule skips besides weekends and public holidays)."""
    return {day: reason for day, reason in db.session.execute(select(ClosedDay.day, ClosedDay.reason))}


# --------------------------------------------------------------------------------------------------
# Who may see a run (ownership rules for @allow(..., check=...), reused by later issues)
# --------------------------------------------------------------------------------------------------


def run_visible_to(user: User, run: CourseRun) -> bool:
    """Coordinators see every run; a provider its own runs once out of draft; staff the published runs
    open to their staff role, and a published run they are enrolled on (their role may have changed since:
    Mine kurser links to it)."""
    if user.is_coordinator:
        return True
    if user.is_provider:
        return user.provider_id is not None and run.provider_id == user.provider_id and run.status != RunStatus.DRAFT
    if user.is_staff:
        if run.status != RunStatus.PUBLISHED:
            return False
        if user.staff_role_id is not None and any(role.id == user.staff_role_id for role in run.eligible_roles):
            return True
        return enrolment_services.active_enrolment(user.id, run.id) is not None
    return False


#: What a run is shown with on every page about it: loaded with the run (programme and provider joined,
#: the three collections one query each), so that no page lazy-loads them one at a time.
RUN_SHOWN_WITH = (
    joinedload(CourseRun.programme),
    joinedload(CourseRun.provider),
    selectinload(CourseRun.days),
    selectinload(CourseRun.eligible_roles),
    selectinload(CourseRun.methods),
)


def can_view_run(user: User, run_id: int) -> bool:
    """Ownership check for `@allow(..., check=can_view_run)` on views that take `run_id`. The run is
    loaded with RUN_SHOWN_WITH and kept for the request, so the view's `db.session.get` costs nothing."""
    run = keep_for_request(db.session.get(CourseRun, run_id, options=RUN_SHOWN_WITH))
    return run is not None and run_visible_to(user, run)


# --------------------------------------------------------------------------------------------------
# Course runs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseDayData:
    """One day as entered. `day` None is allowed for the follow-up day only: the proposal is used."""

    day: date | None
    starts_at: time = time(9, 0)
    ends_at: time = time(15, 30)
    #: None: the run's venue.
    venue: str | None = None


@dataclass(frozen=True)
class CourseRunData:
    """What the coordinator enters for a run: the input of create_course_run/update_course_run."""

    programme_id: int
    provider_id: int
    title: str
    kind: RunKind
    method_ids: tuple[int, ...]
    staff_role_ids: tuple[int, ...]
    capacity: int
    enrolment_deadline: date
    venue: str
    price_ore: int
    teaching_day_1: CourseDayData
    teaching_day_2: CourseDayData
    follow_up: CourseDayData
    description: str | None = None
    #: Staff enrolments wait as requested until the coordinator approves or rejects them.
    requires_approval: bool = False
    #: Staff enrolments wait for their leader's approval first (app.enrolment.approval).
    requires_leader_approval: bool = False

    def days(self) -> tuple[tuple[str, DayKind, int, CourseDayData], ...]:
        """(form prefix, kind, position, data) for the three days, in order."""
        return (
            ("day1", DayKind.TEACHING, 1, self.teaching_day_1),
            ("day2", DayKind.TEACHING, 2, self.teaching_day_2),
            ("follow_up", DayKind.FOLLOW_UP, 3, self.follow_up),
        )


def schedule_errors(
    *,
    day1: date | None,
    day2: date | None,
    follow_up: date | None,
    enrolment_deadline: date | None,
    times: Mapping[str, tuple[time | None, time | None]],
) -> dict[str, list[str]]:
    """The rules between the dates and times of a run, as {form field: [message]}.

    Values that are None (missing or already invalid) are not compared. `times` maps a day's form
    prefix ("day1", "day2", "follow_up") to its (start, end). Shared by the form and the services.
    """
    errors: dict[str, list[str]] = {}
    if day1 and day2 and day2 <= day1:
        errors["day2_date"] = [_("2. undervisningsdag skal ligge efter 1. undervisningsdag.")]
    if day2 and follow_up and follow_up <= day2:
        errors["follow_up_date"] = [_("Opfølgningsdagen skal ligge efter 2. undervisningsdag.")]
    if day1 and enrolment_deadline and enrolment_deadline > day1:
        errors["enrolment_deadline"] = [_("Tilmeldingsfristen kan ikke ligge efter 1. undervisningsdag.")]
    day_names = {
        "day1": _("1. undervisningsdag"),
        "day2": _("2. undervisningsdag"),
        "follow_up": _("opfølgningsdagen"),
    }
    for prefix, (start, end) in times.items():
        if start and end and end <= start:
            errors[f"{prefix}_end"] = [
                _("Sluttidspunktet skal ligge efter starttidspunktet (%(day)s).", day=day_names.get(prefix, prefix))
            ]
    return errors


@dataclass(frozen=True)
class DateWarning:
    """A date the services accept but that is probably a mistake: the form asks to confirm it.
    `field` is the form field the warning is about (its id is the link target)."""

    field: str
    message: str


def date_warnings(
    data: CourseRunData,
    closed_days: Mapping[date, str],
    today: date,
    months: int,
    language: str = RECORD_LANGUAGE,
    saved_days: Mapping[str, date] | None = None,
) -> list[DateWarning]:
    """Implausible but allowed dates of a run, in form order (no writes).

    A day on a weekend, a public holiday or a closed day (teaching days and a follow-up day typed in; a
    blank follow-up day follows the proposal, which is always a working day), and a run whose every day
    lies before `today`. `saved_days` (form prefix -> the stored date, when editing) are not warned about
    again: the coordinator confirmed them when they were saved.
    """
    saved = saved_days or {}
    warnings: list[DateWarning] = []
    names = {
        "day1": _("1. undervisningsdag"),
        "day2": _("2. undervisningsdag"),
        "follow_up": _("Opfølgningsdagen"),
    }
    for prefix, _kind, _position, day_data in data.days():
        day = day_data.day
        if day is None or saved.get(prefix) == day:
            continue
        reason = non_working_reason(day, closed_days, language)
        if reason is not None:
            warnings.append(
                DateWarning(
                    f"{prefix}_date",
                    _(
                        "%(day)s er %(date)s, som ikke er en arbejdsdag (%(reason)s).",
                        day=names[prefix],
                        date=dk_date(day),
                        reason=reason,
                    ),
                )
            )
    last = _last_day(data, closed_days, months)
    if last is not None and last < today and any(saved.get(p) != d.day for p, _k, _n, d in data.days()):
        warnings.append(DateWarning("day1_date", _("Alle kursusforløbets dage ligger før i dag. Er datoerne rigtige?")))
    return warnings


def _last_day(data: CourseRunData, closed_days: Mapping[date, str], months: int) -> date | None:
    """The run's last day as saving would store it: the follow-up day typed in, else the proposal."""
    if data.follow_up.day is not None:
        return data.follow_up.day
    if data.teaching_day_2.day is None:
        return None
    try:
        return propose_follow_up_day(data.teaching_day_2.day, closed_days, months).day
    except (ValueError, OverflowError):
        return data.teaching_day_2.day


def _require_coordinator(actor: User) -> None:
    if not actor.is_coordinator:
        raise NotAllowed(_("Kun kursuskoordinatoren kan ændre kursusforløb og metoder."))


def _check_run_data(data: CourseRunData, current_provider_id: int | None = None):
    """Resolve the ids and check every rule; ValidationFailed lists all problems at once."""
    errors = schedule_errors(
        day1=data.teaching_day_1.day,
        day2=data.teaching_day_2.day,
        follow_up=data.follow_up.day,
        enrolment_deadline=data.enrolment_deadline,
        times={prefix: (d.starts_at, d.ends_at) for prefix, _kind, _pos, d in data.days()},
    )

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if data.teaching_day_1.day is None:
        add("day1_date", _("Skriv datoen for 1. undervisningsdag."))
    if data.teaching_day_2.day is None:
        add("day2_date", _("Skriv datoen for 2. undervisningsdag."))
    if not data.title.strip():
        add("title", _("Skriv kursusforløbets titel."))
    elif len(data.title) > TITLE_MAX_LENGTH:
        add("title", too_long_message(TITLE_MAX_LENGTH))
    if not data.venue.strip():
        add("venue", _("Skriv, hvor kursusforløbet holdes."))
    elif len(data.venue) > VENUE_MAX_LENGTH:
        add("venue", too_long_message(VENUE_MAX_LENGTH))
    if not 1 <= data.capacity <= MAX_CAPACITY:
        add("capacity", _("Antal pladser skal være mellem 1 og %(n)s.", n=MAX_CAPACITY))
    if data.price_ore < 0:
        add("price", _("Prisen kan ikke være negativ."))

    programme = db.session.get(Programme, data.programme_id)
    if programme is None:
        add("programme_id", _("Vælg en indsats på listen."))
    provider = db.session.get(Provider, data.provider_id)
    if provider is None or (not provider.active and provider.id != current_provider_id):
        add("provider_id", _("Vælg en aktiv udbyder på listen."))

    def chosen(model, ids, field: str, none_message: str, unknown_message: str) -> list:
        """The rows of `model` with the chosen `ids`: at least one, and each of them there."""
        wanted = set(ids)
        rows: list[Any] = list(db.session.scalars(select(model).where(model.id.in_(wanted)))) if wanted else []
        if not wanted:
            add(field, none_message)
        elif len(rows) != len(wanted):
            add(field, unknown_message)
        return rows

    methods = chosen(Method, data.method_ids, "methods", _("Vælg mindst én metode."), _("Vælg metoder på listen."))
    roles = chosen(
        StaffRole,
        data.staff_role_ids,
        "staff_roles",
        _("Vælg mindst én stillingsbetegnelse."),
        _("Vælg stillingsbetegnelser på listen."),
    )

    if errors:
        raise ValidationFailed(errors)
    return programme, provider, methods, roles


#: The run's own fields an edit can change (the audit entry names those that did).
RUN_FIELDS = (
    "programme",
    "provider",
    "title",
    "description",
    "kind",
    "capacity",
    "requires_approval",
    "requires_leader_approval",
    "enrolment_deadline",
    "venue",
    "price_ore",
    "methods",
    "eligible_roles",
)
DAY_FIELDS = ("day", "starts_at", "ends_at", "venue")


def _apply_fields(run: CourseRun, data: CourseRunData, programme, provider, methods, roles) -> None:
    run.programme = programme
    run.provider = provider
    run.title = data.title.strip()
    run.description = (data.description or "").strip() or None
    run.kind = data.kind
    run.capacity = data.capacity
    run.requires_approval = data.requires_approval
    run.requires_leader_approval = data.requires_leader_approval
    run.enrolment_deadline = data.enrolment_deadline
    run.venue = data.venue.strip()
    run.price_ore = data.price_ore
    run.methods = methods
    run.eligible_roles = roles


def _day_values(day_data: CourseDayData, day: date) -> dict:
    return {
        "day": day,
        "starts_at": day_data.starts_at,
        "ends_at": day_data.ends_at,
        "venue": (day_data.venue or "").strip() or None,
    }


def create_course_run(actor: User, data: CourseRunData, closed_days: Mapping[date, str], months: int) -> CourseRun:
    """Create a run in draft with its three days (coordinator).

    The follow-up proposal is always computed and stored with its reason; the follow-up day itself is
    the coordinator's date when one was given, else the proposal.

    :raises ValidationFailed: field -> messages, for every rule the data breaks.
    """
    _require_coordinator(actor)
    programme, provider, methods, roles = _check_run_data(data)
    day2 = data.teaching_day_2.day
    assert day2 is not None, "_check_run_data refuses a run without teaching day 2"
    run = CourseRun(status=RunStatus.DRAFT)
    proposed_on = _record_proposal(run, day2, closed_days, months)
    _apply_fields(run, data, programme, provider, methods, roles)
    for _prefix, kind, position, day_data in data.days():
        day = day_data.day if day_data.day is not None else proposed_on
        run.days.append(CourseDay(kind=kind, position=position, sequence=0, **_day_values(day_data, day)))
    db.session.add(run)
    db.session.flush()
    record(
        "run.create",
        actor=actor,
        object_type="run",
        object_id=run.id,
        details={"title": run.title, "days": [d.day.isoformat() for d in run.days]},
    )
    logger.info("Course run created by %r: %r (follow-up %s, proposed %s)", actor, run, run.days[2].day, proposed_on)
    return run


def update_course_run(
    actor: User,
    run: CourseRun,
    data: CourseRunData,
    closed_days: Mapping[date, str],
    months: int,
    now: datetime | None = None,
    today: date | None = None,
) -> CourseRun:
    """Change a draft or published run (coordinator).

    The proposal is recomputed when teaching day 2 changes (or was never stored); a blank follow-up date
    follows the proposal. Every day whose event shows something else afterwards (`ical.event_content`: date,
    times, the effective venue, the run's title or provider) gets `sequence` + 1, so calendar clients replace
    the event they already hold (same UID) and the participants get an update; other days keep their
    sequence.

    Capacity: the run row is locked (as the enrolment services lock it) so the capacity can't drop below
    the confirmed enrolments; when it rises, the new seats go to the waiting list (FIFO) in this same
    transaction. `now`/`today` (default: the clock) date those promotions.

    :raises DomainError: the run is cancelled or completed; the capacity is below the confirmed
        enrolments (field `capacity`); the run is busy (enrolment services' `Busy`).
    :raises ValidationFailed: field -> messages, for every rule the data breaks.
    """
    _require_coordinator(actor)
    if not run.can_edit:
        raise DomainError(
            _("Kursusforløbet er %(status)s og kan ikke længere redigeres.", status=run.status.in_sentence)
        )
    programme, provider, methods, roles = _check_run_data(data, current_provider_id=run.provider_id)
    run = enrolment_services.lock_run(run.id)
    if not run.can_edit:  # changed while we waited for the lock
        raise DomainError(
            _("Kursusforløbet er %(status)s og kan ikke længere redigeres.", status=run.status.in_sentence)
        )
    enrolment_services.check_capacity_change(run, data.capacity)
    capacity_rose = data.capacity > run.capacity
    days = {d.position: d for d in run.days}
    day2 = data.teaching_day_2.day
    assert day2 is not None, "_check_run_data refuses a run without teaching day 2"
    proposed_on = run.follow_up_proposed_on
    if proposed_on is None or 2 not in days or days[2].day != day2:
        proposed_on = _record_proposal(run, day2, closed_days, months)
    before = snapshot(run, RUN_FIELDS)
    shown_before = {d.id: event_content(d) for d in run.days}
    _apply_fields(run, data, programme, provider, methods, roles)
    fields = changed_fields(before, run)
    changed = []
    day_changes: dict[str, list[str]] = {}
    for _prefix, kind, position, day_data in data.days():
        target = day_data.day if day_data.day is not None else proposed_on
        values = _day_values(day_data, target)
        course_day = days.get(position)
        if course_day is None:  # a run saved without all three days (not made by these services)
            run.days.append(CourseDay(kind=kind, position=position, sequence=0, **values))
            continue
        if any(getattr(course_day, name) != value for name, value in values.items()):
            day_changes[str(position)] = sorted(
                name for name, value in values.items() if getattr(course_day, name) != value
            )
            for name, value in values.items():
                setattr(course_day, name, value)
            changed.append(position)
    for course_day in run.days:
        # What each event shows (the run's venue, title and provider included), not the day's own columns:
        # a change of the run's venue moves every day without a venue of its own (issue 19).
        if course_day.id in shown_before and event_content(course_day) != shown_before[course_day.id]:
            course_day.sequence += 1
    db.session.flush()
    now = now or clock.now()
    due = follow_up_due_at(run)  # None only for a run without teaching day 2
    if 2 in changed and run.follow_up_confirmed_at is not None and due is not None and due > now:
        # Teaching day 2 moved to a later day: the follow-up day is provisional again until its new evening.
        run.follow_up_confirmed_at = None
    promoted = []
    if capacity_rose:
        promoted = enrolment_services.fill_from_waiting_list(run, now, today or clock.today(), actor)
    invitations.sync_run(run, now)
    details: dict = {"fields": fields, "days": day_changes}
    moved = sorted(int(p) for p, names in day_changes.items() if "day" in names)
    if moved:
        details["days_moved"] = moved
    if promoted:
        details["promoted"] = len(promoted)
    record("run.update", actor=actor, object_type="run", object_id=run.id, details=details, now=now)
    logger.info(
        "Course run updated by %r: %r (days changed: %s; promoted from the waiting list: %s)",
        actor,
        run,
        changed or "none",
        len(promoted),
    )
    return run


def publish_course_run(actor: User, run: CourseRun) -> CourseRun:
    """Publish a draft run: staff of the eligible roles can now see it (coordinator).

    :raises DomainError: the run is not a draft.
    """
    _require_coordinator(actor)
    if not run.can_publish:
        raise DomainError(
            _("Kun en kladde kan offentliggøres; kursusforløbet er %(status)s.", status=run.status.in_sentence)
        )
    run.status = RunStatus.PUBLISHED
    db.session.flush()
    record("run.publish", actor=actor, object_type="run", object_id=run.id)
    logger.info("Course run published by %r: %r", actor, run)
    return run


def cancel_course_run(actor: User, run: CourseRun, now: datetime | None = None) -> CourseRun:
    """Cancel a draft or published run (coordinator). Every day's sequence rises: its status changed.
    Everybody holding a course day that has not ended gets its cancellation (STATUS:CANCELLED) queued in
    this transaction; the enrolments stay as they were (history).

    :raises DomainError: the run is already cancelled or completed; the run is busy (`Busy`).
    """
    _require_coordinator(actor)
    if not run.can_cancel:
        raise DomainError(_("Kursusforløbet er %(status)s og kan ikke aflyses.", status=run.status.in_sentence))
    run = enrolment_services.lock_run(run.id)
    if not run.can_cancel:  # changed while we waited for the lock
        raise DomainError(_("Kursusforløbet er %(status)s og kan ikke aflyses.", status=run.status.in_sentence))
    run.status = RunStatus.CANCELLED
    for course_day in run.days:
        course_day.sequence += 1
    db.session.flush()
    invitations.sync_run(run, now or clock.now())
    record("run.cancel", actor=actor, object_type="run", object_id=run.id, now=now)
    logger.info("Course run cancelled by %r: %r", actor, run)
    return run


def create_demo_run(actor: User, programme: Programme, spec, ref: Mapping, months: int | None = None) -> CourseRun:
    """Create one demo run through the same services (used by `flask demo load`).

    `spec` is an `app.demo.RunSpec`; `ref` the demo's reference data (providers, methods, roles by name).
    Open to every staff role, enrolment deadline two weeks before the first day, 09.00-15.30.
    """
    if months is None:
        from flask import current_app

        months = current_app.config["FOLLOW_UP_OFFSET_MONTHS"]
    data = CourseRunData(
        programme_id=programme.id,
        provider_id=ref["providers"][spec.provider].id,
        title=spec.title,
        kind=spec.kind,
        method_ids=tuple(ref["methods"][name].id for name in spec.methods),
        staff_role_ids=tuple(role.id for role in ref["roles"].values()),
        capacity=spec.capacity,
        enrolment_deadline=spec.day1 - timedelta(days=14),
        venue=spec.venue,
        price_ore=spec.price_kroner * 100,
        teaching_day_1=CourseDayData(spec.day1),
        teaching_day_2=CourseDayData(spec.day2),
        follow_up=CourseDayData(None),
    )
    run = create_course_run(actor, data, _closed_days(), months)
    if spec.status in (RunStatus.PUBLISHED, RunStatus.COMPLETED):
        publish_course_run(actor, run)
    if spec.status == RunStatus.COMPLETED:
        run.status = RunStatus.COMPLETED  # history: completing a run by attendance is the enrolment slice's
    elif spec.status == RunStatus.CANCELLED:
        cancel_course_run(actor, run)
    db.session.flush()
    return run


# --------------------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodData:
    name: str
    name_en: str | None = None
    description: str | None = None


def list_methods_with_usage() -> list[tuple[Method, int]]:
    """Every method by name, with the number of runs that teach it (one query)."""
    usage = select(run_methods.c.method_id, func.count().label("runs")).group_by(run_methods.c.method_id).subquery()
    run_count: ColumnElement[int] = func.coalesce(usage.c.runs, 0)
    stmt = select(Method, run_count).outerjoin(usage, usage.c.method_id == Method.id).order_by(Method.name)
    return [(method, runs) for method, runs in db.session.execute(stmt)]


def _check_method(data: MethodData, method_id: int | None) -> MethodData:
    name = data.name.strip()
    if not name or len(name) > METHOD_NAME_MAX_LENGTH:
        raise DomainError(too_long_message(METHOD_NAME_MAX_LENGTH), field="name")
    if name_taken(Method, name, method_id):
        raise Conflict(_("Der findes allerede en metode med navnet %(name)s.", name=name), field="name")
    return MethodData(
        name=name,
        name_en=(data.name_en or "").strip() or None,
        description=(data.description or "").strip() or None,
    )


def create_method(actor: User, data: MethodData) -> Method:
    """Add a method (coordinator). :raises Conflict: the name is taken (case-insensitively)."""
    _require_coordinator(actor)
    clean = _check_method(data, None)
    method = Method(name=clean.name, name_en=clean.name_en, description=clean.description)
    db.session.add(method)
    db.session.flush()
    record("method.create", actor=actor, object_type="method", object_id=method.id)
    logger.info("Method created by %r: %r", actor, method)
    return method


def update_method(actor: User, method: Method, data: MethodData) -> Method:
    """Rename or describe a method (coordinator). :raises Conflict: the name is taken."""
    _require_coordinator(actor)
    clean = _check_method(data, method.id)
    before = snapshot(method, ("name", "name_en", "description"))
    method.name, method.name_en, method.description = clean.name, clean.name_en, clean.description
    record_update("method.update", method, before, actor=actor, object_type="method")
    db.session.flush()
    logger.info("Method updated by %r: %r", actor, method)
    return method


def method_run_count(method: Method) -> int:
    return db.session.execute(
        select(func.count()).select_from(run_methods).where(run_methods.c.method_id == method.id)
    ).scalar_one()


def delete_method(actor: User, method: Method) -> None:
    """Delete a method no run uses (coordinator). :raises Conflict: a run teaches it."""
    _require_coordinator(actor)
    used = method_run_count(method)
    if used:
        raise Conflict(
            ngettext(
                "Metoden %(name)s bruges af %(num)s kursusforløb og kan ikke slettes.",
                "Metoden %(name)s bruges af %(num)s kursusforløb og kan ikke slettes.",
                used,
                name=method.name,
            )
        )
    record("method.delete", actor=actor, object_type="method", object_id=method.id, details={"name": method.name})
    db.session.delete(method)
    db.session.flush()
    logger.info("Method deleted by %r: %r", actor, method)
