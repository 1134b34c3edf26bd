"""The calendar-truth harness: a small world of runs and people driven through the real services, the
real outbox delivery to a real SMTP server, and one model calendar per person (tests/calendar/model_client).

`CalendarWorld.check()` asserts the invariant of issue 19 after a delivery that drained the outbox:
- every person's model calendar holds exactly the truth in the database: each course day (not ended) they
  hold a seat on, with its current date, times, place and title, and nothing else;
- per (UID, recipient) SEQUENCE never decreased across mails;
- the personal feed and the run's .ics never show a SEQUENCE below the last one mailed for that UID to
  that person;
- no outbox row is superseded or pending (or failed) while the SMTP server accepted its mail.

Every operation commits (as the views do) or rolls back on a refusal (DomainError). Time is an injected
`now` (aware UTC), advanced a minute per operation; never the wall clock.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy

from icalendar import Calendar
from sqlalchemy import select, text

from app.accounts.models import User
from app.calendar import feeds
from app.core.clock import local_tz
from app.core.exceptions import DomainError
from app.courses import follow_up
from app.courses import services as course_services
from app.courses.models import CourseDay, CourseRun, DayKind, RunStatus
from app.enrolment import approval, services
from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
from app.extensions import db
from app.notifications import outbox
from app.notifications.ical import day_interval_utc, event_uid
from app.notifications.models import CalendarInvitation, OutboxMessage, OutboxStatus
from app.privacy import services as privacy
from tests import factories
from tests.calendar.conftest import Gate
from tests.calendar.model_client import ModelClients

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ACTIVE = (EnrolmentStatus.CONFIRMED, EnrolmentStatus.WAITLISTED, EnrolmentStatus.REQUESTED)
_world_numbers = itertools.count(1)


class CalendarWorld:
    """Three runs of one programme (A and C open, B requiring approval; two seats each), `people` staff
    members and a coordinator, created fresh (new rows, unique addresses) in the shared database."""

    def __init__(self, app, server, people: int = 4):
        self.app, self.server = app, server
        self.now = START
        self.steps = 0
        self.received_seen = len(server.received)
        self.clients = ModelClients()
        n = next(_world_numbers)
        self.coordinator = factories.make_user(
            access_level="coordinator", name=f"Koordinator {n}", email=f"koordinator{n}@truth.test"
        )
        programme, provider = factories.make_programme(), factories.make_provider()
        method = factories.make_method()
        self.runs: list[CourseRun] = []
        for title, first, needs_approval in (("A", date(2026, 3, 16), False), ("B", date(2026, 3, 23), True)):
            self.runs.append(self._run(f"Hold {title}{n}, Valby", first, needs_approval, programme, provider, method))
        self.runs.append(self._run(f"Hold C{n}", date(2026, 3, 30), False, programme, provider, method))
        # Leader approval (issue 24): B needs the leader's approval and then the coordinator's, C the leader's
        # only; the people's unit is led by `leader`, whose approvals are operations like the coordinator's.
        self.runs[1].requires_leader_approval = self.runs[2].requires_leader_approval = True
        unit = factories.make_unit(f"Team {n}")
        self.leader = factories.make_leader(
            unit, factories.make_user(name=f"Leder {n}", email=f"leder{n}@truth.test", unit=unit)
        )
        self.run_ids = [r.id for r in self.runs]
        self.people: list[User] = factories.make_eligible_staff(self.runs[0], people, unit=unit)
        for run in self.runs[1:]:
            run.eligible_roles = list(self.runs[0].eligible_roles)
        db.session.commit()
        self.people_ids = [p.id for p in self.people]
        self.addresses = {p.id: p.email for p in self.people}
        self.anonymised: set[int] = set()
        #: Concurrent-delivery races run, and the changes that happened (not refused), by operation.
        self.races = 0
        self.done: Counter[str] = Counter()

    def _run(self, title, first, approval, programme, provider, method) -> CourseRun:
        run = factories.make_course_run(
            programme=programme,
            provider=provider,
            days=(first, first + timedelta(days=1), first + timedelta(days=92)),
            title=title,
            capacity=2,
            enrolment_deadline=first - timedelta(days=3),
            requires_approval=approval,
        )
        run.methods.append(method)
        db.session.commit()
        return run

    # --- time -------------------------------------------------------------------------------------------

    @property
    def today(self) -> date:
        return self.now.astimezone(local_tz()).date()

    def tick(self) -> None:
        self.now += timedelta(minutes=1)
        self.steps += 1

    # --- doing things -----------------------------------------------------------------------------------

    def attempt(self, action) -> bool:
        """Run one change as a view would: commit, or roll back on a refusal. True if it happened."""
        self.tick()
        try:
            action()
        except DomainError:
            db.session.rollback()
            return False
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        self.done[getattr(action, "__qualname__", "?").split(".")[1].strip("_")] += 1
        return True

    def run(self, i: int) -> CourseRun:
        return db.session.get(CourseRun, self.run_ids[i % len(self.run_ids)])

    def person(self, i: int) -> User:
        return db.session.get(User, self.people_ids[i % len(self.people_ids)])

    def active_enrolment(self, person: User, run: CourseRun) -> Enrolment | None:
        return services.active_enrolment(person.id, run.id)

    def enrol(self, p: int, r: int, by_coordinator: bool = False) -> bool:
        person, run = self.person(p), self.run(r)
        actor = self.coordinator if by_coordinator else person
        return self.attempt(lambda: services.enrol(actor, run.id, person, self.now, self.today))

    def cancel(self, p: int, r: int, by_coordinator: bool = True) -> bool:
        person, run = self.person(p), self.run(r)
        enrolment = self.active_enrolment(person, run)
        if enrolment is None:
            return False
        actor = self.coordinator if by_coordinator else person
        return self.attempt(lambda: services.cancel(actor, enrolment.id, self.now, self.today))

    def _by_status(self, r: int, status: EnrolmentStatus) -> Enrolment | None:
        return db.session.scalars(
            select(Enrolment)
            .where(Enrolment.course_run_id == self.run(r).id, Enrolment.status == status)
            .order_by(Enrolment.id)
        ).first()

    def approve(self, r: int) -> bool:
        enrolment = self._by_status(r, EnrolmentStatus.REQUESTED)
        return enrolment is not None and self.attempt(
            lambda: services.approve(self.coordinator, enrolment.id, self.now)
        )

    def reject(self, r: int) -> bool:
        enrolment = self._by_status(r, EnrolmentStatus.REQUESTED)
        return enrolment is not None and self.attempt(lambda: services.reject(self.coordinator, enrolment.id, self.now))

    def leader_approve(self, r: int) -> bool:
        enrolment = self._by_status(r, EnrolmentStatus.REQUESTED)
        return enrolment is not None and self.attempt(
            lambda: approval.decide(self.leader, enrolment.id, True, None, self.now)
        )

    def leader_reject(self, r: int) -> bool:
        enrolment = self._by_status(r, EnrolmentStatus.REQUESTED)
        return enrolment is not None and self.attempt(
            lambda: approval.decide(self.leader, enrolment.id, False, "Ikke nu", self.now)
        )

    def expire_requests(self) -> bool:
        """The expiry job: requests still with the leader lapse once their run's enrolment deadline passed."""
        return self.attempt(lambda: approval.expire_pending(self.now))

    def promote(self, r: int) -> bool:
        enrolment = self._by_status(r, EnrolmentStatus.WAITLISTED)
        return enrolment is not None and self.attempt(
            lambda: services.promote(self.coordinator, enrolment.id, self.now)
        )

    def move(self, p: int, r: int, target: int) -> bool:
        person, run, target_run = self.person(p), self.run(r), self.run(target)
        enrolment = self.active_enrolment(person, run)
        if enrolment is None or run.id == target_run.id:
            return False
        return self.attempt(lambda: services.move(self.coordinator, enrolment.id, target_run.id, self.now, self.today))

    def _run_data(self, run: CourseRun, **changes) -> course_services.CourseRunData:
        return factories.run_data_of(run, **changes)

    def _update(self, run: CourseRun, **changes) -> bool:
        def change():
            data = self._run_data(run, **changes)
            course_services.update_course_run(self.coordinator, run, data, {}, 3, now=self.now, today=self.today)

        return self.attempt(change)

    def edit_day(self, r: int, position: int, what: str, k: int) -> bool:
        run = self.run(r)
        name = ("teaching_day_1", "teaching_day_2", "follow_up")[position % 3]
        current = self._run_data(run).__getattribute__(name)
        if what == "date":
            new = replace(current, day=current.day + timedelta(days=(k % 3) - 1 or 1))
        elif what == "time":
            new = replace(current, starts_at=time(8 + k % 3, 0), ends_at=time(14 + k % 2, 30))
        else:
            new = replace(current, venue=None if current.venue else f"Lokale {k}")
        return self._update(run, **{name: new})

    def edit_run(self, r: int, what: str, k: int) -> bool:
        run = self.run(r)
        if what == "title":
            return self._update(run, title=f"{run.title.split(' / ')[0]} / v{k}")
        if what == "venue":
            return self._update(run, venue=f"Kursuscenter {k}")
        return self._update(run, description=f"Beskrivelse {k}")

    def move_follow_up(self, r: int, k: int) -> bool:
        run = self.run(r)
        fu = self._run_data(run).follow_up
        return self._update(run, follow_up=replace(fu, day=fu.day + timedelta(days=7 * (1 + k % 2))))

    def cancel_run(self, r: int) -> bool:
        run = self.run(r)
        return self.attempt(lambda: course_services.cancel_course_run(self.coordinator, run, now=self.now))

    def teaching_over(self, r: int) -> None:
        """Time passes to the evening of run r's teaching day 2 (never backwards)."""
        when = course_services.follow_up_due_at(self.run(r))
        if when is not None and when.astimezone(UTC) + timedelta(minutes=1) > self.now:
            self.now = when.astimezone(UTC) + timedelta(minutes=1)

    def follow_up_job(self, r: int) -> bool:
        self.teaching_over(r)
        self.tick()
        return follow_up.confirm(self.run(r).id, self.now)

    def mark_absent(self, r: int, p: int) -> bool:
        """Attendance on teaching day 1 of run r (its day has come): person p absent, the others present."""
        run = self.run(r)
        day = run.days[0]
        if day.day > self.today:
            return False
        absent = self.active_enrolment(self.person(p), run)
        confirmed = db.session.scalars(
            select(Enrolment.id).where(Enrolment.course_run_id == run.id, Enrolment.status == EnrolmentStatus.CONFIRMED)
        ).all()
        present = [e for e in confirmed if absent is None or e != absent.id]
        return self.attempt(lambda: services.record_attendance(self.coordinator, day.id, present, self.now, self.today))

    def anonymise(self, p: int) -> bool:
        person = self.person(p)
        if person.id in self.anonymised:
            return False
        done = self.attempt(
            lambda: privacy.anonymise_user(self.coordinator, person.id, self.now, self.today, confirm_name=person.name)
        )
        if done:
            self.anonymised.add(person.id)
        return done

    # --- the scheduler's delivery ------------------------------------------------------------------------

    def deliver(self) -> None:
        """The delivery job (batches until nothing is due) to the real SMTP server; then the model
        calendars receive what the server accepted, in order."""
        self.tick()
        outbox.deliver_all_due(self.now)
        self.receive()

    def receive(self) -> None:
        mails = self.server.received[self.received_seen :]
        self.received_seen = len(self.server.received)
        for mail in mails:
            self.clients.deliver([a.lower() for a in mail.rcpt_tos], mail.content)

    def cancel_while_delivering(self, p: int) -> bool:
        """Person p cancels while the delivery job is handing their first mail to the SMTP server.

        The job runs in a thread with its own app context (a second database connection); the server
        holds that mail until the cancellation, on this connection, is waiting for the job's row lock
        (PostgreSQL: seen in pg_locks) or has started (SQLite: the database write lock orders the two).
        """
        person = self.person(p)
        # The mail the server holds is the first one the job sends to this person (it sends in id order); the
        # race is only a race if that mail is a calendar mail of an enrolment they can still cancel.
        first_pending = (
            select(OutboxMessage.id)
            .where(OutboxMessage.recipient_email == person.email, OutboxMessage.status == OutboxStatus.PENDING)
            .order_by(OutboxMessage.id)
            .limit(1)
            .scalar_subquery()
        )
        enrolment_id = db.session.scalar(
            select(Enrolment.id)
            .join(CalendarInvitation, CalendarInvitation.enrolment_id == Enrolment.id)
            .where(
                CalendarInvitation.last_message_id == first_pending,
                Enrolment.user_id == person.id,
                Enrolment.course_run_id.in_(self.run_ids),
                Enrolment.status == EnrolmentStatus.CONFIRMED,
            )
            .limit(1)
        )
        if enrolment_id is None:
            return False
        address = person.email.lower()
        # End this connection's transaction and touch no loaded object afterwards (an expired attribute
        # would begin a new one): on SQLite a transaction holds the database's write lock.
        db.session.commit()
        self.tick()
        now = self.now
        gate = Gate(address, threading.Event(), threading.Event())
        self.server.handler.gate = gate
        errors: list[BaseException] = []

        def job():
            try:
                with self.app.app_context():
                    outbox.deliver_all_due(now)
                    db.session.remove()
            except BaseException as error:  # pragma: no cover - reported by the assertion below
                errors.append(error)

        mailer = threading.Thread(target=job)
        mailer.start()
        try:
            if not gate.entered.wait(60):
                mailer.join(60)
                raise AssertionError(f"the delivery job never reached the gated mail: {errors}")
            cancelled = threading.Event()
            releaser = threading.Thread(target=self._release_when_waiting, args=(gate, cancelled))
            releaser.start()
            self.tick()
            try:
                done = self.attempt(lambda: services.cancel(self.coordinator, enrolment_id, self.now, self.today))
            finally:
                cancelled.set()
            releaser.join(60)
        finally:
            gate.release.set()
            mailer.join(60)
        assert not errors, errors
        self.races += 1
        return done

    def _release_when_waiting(self, gate: Gate, cancelled: threading.Event) -> None:
        """Let the held mail go once the cancellation waits for the job's lock (PostgreSQL), has had time to
        start (SQLite), or has finished without waiting (it needed no lock the job held): up to 10 s."""
        with self.app.app_context():
            if db.engine.dialect.name == "postgresql":
                with db.engine.connect() as conn:
                    for _attempt in range(400):
                        waiting = conn.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
                        if waiting:
                            break
                        conn.rollback()
                        if cancelled.wait(0.025):
                            break
            else:
                cancelled.wait(0.2)
        gate.release.set()

    # --- the invariant ------------------------------------------------------------------------------------

    def truth(self, person: User) -> dict[str, tuple]:
        """UID -> (start, end, place, title) of every course day `person` holds a seat on that has not ended."""
        if person.id in self.anonymised:
            return {}
        held: dict[str, tuple] = {}
        enrolments = db.session.scalars(
            select(Enrolment).where(
                Enrolment.user_id == person.id,
                Enrolment.course_run_id.in_(self.run_ids),
                Enrolment.status == EnrolmentStatus.CONFIRMED,
            )
        ).all()
        for enrolment in enrolments:
            run = enrolment.run
            if run.status not in (RunStatus.PUBLISHED, RunStatus.COMPLETED):
                continue
            absent = db.session.scalar(
                select(Attendance.id).where(
                    Attendance.enrolment_id == enrolment.id,
                    Attendance.present.is_(False),
                    Attendance.course_day_id.in_([d.id for d in run.teaching_days]),
                )
            )
            for day in run.days:
                start, end = day_interval_utc(day)
                if end <= self.now:
                    continue
                if day.kind == DayKind.FOLLOW_UP and run.follow_up_confirmed_at is not None and absent:
                    continue
                held[event_uid(day)] = (start, end, day.effective_venue, run.title)
        return held

    def live_uids(self) -> set[str]:
        """The UIDs of every course day of the world that has not ended."""
        days = db.session.scalars(select(CourseDay).where(CourseDay.course_run_id.in_(self.run_ids))).all()
        return {event_uid(d) for d in days if day_interval_utc(d)[1] > self.now}

    def check(self) -> None:
        db.session.expire_all()
        assert self.clients.violations() == []
        pending = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= self.now,
                OutboxMessage.recipient_email.in_(list(self.addresses.values())),
            )
        ).all()
        assert not pending, (
            f"the delivery left due mail behind: {[(r, r.next_attempt_at, r.last_error) for r in pending]}"
        )
        self._check_outbox_agrees_with_the_server()
        live = self.live_uids()
        for person_id in self.people_ids:
            person = db.session.get(User, person_id)
            address = self.addresses[person_id]
            calendar = self.clients.calendar(address)
            holds = {
                uid: (e.start, e.end, e.location, e.summary.rsplit(" – ", 1)[0])
                for uid, e in calendar.events.items()
                if uid in live
            }
            if person_id in self.anonymised:
                # A leaver: every course day still to come that they held was cancelled (to the old address),
                # on a run that has begun too, and the updates still waiting went out. What the old calendar
                # keeps is history, shown where it was: a day that had ended when they left and is moved later
                # is not mailed about any more, their address being gone (docs/calendar.md, "Anonymising a
                # participant"). So: nothing in the old calendar is still to come.
                holds = {
                    uid: (e.start, e.end, e.location, e.summary.rsplit(" – ", 1)[0])
                    for uid, e in calendar.events.items()
                    if e.end > self.now
                }
            assert holds == self.truth(person), f"calendar of {address} differs from the database"
            if person_id not in self.anonymised:
                run_files = [feeds.render_run(self.run(i), person) for i in range(len(self.run_ids))]
                self._check_feed_sequences(person, calendar.mailed, run_files)
                self._check_run_files_offer_no_seat_they_lack(person, live, run_files)

    def _check_outbox_agrees_with_the_server(self) -> None:
        accepted = {mail.message_id for mail in self.server.received}
        addresses = list(self.addresses.values())
        rows = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.recipient_email.in_(addresses), OutboxMessage.status != OutboxStatus.SENT
            )
        ).all()
        for row in rows:
            message_id = message_from_bytes(row.message, policy=policy.default)["Message-ID"]
            assert message_id not in accepted, f"outbox row {row.id} is {row.status} but the server accepted it"

    def _check_run_files_offer_no_seat_they_lack(self, person: User, live: set[str], run_files: list[bytes]) -> None:
        """Imported, a run's .ics must not put a course day still to come in their calendar as a seat they do not
        hold (waiting list, awaiting approval, cancelled, never enrolled): no confirmed event with a real day's
        UID that the truth doesn't give them (issue 19, finding 5)."""
        seats = set(self.truth(person))
        for run_file in run_files:
            for event in Calendar.from_ical(run_file).walk("VEVENT"):
                uid, status = str(event["UID"]), str(event.get("STATUS", "CONFIRMED"))
                if uid in live and status == "CONFIRMED":
                    assert uid in seats, f"{uid}: the run file offers {person.email} a seat they do not hold"

    def _check_feed_sequences(self, person: User, mailed: dict[str, int], run_files: list[bytes]) -> None:
        for body in [feeds.render_feed(person).body, *run_files]:
            for event in Calendar.from_ical(body).walk("VEVENT"):
                uid = str(event["UID"])
                if uid in mailed:
                    assert int(event["SEQUENCE"]) >= mailed[uid], f"{uid}: feed/run file below the mailed SEQUENCE"
