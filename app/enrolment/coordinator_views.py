"""The coordinator's (and, for attendance, the provider's) enrolment pages, on the enrolment blueprint:
the participants section of the run page, enrolment on someone's behalf, approval, promotion, moves,
cancellation, an enrolment's history, attendance per course day and marking a run completed."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import User
from app.accounts.signin.throttling import limit_person_searches
from app.audit.services import record_read
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.exceptions import DomainError
from app.core.templating import dk_date
from app.core.transaction import refused
from app.courses.models import CourseDay, CourseRun, DayKind
from app.courses.services import run_visible_to
from app.enrolment import queries, services
from app.enrolment.coordinator_forms import AttendanceForm, CoordinatorEnrolForm, MoveForm, PersonSearchForm
from app.enrolment.models import Enrolment, EnrolmentEvent, EnrolmentStatus
from app.enrolment.queries import Candidates
from app.enrolment.views import bp
from app.extensions import db

# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _run_page(run_id: int, anchor: str = "deltagere"):
    return redirect(url_for("courses.run_detail", run_id=run_id, _anchor=anchor))


def _waitlist_position(enrolment: Enrolment) -> int | None:
    return services.waitlist_positions([enrolment.course_run_id]).get(enrolment.id)


def _enrolled_message(e: Enrolment) -> str:
    if e.status == EnrolmentStatus.WAITLISTED:
        return _(
            "Kursusforløbet er fuldt. %(name)s er sat på ventelisten som nr. %(n)s.",
            name=e.user.name,
            n=_waitlist_position(e),
        )
    return _("%(name)s er tilmeldt kursusforløbet.", name=e.user.name)


def _approved_message(e: Enrolment) -> str:
    if e.status == EnrolmentStatus.WAITLISTED:
        return _(
            "%(name)s er godkendt. Kursusforløbet er fuldt, så %(name)s er sat på ventelisten som nr. %(n)s.",
            name=e.user.name,
            n=_waitlist_position(e),
        )
    return _("%(name)s er godkendt og tilmeldt.", name=e.user.name)


def _moved_message(e: Enrolment) -> str:
    if e.status == EnrolmentStatus.WAITLISTED:
        return _(
            "%(name)s er flyttet til %(title)s. "
            "Kursusforløbet er fuldt, så %(name)s er sat på ventelisten som nr. %(n)s.",
            name=e.user.name,
            title=e.run.title,
            n=_waitlist_position(e),
        )
    return _("%(name)s er flyttet til %(title)s og er tilmeldt dér.", name=e.user.name, title=e.run.title)


def _enrolment_action(
    enrolment_id: int,
    action: Callable[[int], Enrolment],
    message: Callable[[Enrolment], str],
    anchor: str = "deltagere",
):
    """Run one of the coordinator's one-button actions on an enrolment, then back to the run page.

    `action(enrolment_id)` calls the service; `message(enrolment)` is the success flash.
    """
    enrolment = db.get_or_404(Enrolment, enrolment_id)
    run_id = enrolment.course_run_id
    try:
        changed = action(enrolment.id)
    except DomainError as exc:
        refused(exc)
    else:
        flash(message(changed), "success")
    return _run_page(run_id, anchor)


# --------------------------------------------------------------------------------------------------
# Enrol on someone's behalf; cancel, approve, reject, promote
# --------------------------------------------------------------------------------------------------


def _candidates(run: CourseRun, search: PersonSearchForm) -> Candidates | None:
    """The people matching the search (None: nothing searched for), audited as a read of everyone shown.
    The text is in the audit entry, not in any log (the access log drops query strings, app.core.logs)."""
    text = search.text()
    found = queries.enrolment_candidates(run.id, text)
    if found is not None:
        record_read(
            "enrolment.person_search",
            object_type="run",
            object_id=run.id,
            details={"q": text, "results": len(found.people)},
            shown=found.people,
        )
    return found


@bp.route("/runs/<int:run_id>/enrolments", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def enrolment_create(run_id: int):
    """The coordinator finds a staff member by name (?q=) and enrols them on their behalf: confirmed or
    waiting list. Without JavaScript the search is a GET form and each person listed has a "Tilmeld" button;
    app.js fetches the list from enrolment_search as the coordinator types."""
    run = db.get_or_404(CourseRun, run_id)
    form = CoordinatorEnrolForm()
    search = PersonSearchForm(request.args)
    if form.validate_on_submit():
        participant = db.session.get(User, form.user_id.data)
        if participant is None:
            flash(_("Medarbejderen findes ikke længere. Søg igen."), "error")
        else:
            try:
                enrolment = services.enrol(
                    current_user,
                    run.id,
                    participant,
                    clock.utcnow(),
                    clock.today(),
                    practice_case=form.practice_case.data,
                    note=form.note.data,
                )
            except DomainError as exc:
                refused(exc, form)
            else:
                flash(_enrolled_message(enrolment), "success")
                return _run_page(run.id)
    elif form.is_submitted() and form.user_id.errors:
        # The hidden field has no place on the page to show an error (and an id that is no number gets
        # WTForms' own words): one message, as a flash.
        flash(_("Søg medarbejderen frem, og vælg Tilmeld ud for navnet."), "error")
        form.user_id.errors = []
    candidates = _candidates(run, search)
    return render_template("enrolment/coordinator_enrol.html", run=run, form=form, search=search, candidates=candidates)


@bp.get("/runs/<int:run_id>/enrolments/search")
@allow(AccessLevel.COORDINATOR)
@limit_person_searches
def enrolment_search(run_id: int):
    """The on-behalf page's result list alone (an HTML fragment, for app.js's search-as-you-type)."""
    run = db.get_or_404(CourseRun, run_id)
    search = PersonSearchForm(request.args)
    response = make_response(
        render_template(
            "enrolment/_enrol_candidates.html",
            run=run,
            search=search,
            candidates=_candidates(run, search),
            form=CoordinatorEnrolForm(formdata=None),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/enrolments/<int:enrolment_id>/cancel")
@allow(AccessLevel.COORDINATOR)
def enrolment_cancel(enrolment_id: int):
    """The coordinator cancels an enrolment; a freed seat goes to the first on the waiting list."""
    return _enrolment_action(
        enrolment_id,
        lambda eid: services.cancel(current_user, eid, clock.utcnow(), clock.today()),
        lambda e: _("%(name)s er afmeldt.", name=e.user.name),
    )


@bp.post("/enrolments/<int:enrolment_id>/approve")
@allow(AccessLevel.COORDINATOR)
def enrolment_approve(enrolment_id: int):
    """Approve a requested enrolment: confirmed while seats are left, else onto the waiting list."""
    return _enrolment_action(
        enrolment_id,
        lambda eid: services.approve(current_user, eid, clock.utcnow()),
        _approved_message,
    )


@bp.post("/enrolments/<int:enrolment_id>/reject")
@allow(AccessLevel.COORDINATOR)
def enrolment_reject(enrolment_id: int):
    """Reject a requested enrolment."""
    return _enrolment_action(
        enrolment_id,
        lambda eid: services.reject(current_user, eid, clock.utcnow()),
        lambda e: _("Tilmeldingen fra %(name)s er afvist.", name=e.user.name),
    )


@bp.post("/enrolments/<int:enrolment_id>/promote")
@allow(AccessLevel.COORDINATOR)
def enrolment_promote(enrolment_id: int):
    """Give a free seat to this person on the waiting list (the coordinator's choice of order)."""
    return _enrolment_action(
        enrolment_id,
        lambda eid: services.promote(current_user, eid, clock.utcnow()),
        lambda e: _("%(name)s er rykket op fra ventelisten og er nu tilmeldt.", name=e.user.name),
    )


# --------------------------------------------------------------------------------------------------
# Move and history
# --------------------------------------------------------------------------------------------------


def _target_label(run: CourseRun) -> str:
    seats = (
        ngettext("%(num)s ledig plads", "%(num)s ledige pladser", run.seats_left)
        if run.seats_left
        else _("fuldt, venteliste")
    )
    return _("%(title)s, %(date)s (%(seats)s)", title=run.title, date=dk_date(run.first_day), seats=seats)


@bp.route("/enrolments/<int:enrolment_id>/move", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR)
def enrolment_move(enrolment_id: int):
    """Move a participant to another published run of the same programme, keeping the history."""
    enrolment = db.get_or_404(Enrolment, enrolment_id, options=[joinedload(Enrolment.user), joinedload(Enrolment.run)])
    targets = services.move_targets(enrolment)
    form = MoveForm()
    form.set_choices([(t.id, _target_label(t)) for t in targets], _("Vælg kursusforløb"))
    if form.validate_on_submit():
        try:
            new = services.move(current_user, enrolment.id, form.target.data, clock.utcnow(), clock.today())
        except DomainError as exc:
            refused(exc, form)
        else:
            flash(_moved_message(new), "success")
            return _run_page(enrolment.course_run_id)
    html = render_template("enrolment/coordinator_move.html", enrolment=enrolment, form=form, targets=targets)
    if request.method == "GET":
        record_read("enrolment.move_view", subject=enrolment.user_id, object_type="enrolment", object_id=enrolment.id)
    return html


@bp.get("/enrolments/<int:enrolment_id>/history")
@allow(AccessLevel.COORDINATOR)
def enrolment_history(enrolment_id: int):
    """Everything that happened to one enrolment: what, when and who (a person or the system)."""
    enrolment = db.get_or_404(
        Enrolment,
        enrolment_id,
        options=[
            joinedload(Enrolment.user),
            joinedload(Enrolment.run),
            selectinload(Enrolment.events).joinedload(EnrolmentEvent.actor),
            selectinload(Enrolment.moved_from).joinedload(Enrolment.run),
            selectinload(Enrolment.moved_to).joinedload(Enrolment.run),
        ],
    )
    html = render_template("enrolment/coordinator_history.html", enrolment=enrolment)
    record_read(
        "enrolment.view",
        subject=enrolment.user_id,
        object_type="enrolment",
        object_id=enrolment.id,
        details={"run": enrolment.course_run_id},
        shown=[event.actor_id for event in enrolment.events],  # who did what: their names are on the page
    )
    return html


# --------------------------------------------------------------------------------------------------
# Attendance and completion
# --------------------------------------------------------------------------------------------------


def may_record_attendance(user, run_id: int, day_id: int) -> bool:
    """Ownership rule: the coordinator for any run, a provider for its own (non-draft) runs, and the day
    must belong to the run; anything else answers 404."""
    run = db.session.get(CourseRun, run_id)
    day = db.session.get(CourseDay, day_id)
    return run is not None and day is not None and day.course_run_id == run.id and run_visible_to(user, run)


@bp.route("/runs/<int:run_id>/days/<int:day_id>/attendance", methods=["GET", "POST"])
@allow(AccessLevel.COORDINATOR, AccessLevel.PROVIDER, check=may_record_attendance)
def attendance_edit(run_id: int, day_id: int):
    """Tick who was present on one course day (coordinator; the run's provider)."""
    run = db.get_or_404(CourseRun, run_id)
    day = db.get_or_404(CourseDay, day_id)
    if day.course_run_id != run.id:
        abort(404)
    if day.day > clock.today():
        return _attendance_not_yet(run, day)
    participants = services.run_participants(run)
    confirmed_ids = [p.enrolment.id for p in participants.confirmed]
    form = AttendanceForm()
    form.set_choices(confirmed_ids)
    if request.method == "GET":
        form.present.data = [e for e in confirmed_ids if participants.marks.get((e, day.id))]
        if confirmed_ids:
            record_read(
                "participants.view",
                object_type="run",
                object_id=run.id,
                details={"people": len(confirmed_ids), "day": day.id},
                shown=[p.enrolment for p in participants.confirmed],
            )
    if form.validate_on_submit():
        present_ids = confirmed_ids if request.form.get("action") == "all" else (form.present.data or [])
        try:
            count = services.record_attendance(current_user, day.id, present_ids, clock.utcnow(), clock.today())
        except DomainError as exc:
            refused(exc, form)
            participants = services.run_participants(run)  # the rollback expired what was loaded
        else:
            if day.kind == DayKind.FOLLOW_UP:
                saved = _(
                    "Fremmødet for opfølgningsdagen er gemt: %(n)s af %(total)s mødt.",
                    n=count,
                    total=len(confirmed_ids),
                )
            else:
                saved = _(
                    "Fremmødet for %(day)s. undervisningsdag er gemt: %(n)s af %(total)s mødt.",
                    day=day.position,
                    n=count,
                    total=len(confirmed_ids),
                )
            flash(saved, "success")
            return _run_page(run.id, "fremmoede")
    return render_template(
        "enrolment/attendance_form.html",
        run=run,
        day=day,
        form=form,
        participants={str(p.enrolment.id): p for p in participants.confirmed},
    )


def _attendance_not_yet(run: CourseRun, day: CourseDay):
    """A day that has not come: say when registration opens, with no form (no names are shown). A POST
    (an old tab, a crafted request) is still put to the service, which refuses it: its message is then the
    page's only message."""
    refusal = None
    if request.method == "POST":
        form = AttendanceForm()
        form.set_choices([])
        if form.validate_on_submit():
            try:
                services.record_attendance(current_user, day.id, [], clock.utcnow(), clock.today())
            except DomainError as exc:
                refusal = exc
        if refusal is None:  # a bad CSRF token, or the service let it through (never expected)
            refusal = DomainError(_("Fremmøde kan først registreres på dagen (%(date)s).", date=dk_date(day.day)))
        refused(refusal)
    return render_template("enrolment/attendance_form.html", run=run, day=day, not_yet=True, refused=refusal)


@bp.post("/runs/<int:run_id>/complete")
@allow(AccessLevel.COORDINATOR)
def run_complete(run_id: int):
    """Mark a run completed: all its days have passed and attendance is registered for everyone."""
    run = db.get_or_404(CourseRun, run_id)
    try:
        services.complete_run(current_user, run.id, clock.today())
    except DomainError as exc:
        refused(exc)
    else:
        flash(_("Kursusforløbet %(title)s er markeret som gennemført.", title=run.title), "success")
    return _run_page(run.id, "gennemfoert")
