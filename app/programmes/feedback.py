"""Follow-up-day feedback: who may answer, saving an answer, and the aggregates per run and per programme.

Rules:

- **Who may answer:** the staff member of a confirmed enrolment on a run that is published or completed, once
  the run's follow-up day has taken place (its date is today or earlier) and they were recorded present on
  it. Absent, or attendance not recorded yet: not (yet) eligible.
- **Once per enrolment, editable until the programme closes:** one `Feedback` row per enrolment (unique);
  a second submission edits it. After `Programme.ends_on` the answer is read-only.
- **What is asked:** for each method taught in the run (`run.methods`) how often they used it before the
  course and since (`FREQUENCY_SCALE`); whether they now involve the parents earlier (`EARLIER_SCALE`);
  free text (optional, at most `FREE_TEXT_MAX` characters).
- **Aggregates:** *invited* = enrolments eligible to answer in the runs in scope (a programme's runs that are
  not cancelled, with `until`: only runs whose follow-up day is on or before `until`; answers given after
  that date to such a run still count); *answered* = how many of them have answered. Per method the counts of
  the before/since answers; methods taught in a run in scope appear even without answers. A fixed number of
  statements whatever the size (`summary_for_programme`: four).
- **Free text** is attributed (names) only for the coordinator; providers get it anonymised
  (`free_texts(..., attributed=False)` selects no names at all).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Integer, String, and_, case, cast, func, null, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import User
from app.audit.services import record
from app.core.exceptions import DomainError, ValidationFailed
from app.core.i18n import _l
from app.core.validators import too_long_message
from app.courses.models import CourseDay, CourseRun, DayKind, Method, RunStatus, run_methods
from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
from app.extensions import db
from app.programmes.feedback_models import EarlierInvolvement, Feedback, FeedbackMethodAnswer, Frequency
from app.programmes.models import Programme

__all__ = [
    "EARLIER_SCALE",
    "FREE_TEXT_MAX",
    "FREQUENCY_SCALE",
    "Eligibility",
    "FeedbackLink",
    "FeedbackSummary",
    "FreeText",
    "MethodEffect",
    "RunResponseRate",
    "earlier_label",
    "eligibility",
    "feedback_links",
    "free_texts",
    "frequency_label",
    "is_closed",
    "response_rates_by_run",
    "save_feedback",
    "summary_for_programme",
    "summary_for_run",
]

FREQUENCY_SCALE = ("never", "rarely", "monthly", "weekly")
EARLIER_SCALE = ("yes", "partly", "no")
#: Longest free text accepted (characters).
FREE_TEXT_MAX = 4000

_FREQUENCY_LABELS = {
    "never": _l("Aldrig"),
    "rarely": _l("Sjældent"),
    "monthly": _l("Månedligt"),
    "weekly": _l("Ugentligt"),
}
_EARLIER_LABELS = {
    "yes": _l("Ja"),
    "partly": _l("Delvist"),
    "no": _l("Nej"),
}

#: Runs whose participants can be asked: published (running) or completed, never drafts or cancelled ones.
_ANSWERABLE_RUN_STATUSES = (RunStatus.PUBLISHED, RunStatus.COMPLETED)


def frequency_label(value: str | Frequency):
    """The scale value as users read it (lazy, translated at render time)."""
    return _FREQUENCY_LABELS[str(value)]


def earlier_label(value: str | EarlierInvolvement):
    return _EARLIER_LABELS[str(value)]


# --------------------------------------------------------------------------------------------------
# Aggregates
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodEffect:
    method_id: int
    method_name: str
    before: dict[str, int]  # every FREQUENCY_SCALE key present, counts of answers
    since: dict[str, int]
    responses: int
    #: The method's English name, if it has one (the English UI shows it).
    method_name_en: str | None = None


@dataclass(frozen=True)
class FeedbackSummary:
    invited: int  # participants eligible to answer (present on the follow-up day of a run in scope)
    answered: int
    methods: list[MethodEffect]
    earlier: dict[str, int]  # every EARLIER_SCALE key present

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.invited if self.invited else None


@dataclass(frozen=True)
class FreeText:
    run_id: int
    run_title: str
    text: str
    submitted_at: datetime
    #: The participant's name; None when not attributed (providers).
    author_name: str | None = None
    #: The participant's user id, never shown: the audit log names whose text a page showed (docs/audit.md).
    author_id: int | None = None


@dataclass(frozen=True)
class RunResponseRate:
    run_id: int
    run_title: str
    follow_up_on: date | None
    invited: int
    answered: int

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.invited if self.invited else None


def _zero(scale: tuple[str, ...]) -> dict[str, int]:
    return dict.fromkeys(scale, 0)


def _scope_runs(
    programme_id: int | None = None, run_id: int | None = None, until: date | None = None
) -> list[ColumnElement]:
    """Conditions on CourseRun (and, with `until`, on the follow-up day) of the runs in scope."""
    conditions: list[ColumnElement] = [CourseRun.status != RunStatus.CANCELLED]
    if programme_id is not None:
        conditions.append(CourseRun.programme_id == programme_id)
    if run_id is not None:
        conditions.append(CourseRun.id == run_id)
    if until is not None:
        follow_up = aliased(CourseDay)
        conditions.append(
            select(follow_up.id)
            .where(follow_up.course_run_id == CourseRun.id, follow_up.kind == DayKind.FOLLOW_UP, follow_up.day <= until)
            .correlate(CourseRun)
            .exists()
        )
    return conditions


def _eligible_enrolments(scope: list[ColumnElement]):
    """A subquery of the enrolments eligible to answer in the runs in scope (id, course_run_id)."""
    return (
        select(Enrolment.id.label("enrolment_id"), Enrolment.course_run_id.label("run_id"))
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .join(CourseDay, and_(CourseDay.course_run_id == CourseRun.id, CourseDay.kind == DayKind.FOLLOW_UP))
        .join(Attendance, and_(Attendance.course_day_id == CourseDay.id, Attendance.enrolment_id == Enrolment.id))
        .where(
            Attendance.present.is_(True),
            Enrolment.status == EnrolmentStatus.CONFIRMED,
            CourseRun.status.in_(_ANSWERABLE_RUN_STATUSES),
            *scope,
        )
        .subquery("eligible")
    )


def _summary(scope: list[ColumnElement]) -> FeedbackSummary:
    eligible = _eligible_enrolments(scope)
    # Answered: an IN on the (small) feedback table, which PostgreSQL hashes once; the outer join it replaces was
    # planned as a nested loop scanning all feedback once per eligible enrolment (10 ms for a national programme).
    invited, answered = db.session.execute(
        select(
            func.count(eligible.c.enrolment_id),
            func.count(case((eligible.c.enrolment_id.in_(select(Feedback.enrolment_id)), 1))),
        ).select_from(eligible)
    ).one()
    earlier = _zero(EARLIER_SCALE)
    before: dict[int, dict[str, int]] = defaultdict(lambda: _zero(FREQUENCY_SCALE))
    since: dict[int, dict[str, int]] = defaultdict(lambda: _zero(FREQUENCY_SCALE))
    responses: dict[int, int] = defaultdict(int)
    # The earlier-involvement answers (rows without a method) and the method answers in one statement (the
    # dashboard's statement budget, tests/perf): (method id or NULL, before or earlier, since, count).
    answers = union_all(
        select(
            cast(null(), Integer).label("method_id"),
            cast(Feedback.earlier_involvement, String).label("first"),
            cast(null(), String).label("second"),
            func.count().label("n"),
        )
        .join(eligible, eligible.c.enrolment_id == Feedback.enrolment_id)
        .group_by(Feedback.earlier_involvement),
        select(
            FeedbackMethodAnswer.method_id,
            cast(FeedbackMethodAnswer.before, String),
            cast(FeedbackMethodAnswer.since, String),
            func.count(),
        )
        .join(Feedback, Feedback.id == FeedbackMethodAnswer.feedback_id)
        .join(eligible, eligible.c.enrolment_id == Feedback.enrolment_id)
        .group_by(FeedbackMethodAnswer.method_id, FeedbackMethodAnswer.before, FeedbackMethodAnswer.since),
    )
    for method_id, first, second, count in db.session.execute(answers):
        if method_id is None:
            earlier[str(first)] = count
            continue
        before[method_id][str(first)] += count
        since[method_id][str(second)] += count
        responses[method_id] += count
    # The methods taught in the runs in scope, and any method answered (a method later removed from a run).
    taught = select(run_methods.c.method_id).join(CourseRun, CourseRun.id == run_methods.c.course_run_id).where(*scope)
    method_ids = set(responses)
    methods = db.session.execute(
        select(Method.id, Method.name, Method.name_en)
        .where(Method.id.in_(taught) | Method.id.in_(method_ids))
        .order_by(Method.name, Method.id)
    ).all()
    effects = [
        MethodEffect(
            method_id=m.id,
            method_name=m.name,
            method_name_en=m.name_en,
            before=dict(before[m.id]),
            since=dict(since[m.id]),
            responses=responses.get(m.id, 0),
        )
        for m in methods
    ]
    return FeedbackSummary(invited=int(invited), answered=int(answered), methods=effects, earlier=earlier)


def summary_for_programme(programme_id: int, *, until: date | None = None) -> FeedbackSummary:
    """The feedback of the programme's runs (with `until`: runs whose follow-up day is on or before it).
    Four statements whatever the size."""
    return _summary(_scope_runs(programme_id=programme_id, until=until))


def summary_for_run(run_id: int) -> FeedbackSummary:
    return _summary(_scope_runs(run_id=run_id))


def response_rates_by_run(programme_id: int) -> list[RunResponseRate]:
    """Invited and answered per run of the programme (not cancelled), in order of the follow-up day. One
    statement."""
    eligible = _eligible_enrolments(_scope_runs(programme_id=programme_id))
    per_run = (
        select(
            eligible.c.run_id,
            func.count(eligible.c.enrolment_id).label("invited"),
            func.count(Feedback.id).label("answered"),
        )
        .select_from(eligible)
        .outerjoin(Feedback, Feedback.enrolment_id == eligible.c.enrolment_id)
        .group_by(eligible.c.run_id)
        .subquery("per_run")
    )
    follow_up = (
        select(CourseDay.day)
        .where(CourseDay.course_run_id == CourseRun.id, CourseDay.kind == DayKind.FOLLOW_UP)
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            CourseRun.id,
            CourseRun.title,
            follow_up.label("follow_up_on"),
            func.coalesce(per_run.c.invited, 0),
            func.coalesce(per_run.c.answered, 0),
        )
        .outerjoin(per_run, per_run.c.run_id == CourseRun.id)
        .where(CourseRun.programme_id == programme_id, CourseRun.status != RunStatus.CANCELLED)
    ).all()
    result = [
        RunResponseRate(run_id=r[0], run_title=r[1], follow_up_on=r[2], invited=int(r[3]), answered=int(r[4]))
        for r in rows
    ]
    return sorted(result, key=lambda r: (r.follow_up_on or date.max, r.run_id))


def free_texts(run_id: int | None = None, programme_id: int | None = None, *, attributed: bool) -> list[FreeText]:
    """The non-empty free texts of a run or a programme, oldest first. `attributed=False` (providers): no
    names are read at all (only the author's user id, never shown, for the audit log)."""
    if run_id is None and programme_id is None:
        raise ValueError("free_texts() needs run_id or programme_id")
    columns: list[Any] = [CourseRun.id, CourseRun.title, Feedback.free_text, Feedback.submitted_at, Enrolment.user_id]
    if attributed:
        columns.append(User.name)
    statement = (
        select(*columns)
        .select_from(Feedback)
        .join(Enrolment, Enrolment.id == Feedback.enrolment_id)
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .where(Feedback.free_text.is_not(None), Feedback.free_text != "", CourseRun.status != RunStatus.CANCELLED)
        .order_by(Feedback.submitted_at, Feedback.id)
    )
    if attributed:
        statement = statement.join(User, User.id == Enrolment.user_id)
    if run_id is not None:
        statement = statement.where(CourseRun.id == run_id)
    if programme_id is not None:
        statement = statement.where(CourseRun.programme_id == programme_id)
    return [
        FreeText(
            run_id=row[0],
            run_title=row[1],
            text=row[2],
            submitted_at=row[3],
            author_name=row[5] if attributed else None,
            author_id=row.user_id,
        )
        for row in db.session.execute(statement)
    ]


# --------------------------------------------------------------------------------------------------
# Answering
# --------------------------------------------------------------------------------------------------


class Eligibility(enum.StrEnum):
    ELIGIBLE = "eligible"
    #: Not a confirmed participant of a published/completed run (cancelled, moved, waiting list, draft ...).
    NOT_PARTICIPANT = "not_participant"
    #: The run has no follow-up day, or it has not taken place yet.
    NOT_YET = "not_yet"
    #: The follow-up day has taken place but attendance on it is not recorded yet.
    NOT_RECORDED = "not_recorded"
    #: Recorded absent on the follow-up day.
    ABSENT = "absent"

    @property
    def message(self) -> str:
        return str(_ELIGIBILITY_MESSAGES[self])


_ELIGIBILITY_MESSAGES = {
    Eligibility.ELIGIBLE: "",
    Eligibility.NOT_PARTICIPANT: _l("Du kan kun give tilbagemelding på et kursusforløb, du har deltaget i."),
    Eligibility.NOT_YET: _l("Du kan give tilbagemelding, når kursusforløbets opfølgningsdag har fundet sted."),
    Eligibility.NOT_RECORDED: _l("Du kan give tilbagemelding, når dit fremmøde på opfølgningsdagen er registreret."),
    Eligibility.ABSENT: _l("Kun deltagere, der var til stede på opfølgningsdagen, kan give tilbagemelding."),
}


def eligibility(enrolment: Enrolment, today: date) -> Eligibility:
    run = enrolment.run
    if enrolment.status != EnrolmentStatus.CONFIRMED or run.status not in _ANSWERABLE_RUN_STATUSES:
        return Eligibility.NOT_PARTICIPANT
    day = run.follow_up_day
    if day is None or day.day > today:
        return Eligibility.NOT_YET
    present = db.session.scalar(
        select(Attendance.present).where(Attendance.enrolment_id == enrolment.id, Attendance.course_day_id == day.id)
    )
    if present is None:
        return Eligibility.NOT_RECORDED
    return Eligibility.ELIGIBLE if present else Eligibility.ABSENT


def is_closed(programme: Programme, today: date) -> bool:
    """Feedback is read-only once the programme has ended (the day after `ends_on`)."""
    return today > programme.ends_on


def closed_message() -> str:
    return _("Indsatsen er afsluttet, så tilbagemeldingen kan ikke længere rettes.")


def feedback_for(enrolment_id: int) -> Feedback | None:
    return db.session.scalar(select(Feedback).where(Feedback.enrolment_id == enrolment_id))


def save_feedback(
    enrolment: Enrolment,
    *,
    answers: Mapping[int, tuple[str | None, str | None]],
    earlier: str,
    free_text: str | None,
    now: datetime,
    today: date,
) -> Feedback:
    """Create or edit the enrolment's feedback (never a second row). `answers` maps each method taught in the
    run to (before, since). Raises DomainError when not eligible or closed, ValidationFailed on bad input;
    the caller commits."""
    state = eligibility(enrolment, today)
    if state != Eligibility.ELIGIBLE:
        raise DomainError(state.message)
    if is_closed(enrolment.run.programme, today):
        raise DomainError(closed_message())
    errors: dict[str, list[str]] = {}
    method_ids = [m.id for m in enrolment.run.methods]
    clean: dict[int, tuple[Frequency, Frequency]] = {}
    for method_id in method_ids:
        before, since = answers.get(method_id, (None, None))
        for key, value in (("before", before), ("since", since)):
            if value not in FREQUENCY_SCALE:
                errors.setdefault(f"m{method_id}_{key}", []).append(_("Vælg et svar."))
        if not errors and before is not None and since is not None:  # both on the scale when no errors
            clean[method_id] = (Frequency(before), Frequency(since))
    if set(answers) - set(method_ids):
        errors.setdefault("methods", []).append(_("Svar kun om metoder, der blev undervist i på kursusforløbet."))
    if earlier not in EARLIER_SCALE:
        errors.setdefault("earlier_involvement", []).append(_("Vælg et svar."))
    text = (free_text or "").strip()
    if len(text) > FREE_TEXT_MAX:
        errors.setdefault("free_text", []).append(too_long_message(FREE_TEXT_MAX))
    if errors:
        raise ValidationFailed(errors)

    # Lock the enrolment row so two submissions at once make one row (SQLite: BEGIN IMMEDIATE already did).
    db.session.execute(select(Enrolment.id).where(Enrolment.id == enrolment.id).with_for_update())
    feedback = feedback_for(enrolment.id)
    created = feedback is None
    if feedback is None:
        feedback = Feedback(enrolment_id=enrolment.id, submitted_at=now)
        db.session.add(feedback)
    feedback.earlier_involvement = EarlierInvolvement(earlier)
    feedback.free_text = text or None
    feedback.updated_at = now
    existing = {a.method_id: a for a in feedback.answers}
    for method_id, (before, since) in clean.items():
        answer = existing.pop(method_id, None)
        if answer is None:
            answer = FeedbackMethodAnswer(method_id=method_id)
            feedback.answers.append(answer)
        answer.before, answer.since = before, since
    for answer in existing.values():  # a method no longer taught in the run
        feedback.answers.remove(answer)
    db.session.flush()
    # The participant's answers and free text are not repeated here: the log says that, not what.
    record(
        "feedback.submit" if created else "feedback.update",
        actor=enrolment.user,
        object_type="feedback",
        object_id=feedback.id,
        subject=enrolment.user_id,
        details={"run": enrolment.course_run_id},
        now=now,
    )
    return feedback


@dataclass(frozen=True)
class FeedbackLink:
    enrolment_id: int
    answered: bool
    closed: bool


def feedback_links(enrolment_ids: list[int], today: date) -> dict[int, FeedbackLink]:
    """For "my courses": which of these enrolments may answer (present on a follow-up day that has taken
    place), whether they have answered, and whether the programme has closed. One statement."""
    if not enrolment_ids:
        return {}
    rows = db.session.execute(
        select(Enrolment.id, Feedback.id, Programme.ends_on)
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .join(Programme, Programme.id == CourseRun.programme_id)
        .join(CourseDay, and_(CourseDay.course_run_id == CourseRun.id, CourseDay.kind == DayKind.FOLLOW_UP))
        .join(Attendance, and_(Attendance.course_day_id == CourseDay.id, Attendance.enrolment_id == Enrolment.id))
        .outerjoin(Feedback, Feedback.enrolment_id == Enrolment.id)
        .where(
            Enrolment.id.in_(enrolment_ids),
            Enrolment.status == EnrolmentStatus.CONFIRMED,
            CourseRun.status.in_(_ANSWERABLE_RUN_STATUSES),
            Attendance.present.is_(True),
            CourseDay.day <= today,
        )
    ).all()
    return {
        e_id: FeedbackLink(enrolment_id=e_id, answered=f_id is not None, closed=today > ends_on)
        for e_id, f_id, ends_on in rows
    }
