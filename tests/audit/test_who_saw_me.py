"""Who saw my data: every read entry names the persons its page showed (audit_entry_subjects), and the
person's own file and the audit page's person filter answer "who saw me, when, on which page"."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select

from app.accounts.models import AccessLevel, User
from app.audit.models import AuditEntrySubject
from app.audit.queries import reads_of
from app.audit.services import AuditLogIsAppendOnly, purge_expired, record_read
from app.core import clock
from app.extensions import db
from app.programmes.feedback_models import EarlierInvolvement, Feedback
from tests import factories
from tests.audit.helpers import entries, only, shown_by
from tests.conftest import csrf_token_from
from tests.querycount import recorded_statements

DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))


def _log_out(client, page: str = "/account") -> None:
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get(page).get_data(as_text=True))})


@pytest.fixture
def run_with_sara(fic_provider, staff_member):
    run = factories.make_course_run(provider=fic_provider, days=DAYS, title="Forløb A")
    (other,) = factories.make_eligible_staff(run, 1, name="Ole Olsen", email="ole@test.dk")
    sara = factories.make_enrolment(run, staff_member)
    factories.make_enrolment(run, other)
    db.session.commit()
    return run, other, sara


def test_the_participant_list_names_each_person_shown_and_they_can_see_who_looked(
    client, login_as, coordinator, provider_user, staff_member, run_with_sara
):
    run, other, _sara = run_with_sara
    login_as(provider_user)
    assert client.get(f"/runs/{run.id}").status_code == 200
    _log_out(client)
    login_as(coordinator)
    assert client.get(f"/runs/{run.id}/participants.csv").status_code == 200
    _log_out(client)

    # Sara's own file: who saw her, when, on which page (the action's label and the run).
    login_as(staff_member)
    data = client.get("/me/data.json").get_json()
    seen = [
        (r["actor_name"], r["action"], r["action_label"], r["object_type"], r["object_id"]) for r in data["seen_by"]
    ]
    assert seen == [
        ("Frida FIC", "participants.view", "Deltagerliste vist", "run", run.id),
        ("Karin Koordinator", "participants.export", "Deltagerliste hentet", "run", run.id),
    ]
    assert all(r["occurred_at"] and "ip_address" not in r and "user_id" not in r for r in data["seen_by"])

    # The same answer in one indexed query, newest first; and Ole was on the same lists.
    assert [(e.action, e.actor_id) for e in reads_of(staff_member.id)] == [
        ("participants.export", coordinator.id),
        ("participants.view", provider_user.id),
    ]
    assert [e.action for e in reads_of(other.id)] == ["participants.export", "participants.view"]


def test_the_audit_page_filtered_by_a_person_lists_the_pages_that_showed_them(
    client, login_as, coordinator, provider_user, staff_member, run_with_sara
):
    run, _other, _sara = run_with_sara
    login_as(provider_user)
    client.get(f"/runs/{run.id}")
    _log_out(client)
    login_as(coordinator)
    html = client.get(f"/audit?subject_id={staff_member.id}").get_data(as_text=True)
    html = html[html.index("<tbody>") :]
    assert "Deltagerliste vist" in html and "Frida FIC" in html
    assert "Sara Sagsbehandler var blandt de viste personer" in html
    html = client.get("/audit?subject=ole+olsen").get_data(as_text=True)  # by name: the same entry
    assert "Deltagerliste vist" in html[html.index("<tbody>") :]


def test_the_pdf_names_the_confirmed_the_csv_everyone_in_it(client, login_as, coordinator, fic_provider):
    run = factories.make_course_run(provider=fic_provider, days=DAYS)
    confirmed, waiting = factories.make_eligible_staff(run, 2)
    factories.make_enrolment(run, confirmed)
    factories.make_enrolment(run, waiting, status="waitlisted")
    login_as(coordinator)
    client.get(f"/runs/{run.id}/participants.pdf")
    client.get(f"/runs/{run.id}/participants.csv")
    pdf, csv = entries("participants.export")
    assert (shown_by(pdf), shown_by(csv)) == ({confirmed.id}, {confirmed.id, waiting.id})


def test_a_providers_feedback_page_shows_no_names_but_logs_whose_words_it_showed(
    client, login_as, coordinator, provider_user, staff_member, run_with_sara
):
    run, _other, enrolment = run_with_sara
    db.session.add(Feedback(enrolment=enrolment, earlier_involvement=EarlierInvolvement.YES, free_text="Godt kursus"))
    db.session.commit()
    login_as(provider_user)
    html = client.get(f"/runs/{run.id}/feedback").get_data(as_text=True)
    assert "Godt kursus" in html and "Sara" not in html
    entry = only("feedback.view")
    assert (entry.actor_id, entry.object_id, shown_by(entry)) == (provider_user.id, run.id, {staff_member.id})


def test_an_enrolments_history_names_the_person_and_whoever_acted_on_it(client, login_as, coordinator, fic_provider):
    from app.enrolment import services as enrolment

    run = factories.make_course_run(provider=fic_provider, days=DAYS, enrolment_deadline=date(2026, 4, 1))
    (person,) = factories.make_eligible_staff(run, 1)
    colleague = factories.make_user(access_level="coordinator", name="Conni Kollega", email="conni@test.dk")
    mine = enrolment.enrol(colleague, run.id, person, clock.utcnow(), clock.today())
    db.session.commit()
    login_as(coordinator)
    html = client.get(f"/enrolments/{mine.id}/history").get_data(as_text=True)
    assert "Conni Kollega" in html
    assert shown_by(only("enrolment.view")) == {person.id, colleague.id}


def test_a_coordinators_download_of_a_persons_file_names_the_people_in_it(
    client, login_as, coordinator, provider_user, staff_member, run_with_sara
):
    run, _other, _sara = run_with_sara
    login_as(provider_user)
    client.get(f"/runs/{run.id}")
    _log_out(client)
    login_as(coordinator)
    data = client.get(f"/users/{staff_member.id}/data.json").get_json()
    assert "Frida FIC" in {r["actor_name"] for r in data["seen_by"]}
    export = only("user.data_export")
    assert shown_by(export) == {staff_member.id, provider_user.id}  # not the coordinator: their own name
    assert data["seen_by"][-1]["action"] == "user.data_export"  # the download itself is in the file


def test_a_list_of_only_yourself_logs_nothing(client, login_as, coordinator):
    login_as(coordinator)
    client.get("/audit")  # names only the coordinator's own login
    assert entries("audit.view") == []


def test_two_thousand_people_are_one_insert_and_who_saw_one_of_them_is_one_query(app):
    db.session.execute(
        insert(User),
        [{"name": f"Person {i}", "email": f"p{i}@test.dk", "access_level": AccessLevel.STAFF} for i in range(2000)],
    )
    ids = list(db.session.scalars(select(User.id).order_by(User.id)))
    with app.test_request_context("/"), recorded_statements() as statements:
        entry = record_read("participants.view", object_type="run", object_id=1, shown=ids)
    assert [s.split()[2] for s in statements] == ["audit_entries", "audit_entry_subjects"]  # two INSERTs
    assert len(shown_by(entry)) == 2000
    with recorded_statements() as statements:
        assert reads_of(ids[1234]) == [entry]
    assert len(statements) == 1


def test_the_persons_shown_are_append_only_and_leave_with_their_entry(app):
    person = factories.make_user()
    with app.test_request_context("/"):
        record_read("user.view", subject=person)
    db.session.commit()
    link = db.session.scalars(select(AuditEntrySubject)).one()
    db.session.delete(link)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    app.config["AUDIT_RETENTION_DAYS"] = 1
    assert purge_expired(clock.utcnow().replace(year=clock.utcnow().year + 1)) >= 1
    assert db.session.scalars(select(AuditEntrySubject)).all() == []
