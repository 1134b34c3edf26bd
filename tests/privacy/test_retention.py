"""The retention job: runs whose last day is more than PERSONAL_DATA_RETENTION_YEARS ago lose their participants'
personal data, every programme figure stays the same, nothing of the people is left, and running it again does
nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.courses.models import RunStatus
from app.enrolment.models import Enrolment, EnrolmentEvent, EventKind
from app.extensions import db
from app.notifications.models import CalendarInvitation, OutboxMessage, OutboxStatus
from app.privacy import services
from app.privacy.models import PersonKey
from app.programmes.dashboard import programme_figures
from app.programmes.feedback_models import Feedback, FeedbackMethodAnswer
from scheduler import jobs
from tests import factories
from tests.privacy.helpers import find_everywhere

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=CPH)
TODAY = NOW.date()
RUN_A = (date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2))
RUN_B = (date(2009, 3, 3), date(2009, 3, 4), date(2009, 6, 9))
#: Its follow-up day is less than five years before NOW: not expired.
RUN_C = (date(2022, 9, 6), date(2022, 9, 7), date(2022, 12, 6))


def _mail(user: User, run, key: str, status=OutboxStatus.SENT) -> OutboxMessage:
    row = OutboxMessage(
        kind="invitation",
        dedupe_key=key,
        recipient_email=user.email,
        recipient_user_id=user.id,
        course_run_id=run.id,
        subject=f"Invitation: {run.title}",
        status=status,
        message=f"To: {user.name} <{user.email}>\r\nSubject: Invitation\r\n\r\nKære {user.name}\r\n".encode(),
        next_attempt_at=datetime(2008, 9, 1, tzinfo=UTC),
    )
    return factories._save(row)


def _complete(run, user, **kw) -> Enrolment:
    enrolment = factories.make_enrolment(run, user, **kw)
    for day in run.days:
        factories.make_attendance(enrolment, day, present=True)
    return enrolment


def _feedback(enrolment, method, text) -> Feedback:
    feedback = Feedback(enrolment_id=enrolment.id, earlier_involvement="yes", free_text=text)
    feedback.answers.append(FeedbackMethodAnswer(method_id=method.id, before="rarely", since="weekly"))
    return factories._save(feedback)


@pytest.fixture
def scene(app, coordinator):
    """A programme with two expired runs (A, B) and one that is not (C), and four people:

    - Ditte: completed A and C (one expired, one not: she must still count once), her own events on A;
    - Lars: completed A only, left long ago (deactivated, untouched since 2010);
    - Mona: completed A and B (both expire: still one person);
    - Nils: cancelled on A (with a note), on the waiting list of B.
    """
    caseworker, counsellor = factories.make_staff_role("Sagsbehandler"), factories.make_staff_role("Hjemmevejleder")
    amager, valby = factories.make_unit("Team Amager"), factories.make_unit("Team Valby")
    method = factories.make_method("Familierådslagning")
    programme = factories.make_programme(
        name="Styrket forældreansvar",
        target_deadline=date(2023, 12, 31),
        target_runs=3,
        target_completed_staff=4,
        ends_on=date(2023, 12, 31),
    )
    provider = factories.make_provider(name="Familien i Centrum")
    runs = {}
    for name, days in (("A", RUN_A), ("B", RUN_B), ("C", RUN_C)):
        runs[name] = factories.make_course_run(
            programme=programme,
            provider=provider,
            days=days,
            status=RunStatus.COMPLETED,
            title=f"Forløb {name}",
            price_ore=100_000,
        )
        runs[name].methods.append(method)
    db.session.commit()
    ditte = factories.make_user(name="Ditte Dobbelt", email="ditte@test.dk", staff_role=caseworker, unit=amager)
    lars = factories.make_user(
        name="Lars Leaver", email="lars@test.dk", staff_role=counsellor, unit=valby, active=False
    )
    mona = factories.make_user(name="Mona Mikkelsen", email="mona@test.dk", staff_role=caseworker, unit=valby)
    nils = factories.make_user(name="Nils Nielsen", email="nils@test.dk", staff_role=counsellor, unit=amager)

    a_ditte = _complete(runs["A"], ditte, practice_case="Ditte Dobbelts egen sag", note="Ditte er vegetar")
    _complete(runs["C"], ditte)
    a_lars = _complete(runs["A"], lars, note="Lars Leaver: kørestol")
    a_mona = _complete(runs["A"], mona)
    _complete(runs["B"], mona)
    factories.make_enrolment(runs["A"], nils, status="cancelled", note="Ring til Nils Nielsen")
    factories.make_enrolment(runs["B"], nils, status="waitlisted")
    _feedback(a_ditte, method, "Ditte Dobbelt: metoden virker")
    _feedback(a_lars, method, "Godt kursus, hilsen lars@test.dk")
    _feedback(a_mona, method, None)
    for kind, actor in ((EventKind.CONFIRMED, ditte), (EventKind.CANCELLED, coordinator)):
        db.session.add(
            EnrolmentEvent(
                enrolment_id=a_ditte.id,
                course_run_id=runs["A"].id,
                kind=kind,
                actor_id=actor.id,
                created_at=datetime(2008, 9, 1, tzinfo=UTC),
            )
        )
    db.session.add(
        CalendarInvitation(
            enrolment_id=a_ditte.id,
            course_day_id=runs["A"].days[0].id,
            active=True,
            sequence=0,
            day_revision=0,
            updated_at=datetime(2008, 9, 1, tzinfo=UTC),
        )
    )
    db.session.commit()
    for n, person in enumerate((ditte, lars, mona)):
        _mail(person, runs["A"], f"invite:a:{n}")
    recent_mail = _mail(ditte, runs["C"], "invite:c:ditte")
    db.session.execute(update(User).where(User.id == lars.id).values(updated_at=datetime(2010, 1, 1, tzinfo=UTC)))
    db.session.commit()
    return {
        "programme": programme,
        "runs": runs,
        "ditte": ditte,
        "lars": lars,
        "mona": mona,
        "nils": nils,
        "recent_mail": recent_mail,
        "coordinator": coordinator,
    }


def _figures(programme):
    db.session.expire_all()
    return programme_figures(programme.id, TODAY)


def test_the_figures_are_the_same_after_the_runs_are_anonymised(scene):
    programme = scene["programme"]
    before = _figures(programme)
    assert (before.result.completed, before.result.enrolled, before.activity.completed) == (3, 3, 3)
    assert before.effect.answered == 3

    report = jobs.anonymise_expired_runs(NOW)

    assert sorted(report.run_ids) == sorted([scene["runs"]["A"].id, scene["runs"]["B"].id])
    assert _figures(programme) == before
    # Ten years on, run C expires too: Ditte's pseudonym is no longer needed, and still nothing changes.
    later = NOW.replace(year=2036)
    services.anonymise_expired_runs(later)
    assert db.session.scalar(select(func.count(PersonKey.id))) == 0
    assert _figures(programme) == before


def test_nothing_of_the_people_is_left_in_any_table(scene):
    # Names and addresses read now: the objects show the anonymised values afterwards.
    people = {n: (scene[n].id, scene[n].name, scene[n].email) for n in ("ditte", "lars", "mona", "nils")}
    before = find_everywhere(*people["lars"][1:])
    assert {table for table, _pk in before} >= {"users", "enrolments", "feedback", "outbox_messages"}

    services.anonymise_expired_runs(NOW)

    # Lars left long ago and has nothing left but the expired run: nothing of him remains.
    assert find_everywhere(*people["lars"][1:]) == set()
    # Mona and Nils are still employed: their accounts stay, and nothing else names them.
    for name in ("mona", "nils"):
        user_id, *needles = people[name]
        assert find_everywhere(*needles) == {("users", (user_id,))}
    # Ditte also has a recent run: its mail stays, the old run's practice case, note, feedback text and mail go.
    ditte_id, *ditte = people["ditte"]
    assert find_everywhere(*ditte) == {("users", (ditte_id,)), ("outbox_messages", (scene["recent_mail"].id,))}
    assert find_everywhere("Ditte er vegetar", "kørestol", "Ring til") == set()


def test_what_an_anonymised_run_keeps_and_loses(scene):
    run_a, ditte, coordinator = scene["runs"]["A"], scene["ditte"], scene["coordinator"]
    services.anonymise_expired_runs(NOW)
    db.session.expire_all()

    enrolments = list(db.session.scalars(select(Enrolment).where(Enrolment.course_run_id == run_a.id)))
    assert len(enrolments) == 4
    placeholders = {e.user for e in enrolments}
    assert len(placeholders) == 4  # one placeholder per enrolment: nothing ties two runs' rows to a person
    for enrolment in enrolments:
        user = enrolment.user
        assert (user.name, user.active, user.password_hash, user.is_anonymised) == (
            "Anonymiseret deltager",
            False,
            None,
            True,
        )
        assert user.email.endswith("@invalid")
        assert enrolment.person_key and enrolment.practice_case is None and enrolment.note is None
        assert len(enrolment.attendances) in (0, 3)
    roles = sorted(e.user.staff_role.name for e in enrolments)
    assert roles == ["Hjemmevejleder", "Hjemmevejleder", "Sagsbehandler", "Sagsbehandler"]
    # Ditte's own event now names her placeholder; the coordinator's stays the coordinator's.
    actors = {e.kind: e.actor_id for e in db.session.scalars(select(EnrolmentEvent))}
    assert actors[EventKind.CANCELLED] == coordinator.id
    assert actors[EventKind.CONFIRMED] not in (ditte.id, None)
    assert db.session.scalar(select(func.count(CalendarInvitation.id))) == 0
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.course_run_id == run_a.id)) == 0
    assert {f.free_text for f in db.session.scalars(select(Feedback))} == {None}
    assert db.session.scalar(select(func.count(FeedbackMethodAnswer.id))) == 3
    # Ditte keeps her pseudonym for the programme while run C still names her; Mona's is gone (both runs done).
    keys = list(db.session.scalars(select(PersonKey)))
    assert [(k.user_id, k.programme_id) for k in keys] == [(ditte.id, scene["programme"].id)]
    assert run_a.anonymised_at is not None and scene["runs"]["C"].anonymised_at is None
    # The job's audit entries: one per run, by the system, and Lars's account.
    entries = list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.object_type, e.object_id, e.actor_id) for e in entries] == [
        ("run.anonymised", "run", scene["runs"]["A"].id, None),
        ("run.anonymised", "run", scene["runs"]["B"].id, None),
        ("user.anonymised", "user", scene["lars"].id, None),
    ]


def test_the_job_is_idempotent_and_works_in_batches(scene):
    first = services.anonymise_expired_runs(NOW, batch_size=1)
    assert len(first.run_ids) == 2 and first.enrolments == 6 and first.accounts == [scene["lars"].id]
    users = db.session.scalar(select(func.count(User.id)))

    second = services.anonymise_expired_runs(NOW)

    assert (second.run_ids, second.enrolments, second.accounts) == ([], 0, [])
    assert db.session.scalar(select(func.count(User.id))) == users
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "run.anonymised")) == 2


def test_the_retention_period_is_configurable_and_counts_from_the_last_day(app, scene):
    # Run B's follow-up day is 9 June 2009: expired on 10 June 2014, not on 9 June.
    assert services.expired_run_ids(date(2014, 6, 9), 5) == [scene["runs"]["A"].id]
    assert services.expired_run_ids(date(2014, 6, 10), 5) == [scene["runs"]["A"].id, scene["runs"]["B"].id]
    app.config["PERSONAL_DATA_RETENTION_YEARS"] = 20
    assert services.anonymise_expired_runs(NOW).run_ids == []
    app.config["PERSONAL_DATA_RETENTION_YEARS"] = 0
    with pytest.raises(RuntimeError, match="PERSONAL_DATA_RETENTION_YEARS"):
        services.anonymise_expired_runs(NOW)


def test_a_dry_run_changes_nothing(scene):
    report = services.anonymise_expired_runs(NOW, dry_run=True)
    assert len(report.run_ids) == 2 and report.enrolments == 6 and report.accounts == []
    assert db.session.scalar(select(func.count(User.id)).where(User.anonymised_at.is_not(None))) == 0
    assert find_everywhere("Ditte er vegetar") != set()


def test_the_cli(runner, scene):
    dry = runner.invoke(args=["privacy", "anonymise-expired", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "– ville blive anonymiseret: 2 (tilmeldinger: 6)" in dry.output
    assert db.session.scalar(select(func.count(User.id)).where(User.anonymised_at.is_not(None))) == 0
    lars_email = scene["lars"].email
    done = runner.invoke(args=["privacy", "anonymise-expired"])
    assert done.exit_code == 0, done.output
    assert "– anonymiseret: 2 (tilmeldinger: 6)" in done.output
    assert "Inaktive konti, der er anonymiseret: 1" in done.output
    assert find_everywhere(lars_email) == set()


def test_the_pages_of_an_anonymised_run_still_work(client, login_as, scene):
    services.anonymise_expired_runs(NOW)
    run, programme = scene["runs"]["A"], scene["programme"]
    login_as(scene["coordinator"])
    page = client.get(f"/runs/{run.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Anonymiseret deltager" in text and "opbevaringsperioden er udløbet" in text
    for url in (
        f"/runs/{run.id}/participants.csv",
        f"/runs/{run.id}/participants.xlsx",
        f"/runs/{run.id}/participants.pdf",
        f"/runs/{run.id}/feedback",
        f"/programmes/{programme.id}/dashboard",
        f"/programmes/{programme.id}/report.pdf",
        f"/programmes/{programme.id}/feedback",
        f"/runs/{run.id}/days/{run.days[0].id}/attendance",
        f"/runs/{run.id}/participants/downloads",
        *(
            f"/enrolments/{e.id}/history"
            for e in db.session.scalars(select(Enrolment).where(Enrolment.course_run_id == run.id))
        ),
    ):
        assert client.get(url).status_code == 200, url
