"""Plain builder functions with sensible defaults (Indico's create_* / CTFd's gen_* idea).

Each commits, as the data a real request finds would be committed: a view that rolls back its own
failed transaction must not wipe the test's setup. The schema is dropped after every test.
"""

from __future__ import annotations

import functools
import itertools
from datetime import date, time

from werkzeug.security import generate_password_hash

from app.accounts.models import StaffRole, Unit, User
from app.calendar.models import ClosedDay
from app.core.access import AccessLevel
from app.courses.models import CourseDay, CourseRun, DayKind, Method, RunKind, RunStatus
from app.extensions import db
from app.programmes.models import BudgetAllocation, Programme
from app.providers.models import Provider

PASSWORD = "korrekt-hest-batteri"
_seq = itertools.count(1)


@functools.lru_cache(maxsize=8)
def _cheap_hash(password: str) -> str:
    return generate_password_hash(password, method="pbkdf2:sha256:1000")


def _save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def make_staff_role(name: str | None = None, **kw) -> StaffRole:
    return _save(StaffRole(name=name or f"Rolle {next(_seq)}", **kw))


def make_unit(name: str | None = None, parent: Unit | None = None) -> Unit:
    return _save(Unit(name=name or f"Enhed {next(_seq)}", parent=parent))


def make_provider(name: str | None = None, **kw) -> Provider:
    return _save(Provider(name=name or f"Udbyder {next(_seq)}", **kw))


def make_user(access_level: str = "staff", password: str | None = PASSWORD, **kw) -> User:
    n = next(_seq)
    kw.setdefault("name", f"Bruger {n}")
    kw.setdefault("email", f"bruger{n}@test.dk")
    user = User(access_level=AccessLevel(access_level), **kw)
    if password:
        # A cheap hash keeps the suite fast; the login checks it with the same werkzeug function.
        user.password_hash = _cheap_hash(password)
    return _save(user)


def make_programme(**kw) -> Programme:
    kw.setdefault("name", f"Indsats {next(_seq)}")
    kw.setdefault("starts_on", date(2008, 1, 1))
    kw.setdefault("ends_on", date(2009, 12, 31))
    kw.setdefault("target_deadline", date(2009, 12, 31))
    kw.setdefault("target_runs", 5)
    kw.setdefault("target_completed_staff", 100)
    return _save(Programme(**kw))


def make_allocation(programme: Programme, provider: Provider, year: int, kroner: int) -> BudgetAllocation:
    return _save(BudgetAllocation(programme=programme, provider=provider, year=year, amount_ore=kroner * 100))


def make_method(name: str | None = None) -> Method:
    return _save(Method(name=name or f"Metode {next(_seq)}"))


def make_closed_day(day: date, reason: str = "Lukkedag") -> ClosedDay:
    return _save(ClosedDay(day=day, reason=reason))


def make_course_run(
    programme: Programme | None = None,
    provider: Provider | None = None,
    days: tuple[date, date, date] = (date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2)),
    **kw,
) -> CourseRun:
    """A run with two teaching days and a follow-up day (09.00-15.30), written directly."""
    kw.setdefault("title", f"Kursusforløb {next(_seq)}")
    kw.setdefault("kind", RunKind.STANDARD)
    kw.setdefault("status", RunStatus.PUBLISHED)
    kw.setdefault("capacity", 20)
    kw.setdefault("enrolment_deadline", days[0])
    kw.setdefault("venue", "Kursuscenter Valby")
    kw.setdefault("price_ore", 0)
    run = CourseRun(programme=programme or make_programme(), provider=provider or make_provider(), **kw)
    kinds = (DayKind.TEACHING, DayKind.TEACHING, DayKind.FOLLOW_UP)
    for position, (day, kind) in enumerate(zip(days, kinds, strict=True), 1):
        run.days.append(CourseDay(kind=kind, position=position, day=day, starts_at=time(9), ends_at=time(15, 30)))
    return _save(run)


def make_enrolment(run: CourseRun, user: User, status: str = "confirmed", **kw):
    """An enrolment written directly, keeping the run's seat counter and waiting-list queue consistent
    (for setting a scene; tests of the rules themselves go through app.enrolment.services)."""
    from app.enrolment.models import Enrolment, EnrolmentStatus

    status = EnrolmentStatus(status)
    if status == EnrolmentStatus.CONFIRMED:
        run.seats_taken += 1
    if status == EnrolmentStatus.WAITLISTED:
        run.queue_counter += 1
        kw.setdefault("queue_number", run.queue_counter)
    return _save(Enrolment(run=run, user=user, status=status, **kw))


def make_eligible_staff(run: CourseRun, n: int = 1, **kw) -> list[User]:
    """`n` staff members whose staff role is one of the run's eligible roles (adding a role if it has none)."""
    if not run.eligible_roles:
        role = make_staff_role()
        run.eligible_roles.append(role)
        db.session.commit()
    role = run.eligible_roles[0]
    return [make_user(access_level="staff", staff_role=role, **kw) for _ in range(n)]


def make_attendance(enrolment, day: CourseDay, present: bool = True, **kw):
    """One attendance mark (enrolment x course day), written directly (for setting a scene)."""
    from app.enrolment.models import Attendance

    return _save(Attendance(enrolment=enrolment, course_day_id=day.id, present=present, **kw))


def make_leader(unit: Unit, user: User) -> User:
    """Set `user` as one of `unit`'s own leaders (app.accounts.directory.leaders), written directly."""
    from app.accounts.models import unit_leaders

    db.session.execute(unit_leaders.insert().values(unit_id=unit.id, user_id=user.id))
    db.session.commit()
    db.session.expire(user, ["is_leader"])
    return user


def run_data_of(run: CourseRun, **changes):
    """What the run's edit form would submit for `run` unchanged (a `CourseRunData`), with `changes` applied."""
    from dataclasses import replace

    from app.courses.services import CourseDayData, CourseRunData

    day1, day2, follow_up = run.days

    def day(d: CourseDay) -> CourseDayData:
        return CourseDayData(d.day, d.starts_at, d.ends_at, d.venue)

    data = CourseRunData(
        programme_id=run.programme_id,
        provider_id=run.provider_id,
        title=run.title,
        kind=run.kind,
        method_ids=tuple(m.id for m in run.methods),
        staff_role_ids=tuple(r.id for r in run.eligible_roles),
        capacity=run.capacity,
        enrolment_deadline=run.enrolment_deadline,
        venue=run.venue,
        price_ore=run.price_ore,
        description=run.description,
        requires_approval=run.requires_approval,
        requires_leader_approval=run.requires_leader_approval,
        teaching_day_1=day(day1),
        teaching_day_2=day(day2),
        follow_up=day(follow_up),
    )
    return replace(data, **changes)
