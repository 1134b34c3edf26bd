"""Anonymising a leaver: the coordinator's typed-name confirmation, what it cancels and strips, what it keeps for the
statistics, who may do it, and the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.core import clock
from app.core.exceptions import DomainError, NotAllowed
from app.courses.models import RunStatus
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from app.notifications.models import OutboxMessage
from app.privacy import services
from app.privacy.models import PersonKey
from app.programmes.dashboard import programme_figures
from app.programmes.feedback_models import Feedback, FeedbackMethodAnswer
from scheduler import jobs
from tests import factories
from tests.conftest import post_form
from tests.privacy.helpers import find_everywhere


def _complete(run, user, **kw) -> Enrolment:
    enrolment = factories.make_enrolment(run, user, **kw)
    for day in run.days:
        factories.make_attendance(enrolment, day, present=True)
    return enrolment


@pytest.fixture
def leaver(app, coordinator):
    """Sara: completed a run last year (feedback with her name in it) and is enrolled on a run next year whose
    waiting list holds Walter. The programmes differ, so cancelling next year's run changes no figure of the
    first one."""
    today = clock.today()
    role, unit = factories.make_staff_role("Sagsbehandler"), factories.make_unit("Team Amager")
    method = factories.make_method("Signs of Safety")
    past = factories.make_programme(
        name="Forrige indsats", target_deadline=today, target_runs=1, target_completed_staff=1, ends_on=today
    )
    past_run = factories.make_course_run(
        programme=past,
        status=RunStatus.COMPLETED,
        title="Sidste år",
        days=tuple(today - timedelta(days=d) for d in (400, 399, 300)),
    )
    past_run.methods.append(method)
    future_days = tuple(today + timedelta(days=d) for d in (60, 61, 150))
    future_run = factories.make_course_run(
        title="Næste år", days=future_days, capacity=1, enrolment_deadline=future_days[0]
    )
    sara = factories.make_user(
        name="Sanne Søgaard",
        email="sanne@test.dk",
        staff_role=role,
        unit=unit,
        calendar_token="hemmelig-kalender-token",
    )
    walter = factories.make_user(name="Walter Venteliste", email="walter@test.dk", staff_role=role)
    done = _complete(past_run, sara, note="Sanne Søgaard er vegetar")
    feedback = Feedback(enrolment_id=done.id, earlier_involvement="partly", free_text="Hilsen Sanne Søgaard")
    feedback.answers.append(FeedbackMethodAnswer(method_id=method.id, before="never", since="monthly"))
    factories._save(feedback)
    upcoming = factories.make_enrolment(future_run, sara, practice_case="Sannes sag")
    waiting = factories.make_enrolment(future_run, walter, status="waitlisted")
    return {
        "sara": sara,
        "walter": walter,
        "past": past,
        "future_run": future_run,
        "done": done,
        "upcoming": upcoming,
        "waiting": waiting,
        "today": today,
    }


def test_a_coordinator_anonymises_a_leaver_after_typing_the_name(app, client, login_as, coordinator, leaver, tmp_path):
    sara, today = leaver["sara"], leaver["today"]
    sara_id, needles = sara.id, (sara.name, sara.email)
    url = f"/users/{sara_id}/anonymise"
    before = programme_figures(leaver["past"].id, today)
    login_as(coordinator)

    edit_page = client.get(f"/users/{sara_id}/edit").get_data(as_text=True)
    assert url in edit_page
    page = client.get(url).get_data(as_text=True)
    assert "Anonymiseringen kan ikke fortrydes." in page
    assert "1 kommende tilmelding afmeldes" in page

    wrong = post_form(client, url, {"confirm_name": "Sanne"})
    assert wrong.status_code == 200
    assert "Skriv brugerens navn præcis, som det står ovenfor." in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, sara_id).name == "Sanne Søgaard"

    response = post_form(client, url, {"confirm_name": " sanne  SØGAARD "})

    assert response.status_code == 302 and response.headers["Location"].endswith("/users")
    db.session.expire_all()
    sara = db.session.get(User, sara_id)
    assert (sara.name, sara.email, sara.password_hash, sara.calendar_token, sara.active) == (
        "Anonymiseret bruger",
        f"anonymised-{sara_id}@invalid",
        None,
        None,
        False,
    )
    assert sara.staff_role.name == "Sagsbehandler" and sara.unit.name == "Team Amager"  # the statistics
    # The future enrolment was cancelled through the enrolment services: Walter moved up.
    assert db.session.get(Enrolment, leaver["upcoming"].id).status == EnrolmentStatus.CANCELLED
    assert db.session.get(Enrolment, leaver["waiting"].id).status == EnrolmentStatus.CONFIRMED
    # The past run keeps attendance and completion, not her words.
    done = db.session.get(Enrolment, leaver["done"].id)
    assert done.user_id == sara_id and done.note is None and len(done.attendances) == 3
    assert db.session.scalar(select(Feedback.free_text)) is None
    assert programme_figures(leaver["past"].id, today) == before
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.anonymised")).one()
    assert (entry.actor_id, entry.subject_id, entry.object_type, entry.object_id) == (
        coordinator.id,
        sara_id,
        "user",
        sara_id,
    )

    # Nothing names her any more, at once: the notice of the cancellation (she held no course day in her
    # calendar) was withdrawn unsent, not left for a daily job.
    assert find_everywhere(*needles) == set()
    assert not db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_user_id == sara_id)).all()
    # Walter's invitations stay and go out.
    app.config.update(SMTP_URL=None, MAIL_DIR=str(tmp_path))
    assert jobs.send_due_notifications(clock.now()).sent >= 1
    assert db.session.scalar(select(func.count(OutboxMessage.id))) >= 1

    # She can't log in, isn't listed and her page is gone.
    client.post("/logout", data={"csrf_token": _token(client)})
    login = post_form(client, "/login", {"email": "sanne@test.dk", "password": factories.PASSWORD})
    assert login.status_code == 200 and "Forkert e-mail eller adgangskode." in login.get_data(as_text=True)
    login_as(coordinator)
    assert "Anonymiseret bruger" not in client.get("/users").get_data(as_text=True)
    assert client.get(f"/users/{sara_id}/edit").status_code == 404
    assert client.get(url).status_code == 404


def _token(client) -> str:
    from tests.conftest import csrf_token_from

    return csrf_token_from(client.get("/users").get_data(as_text=True))


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_staff_and_providers_may_not(request, client, login_as, leaver, who):
    url = f"/users/{leaver['sara'].id}/anonymise"
    login_as(request.getfixturevalue(who))
    assert client.get(url).status_code == 403
    assert client.post(url, data={"confirm_name": "Sanne Søgaard"}).status_code in (400, 403)
    db.session.expire_all()
    assert db.session.get(User, leaver["sara"].id).name == "Sanne Søgaard"


def test_an_unknown_user_is_404(client, login_as, coordinator):
    login_as(coordinator)
    assert client.get("/users/9999/anonymise").status_code == 404


def test_a_coordinator_cannot_anonymise_themself(client, login_as, coordinator):
    login_as(coordinator)
    url = f"/users/{coordinator.id}/anonymise"
    page = client.get(url).get_data(as_text=True)
    assert "Du kan ikke anonymisere dig selv." in page
    assert 'name="confirm_name"' not in page
    response = post_form(client, url, {"confirm_name": "Karin Koordinator"}, form_url=f"/users/{coordinator.id}/edit")
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(User, coordinator.id).active


def test_the_last_active_coordinator_stays(app, coordinator):
    other = factories.make_user(access_level="coordinator", name="Ole Koordinator", active=False)
    with pytest.raises(DomainError, match="sidste aktive kursuskoordinator"):
        services.anonymise_user(other, coordinator.id, clock.now(), clock.today(), confirm_name=coordinator.name)
    staff = factories.make_user()
    with pytest.raises(NotAllowed):
        services.anonymise_user(staff, coordinator.id, clock.now(), clock.today(), confirm_name=coordinator.name)
    second = factories.make_user(access_level="coordinator", name="Pia Koordinator")
    services.anonymise_user(coordinator, second.id, clock.now(), clock.today(), confirm_name="Pia Koordinator")
    with pytest.raises(DomainError, match="allerede anonymiseret"):
        services.anonymise_user(coordinator, second.id, clock.now(), clock.today(), confirm_name="x")


def test_a_leaver_with_an_anonymised_run_still_counts_once(app, coordinator):
    """Expired run A anonymised while run B of the same programme still names her; then she leaves."""
    programme = factories.make_programme(target_deadline=date(2023, 12, 31), ends_on=date(2023, 12, 31))
    old = factories.make_course_run(
        programme=programme, status=RunStatus.COMPLETED, days=(date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2))
    )
    recent = factories.make_course_run(
        programme=programme, status=RunStatus.COMPLETED, days=(date(2023, 3, 1), date(2023, 3, 2), date(2023, 6, 1))
    )
    bente = factories.make_user(name="Bente Begge", email="bente@test.dk", staff_role=factories.make_staff_role())
    for run in (old, recent):
        _complete(run, bente)
    today = date(2026, 12, 2)
    before = programme_figures(programme.id, today)
    assert before.result.completed == 1

    services.anonymise_expired_runs(datetime(2026, 12, 2, 12, tzinfo=UTC))
    assert db.session.scalar(select(func.count(PersonKey.id))) == 1
    assert programme_figures(programme.id, today) == before
    services.anonymise_user(
        coordinator, bente.id, datetime(2026, 12, 2, 12, tzinfo=UTC), today, confirm_name="Bente Begge"
    )
    db.session.commit()

    assert db.session.scalar(select(func.count(PersonKey.id))) == 0
    keys = set(db.session.scalars(select(Enrolment.person_key)))
    assert len(keys) == 1 and None not in keys
    assert programme_figures(programme.id, today) == before
    # When the recent run expires too, her anonymous row is left with no enrolment at all.
    services.anonymise_expired_runs(datetime(2036, 12, 2, 12, tzinfo=UTC))
    assert db.session.scalar(select(func.count(Enrolment.id)).where(Enrolment.user_id == bente.id)) == 0
    assert db.session.scalar(select(func.count(PersonKey.id))) == 0
    assert programme_figures(programme.id, today) == before


def test_the_cli(runner, coordinator, leaver):
    sara_id = leaver["sara"].id
    refused = runner.invoke(args=["privacy", "anonymise-user", "sanne@test.dk", "--by", "sanne@test.dk", "--yes"])
    assert refused.exit_code != 0 and "Fejl: --by skal være e-mailadressen på en aktiv" in refused.output
    result = runner.invoke(args=["privacy", "anonymise-user", "SANNE@test.dk", "--by", coordinator.email, "--yes"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(User, sara_id).is_anonymised
    again = runner.invoke(args=["privacy", "anonymise-user", "sanne@test.dk", "--by", coordinator.email, "--yes"])
    assert again.exit_code != 0 and "Fejl: Der findes ingen bruger med den e-mailadresse." in again.output
    assert "Error" not in refused.output + again.output


def test_the_cli_asks_in_danish_and_only_ja_goes_ahead(runner, coordinator, leaver):
    """Issue 21: the question, the refusal and the outcome in one language — no click "[y/N]"/"Aborted!"."""
    sara_id = leaver["sara"].id
    args = ["privacy", "anonymise-user", "sanne@test.dk", "--by", coordinator.email]
    no = runner.invoke(args=args, input="n\n")
    assert no.exit_code == 1
    assert f"Anonymisér bruger {sara_id}? Det kan ikke fortrydes. (ja/nej)" in no.output
    assert "Fejl: Afbrudt. Intet er ændret." in no.output
    assert "Aborted" not in no.output and "[y/N]" not in no.output
    db.session.expire_all()
    assert not db.session.get(User, sara_id).is_anonymised
    yes = runner.invoke(args=args, input="ja\n")
    assert yes.exit_code == 0, yes.output
    assert f"Bruger {sara_id} er anonymiseret." in yes.output
    db.session.expire_all()
    assert db.session.get(User, sara_id).is_anonymised


def test_an_open_session_of_the_leaver_ends(app, client, login_as, coordinator, leaver):
    """Deactivated means unauthenticated at the next request (Flask-Login's is_authenticated is is_active)."""
    sara = leaver["sara"]
    login_as(sara)
    assert client.get("/me/courses").status_code == 200
    services.anonymise_user(coordinator, sara.id, clock.now(), clock.today(), confirm_name=sara.name)
    db.session.commit()

    response = client.get("/me/courses")

    assert response.status_code == 302 and "/login" in response.headers["Location"]
