"""Leader approval of enrolments (issue 24), through HTTP as the staff member, the leader and the coordinator
reach it: the request goes to the person's leader(s) by mail, "Godkendelser" lists their staff's requests
with dates and cost, approve/reject with a reason (the person is told), the leader-then-coordinator chain,
the fall-back to the coordinator for a person without a leader, the coordinator deciding in the leader's
place, expiry at the enrolment deadline (job), the seat rule, audit, and access (404 for others)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.enrolment import services
from app.enrolment.models import Enrolment, EnrolmentEvent, EnrolmentStatus, EventKind
from app.extensions import db
from app.notifications.models import CalendarInvitation, OutboxMessage
from scheduler import jobs
from tests import factories
from tests.conftest import post_form
from tests.enrolment.spring import DAYS, NOW, TODAY

pytestmark = pytest.mark.usefixtures("spring")


@pytest.fixture
def world(app, fic_provider):
    """A centre led by Lene; its team (no leader of its own) with two staff members; another centre led by
    Ole with one; a run needing the leader's approval, two seats, 1.250 kr."""
    centre, other_centre = factories.make_unit("Socialcenter Amager"), factories.make_unit("Socialcenter Nord")
    team = factories.make_unit("Familieteam Amager", parent=centre)
    run = factories.make_course_run(
        provider=fic_provider,
        days=DAYS,
        capacity=2,
        enrolment_deadline=date(2026, 4, 1),
        title="Hold A",
        price_ore=125_000,
        requires_leader_approval=True,
    )
    role = factories.make_staff_role()
    run.eligible_roles.append(role)
    db.session.commit()
    lene = factories.make_user(name="Lene Leder", email="lene@test.dk", staff_role=role, unit=centre)
    ole = factories.make_user(name="Ole Overleder", email="ole@test.dk", staff_role=role, unit=other_centre)
    factories.make_leader(centre, lene)
    factories.make_leader(other_centre, ole)
    a = factories.make_user(name="Anna Andersen", email="anna@test.dk", staff_role=role, unit=team)
    b = factories.make_user(name="Bo Bech", email="bo@test.dk", staff_role=role, unit=team)
    c = factories.make_user(name="Carl Clausen", email="carl@test.dk", staff_role=role, unit=other_centre)
    return {"run": run, "lene": lene, "ole": ole, "a": a, "b": b, "c": c, "team": team, "centre": centre}


def html(response) -> str:
    return response.get_data(as_text=True)


def fresh(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def enrol_self(client, login_as, user, run):
    """The person's own enrolment (setting a scene; the HTTP path is the first test's)."""
    services.enrol(user, run.id, user, NOW, TODAY)
    db.session.commit()


def request_of(user, run) -> Enrolment:
    db.session.expire_all()
    return db.session.scalars(select(Enrolment).filter_by(user_id=user.id, course_run_id=run.id)).one()


def mails_to(user, kind=None) -> list[tuple[str, str]]:
    """(subject, plain text) of the outbox rows to `user` (of `kind`)."""
    query = select(OutboxMessage).filter_by(recipient_user_id=user.id).order_by(OutboxMessage.id)
    if kind:
        query = query.filter_by(kind=kind)
    result = []
    for row in db.session.scalars(query):
        msg = message_from_bytes(row.message, policy=policy.default)
        text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
        result.append((row.subject, text))
    return result


def decide(client, enrolment, decision, reason="", **kwargs):
    prefix = f"e{enrolment.id}"
    return post_form(
        client,
        f"/approvals/{enrolment.id}",
        {f"{prefix}-decision": decision, f"{prefix}-reason": reason},
        form_url="/approvals",
        **kwargs,
    )


def test_request_goes_to_the_leader_by_mail_and_onto_their_page(client, login_as, world):
    run, a, lene = world["run"], world["a"], world["lene"]
    login_as(a)
    assert "Din leder skal godkende din tilmelding, før du får en plads." in html(client.get(f"/runs/{run.id}"))
    response = post_form(client, f"/runs/{run.id}/enrol", {}, form_url=f"/runs/{run.id}", follow_redirects=True)
    assert "afventer godkendelse fra din leder" in html(response)
    assert "Tilmeldingen afventer din leders godkendelse." in html(client.get("/me/courses"))
    e = request_of(a, run)
    assert (e.status, e.awaits_leader, fresh(run).seats_taken) == (EnrolmentStatus.REQUESTED, True, 0)
    # the leader (by inheritance: Lene leads the centre above Anna's team) is asked, with a link
    (subject, text) = mails_to(lene, "approval_request")[0]
    assert subject == "Godkend tilmelding: Anna Andersen, Hold A"
    assert "/approvals" in text and "1. april 2026" in text
    assert "Kursusforløbets pris: 1.250 kr. for hele forløbet (625 kr. pr. plads)." in text
    # the person is told it waits for the leader (not the coordinator)
    (subject, text) = mails_to(a, "requested")[0]
    assert "Din leder skal godkende den" in text and "Kursuskoordinatoren" not in text
    # no calendar before a seat
    assert db.session.scalar(select(CalendarInvitation).filter_by(enrolment_id=e.id)) is None

    login_as(lene)
    page = html(client.get("/me/courses"))
    assert 'href="/approvals"' in page  # "Godkendelser" in the menu for leaders
    page = html(client.get("/approvals"))
    assert "Anna Andersen: Hold A" in page
    assert (
        "1.250 kr. for hele forløbet (625 kr. pr. plads)" in page
        and "tirsdag 14. april 2026" in page
        and "Familieteam Amager" in page
    )
    entry = db.session.scalars(select(AuditEntry).filter_by(action="approval.list")).one()
    assert entry.details["requests"] == 1


def test_leader_approves_with_a_reason_the_person_gets_the_seat_and_is_told(client, login_as, world):
    run, a, lene = world["run"], world["a"], world["lene"]
    enrol_self(client, login_as, a, run)
    e = request_of(a, run)
    login_as(lene)
    response = decide(client, e, "approve", "God idé – husk vikar.", follow_redirects=True)
    assert "Tilmeldingen fra Anna Andersen er godkendt, og der er en plads." in html(response)
    e = fresh(e)
    assert (e.status, e.awaits_leader, fresh(run).seats_taken) == (EnrolmentStatus.CONFIRMED, False, 1)
    (subject, text) = mails_to(a, "approval_decision")[0]
    assert subject == "Tilmelding godkendt: Hold A" and "God idé – husk vikar." in text
    assert db.session.scalar(select(CalendarInvitation).filter_by(enrolment_id=e.id, active=True)) is not None
    event = db.session.scalars(select(EnrolmentEvent).filter_by(enrolment_id=e.id).order_by(EnrolmentEvent.id)).all()
    assert [(ev.kind, ev.actor_id) for ev in event] == [(EventKind.REQUESTED, a.id), (EventKind.APPROVED, lene.id)]
    audit = db.session.scalars(select(AuditEntry).filter_by(action="enrolment.approved", object_id=e.id)).one()
    assert audit.actor_id == lene.id
    assert "Anna Andersen" not in html(client.get("/approvals"))  # decided: off the list


def test_leader_rejects_with_a_reason_the_person_is_told(client, login_as, world):
    run, a, lene = world["run"], world["a"], world["lene"]
    enrol_self(client, login_as, a, run)
    e = request_of(a, run)
    login_as(lene)
    response = decide(client, e, "reject", "Ikke i år.", follow_redirects=True)
    assert "Tilmeldingen fra Anna Andersen er afvist." in html(response)
    assert fresh(e).status == EnrolmentStatus.REJECTED
    (subject, text) = mails_to(a, "approval_decision")[0]
    assert subject == "Tilmelding afvist: Hold A"
    assert "Din leder har afvist" in text and "Ikke i år." in text
    assert mails_to(a, "rejected") == []  # not the coordinator's rejection text
    assert (
        db.session.scalars(select(AuditEntry).filter_by(action="enrolment.leader_rejected")).one().actor_id == lene.id
    )


def test_full_run_approval_puts_the_person_on_the_waiting_list(client, login_as, world):
    run, a, b, lene = world["run"], world["a"], world["b"], world["lene"]
    run.capacity = 1
    db.session.commit()
    enrol_self(client, login_as, a, run)
    enrol_self(client, login_as, b, run)
    login_as(lene)
    decide(client, request_of(a, run), "approve")
    response = decide(client, request_of(b, run), "approve", follow_redirects=True)
    assert "så Bo Bech er sat på ventelisten" in html(response)
    assert request_of(a, run).status == EnrolmentStatus.CONFIRMED
    assert request_of(b, run).status == EnrolmentStatus.WAITLISTED
    assert fresh(run).seats_taken == 1


def test_leader_then_coordinator(client, login_as, world, coordinator):
    run, a, lene = world["run"], world["a"], world["lene"]
    run.requires_approval = True
    db.session.commit()
    enrol_self(client, login_as, a, run)
    e = request_of(a, run)
    login_as(lene)
    response = decide(client, e, "approve", follow_redirects=True)
    assert "venter nu på kursuskoordinatoren" in html(response)
    e = fresh(e)
    assert (e.status, e.awaits_leader, fresh(run).seats_taken) == (EnrolmentStatus.REQUESTED, False, 0)
    (subject, text) = mails_to(a, "approval_decision")[0]
    assert "Nu skal kursuskoordinatoren godkende den" in text
    assert db.session.scalar(select(CalendarInvitation).filter_by(enrolment_id=e.id)) is None
    login_as(coordinator)
    post_form(client, f"/enrolments/{e.id}/approve", {}, form_url=f"/runs/{run.id}")
    assert fresh(e).status == EnrolmentStatus.CONFIRMED


def test_a_person_without_a_leader_waits_for_the_coordinator(client, login_as, world, coordinator):
    run = world["run"]
    role = run.eligible_roles[0]
    loner = factories.make_user(name="Lis Ledig", email="lis@test.dk", staff_role=role, unit=None)
    login_as(loner)
    response = post_form(client, f"/runs/{run.id}/enrol", {}, form_url=f"/runs/{run.id}", follow_redirects=True)
    assert "afventer godkendelse fra kursuskoordinatoren" in html(response)
    e = request_of(loner, run)
    assert (e.status, e.awaits_leader) == (EnrolmentStatus.REQUESTED, False)
    assert "Kursuskoordinatoren skal godkende den" in mails_to(loner, "requested")[0][1]
    assert db.session.scalar(select(OutboxMessage).filter_by(kind="approval_request")) is None


def test_a_leader_does_not_approve_their_own_request(client, login_as, world):
    run, lene = world["run"], world["lene"]
    login_as(lene)
    post_form(client, f"/runs/{run.id}/enrol", {}, form_url=f"/runs/{run.id}")
    e = request_of(lene, run)
    assert not e.awaits_leader  # no other leader above her: the coordinator decides
    assert decide(client, e, "approve").status_code == 404


def test_the_coordinator_decides_in_the_leaders_place(client, login_as, world, coordinator):
    run, a, lene = world["run"], world["a"], world["lene"]
    enrol_self(client, login_as, a, run)
    e = request_of(a, run)
    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}"))
    assert "Afventer lederen; du kan beslutte i lederens sted." in page
    post_form(client, f"/enrolments/{e.id}/approve", {}, form_url=f"/runs/{run.id}")
    assert fresh(e).status == EnrolmentStatus.CONFIRMED
    login_as(lene)
    assert "Anna Andersen" not in html(client.get("/approvals"))
    response = decide(client, e, "reject", follow_redirects=True)
    assert "Anmodningen er allerede besluttet eller bortfaldet." in html(response)
    assert fresh(e).status == EnrolmentStatus.CONFIRMED


def test_a_leader_sees_and_decides_only_their_staffs_requests(client, login_as, world):
    run, a, c, ole = world["run"], world["a"], world["c"], world["ole"]
    enrol_self(client, login_as, a, run)
    enrol_self(client, login_as, c, run)
    login_as(ole)
    page = html(client.get("/approvals"))
    assert "Carl Clausen" in page and "Anna Andersen" not in page
    anna = request_of(a, run)
    token_page = client.get("/approvals")
    assert token_page.status_code == 200
    response = decide(client, anna, "approve")
    assert response.status_code == 404
    assert request_of(a, run).status == EnrolmentStatus.REQUESTED
    # a staff member who leads nobody: no page, no menu item
    login_as(world["b"])
    assert client.get("/approvals").status_code == 404
    assert 'href="/approvals"' not in html(client.get("/me/courses"))


def test_a_too_long_reason_is_shown_next_to_the_field_and_changes_nothing(client, login_as, world):
    run, a, lene = world["run"], world["a"], world["lene"]
    enrol_self(client, login_as, a, run)
    e = request_of(a, run)
    login_as(lene)
    response = decide(client, e, "reject", "x" * 501)
    assert response.status_code == 400
    assert "højst 500 tegn" in html(response).lower()
    assert f'id="e{e.id}-reason"' in html(response) and 'aria-invalid="true"' in html(response)
    assert fresh(e).status == EnrolmentStatus.REQUESTED
    response = decide(client, e, "maybe")
    assert response.status_code == 400 and "Vælg Godkend eller Afvis." in html(response)
    assert fresh(e).status == EnrolmentStatus.REQUESTED


def test_a_json_body_decides_too(client, login_as, world):
    run, a, lene = world["run"], world["a"], world["lene"]
    enrol_self(client, login_as, a, run)
    e = request_of(a, run)
    login_as(lene)
    from tests.conftest import csrf_token_from

    token = csrf_token_from(html(client.get("/approvals")))
    response = client.post(
        f"/approvals/{e.id}",
        json={f"e{e.id}-decision": "approve", f"e{e.id}-reason": ""},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 302
    assert fresh(e).status == EnrolmentStatus.CONFIRMED


def test_pending_requests_expire_when_enrolment_closes(client, login_as, world, coordinator):
    run, a, lene = world["run"], world["a"], world["lene"]
    enrol_self(client, login_as, a, run)
    e = request_of(a, run)
    on_deadline = datetime(2026, 4, 1, 20, 0, tzinfo=UTC)  # 22:00 in Copenhagen on the deadline: still open
    assert jobs.expire_approval_requests(on_deadline) == 0
    after = datetime(2026, 4, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2 April in Copenhagen: closed
    assert jobs.expire_approval_requests(after) == 1
    e = fresh(e)
    assert (e.status, e.awaits_leader) == (EnrolmentStatus.REJECTED, False)
    assert "er bortfaldet" in mails_to(a, "approval_expired")[0][1]
    assert "Anna Andersen" in mails_to(lene, "approval_expired")[0][1]
    assert db.session.scalars(select(AuditEntry).filter_by(action="enrolment.expired")).one().actor_id is None
    assert jobs.expire_approval_requests(after) == 0  # once


def test_a_request_waiting_for_the_coordinator_does_not_expire(client, login_as, world):
    run, a, lene = world["run"], world["a"], world["lene"]
    run.requires_approval = True
    db.session.commit()
    enrol_self(client, login_as, a, run)
    login_as(lene)
    decide(client, request_of(a, run), "approve")
    assert jobs.expire_approval_requests(datetime(2026, 4, 3, tzinfo=UTC)) == 0
    assert request_of(a, run).status == EnrolmentStatus.REQUESTED


def test_the_run_form_sets_leader_approval(client, login_as, world, coordinator):
    run = world["run"]
    login_as(coordinator)
    page = html(client.get(f"/runs/{run.id}/edit"))
    (tag,) = re.findall(r"<input[^>]*name=\"requires_leader_approval\"[^>]*>", page)
    assert "checked" in tag
