"""The right of access: a person's data as JSON, and a walk over the foreign keys so no table is forgotten."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from app.audit import data_export
from app.audit.services import record
from app.enrolment import services as enrolment
from app.extensions import db
from app.programmes.feedback_models import EarlierInvolvement, Feedback, FeedbackMethodAnswer, Frequency
from app.reporting.models import ExportDownload, ExportFormat
from tests import factories
from tests.audit.helpers import entries, only

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 1)
DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))


def foreign_keys_leading_to_a_person() -> dict[tuple[str, str], str]:
    """(table, column) -> the table it points at, for every foreign key to users.id or to a table that
    (transitively) refers to a person: enrolments, then what refers to enrolments, and so on."""
    personal, edges = {"users"}, {}
    grew = True
    while grew:
        grew = False
        for table in db.metadata.sorted_tables:
            for fk in table.foreign_keys:
                target = fk.column.table.name
                if target in personal:
                    edges[(table.name, fk.parent.name)] = target
                    if table.name not in personal:
                        personal.add(table.name)
                        grew = True
    return edges


def test_every_table_that_refers_to_a_person_is_in_the_export(app):
    edges = foreign_keys_leading_to_a_person()
    assert edges[("enrolments", "user_id")] == "users" and edges[("feedback", "enrolment_id")] == "enrolments"
    missing = sorted(set(edges) - data_export.covered_keys())
    advice = "\n".join(
        f"  {table}.{column} (points at {edges[(table, column)]}): add to SECTIONS in app/audit/data_export.py\n"
        f'      Section("{table}", "{table}", "{column}"'
        + ("" if edges[(table, column)] == "users" else f', via="{edges[(table, column)]}"')
        + "),   (add owns=False if the rows are not the person's own, e.g. an actor_id)\n"
        f'      or, if another section already exports these rows, ALSO_COVERED[("{table}", "{column}")] = "<why>"'
        for table, column in missing
    )
    assert not missing, f"the right-of-access export does not cover these foreign keys to a person:\n{advice}"


def test_every_section_names_a_real_table_column_and_an_earlier_owner(app):
    edges = foreign_keys_leading_to_a_person()
    owned = {"users"}
    for section in data_export.SECTIONS:
        table = db.metadata.tables.get(section.table)
        assert table is not None, section
        assert section.column in table.c, section
        assert edges.get(section.key) == section.via, f"{section.name}: {section.key} -> {edges.get(section.key)}"
        assert section.via in owned, f"{section.name}: {section.via} must be owned by an earlier section"
        assert section.omit <= {c.name for c in table.c}, section
        if section.owns:
            owned.add(section.table)
    stale = set(data_export.ALSO_COVERED) - set(edges)
    assert not stale, f"ALSO_COVERED names foreign keys that no longer exist: {stale}"


def _a_full_history(coordinator):
    run = factories.make_course_run(days=DAYS, enrolment_deadline=date(2026, 4, 1))
    (person,) = factories.make_eligible_staff(run, 1, name="Sara Sagsbehandler", email="sara@test.dk")
    person.calendar_token = "hemmelig-token-123"  # noqa: S105 (a test value)
    mine = enrolment.enrol(person, run.id, person, NOW, TODAY, note="Vegetar")
    db.session.commit()
    attendance = factories.make_attendance(mine, run.days[0], recorded_by_id=coordinator.id)
    method = factories.make_method()
    feedback = Feedback(enrolment_id=mine.id, earlier_involvement=EarlierInvolvement.YES, free_text="Godt kursus")
    feedback.answers.append(FeedbackMethodAnswer(method_id=method.id, before=Frequency.NEVER, since=Frequency.WEEKLY))
    db.session.add_all(
        [feedback, ExportDownload(course_run_id=run.id, user_id=person.id, format=ExportFormat.CSV, person_count=1)]
    )
    record("user.view", actor=coordinator, subject=person, object_type="user", object_id=person.id, now=NOW)
    db.session.commit()
    return run, person, mine, attendance


def test_my_data_holds_every_section_with_iso_dates_and_no_secrets(client, login_as, coordinator):
    run, person, mine, _attendance = _a_full_history(coordinator)
    login_as(person)
    response = client.get("/me/data.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="kursusportalen-data-')
    assert response.headers["Cache-Control"] == "no-store, private"
    raw = response.get_data(as_text=True)
    data = json.loads(raw)

    assert set(data) >= {section.name for section in data_export.SECTIONS} | {"person", "generated_at"}
    person_row = data["person"]
    assert (person_row["name"], person_row["email"]) == ("Sara Sagsbehandler", "sara@test.dk")
    assert person_row["password_hash"] == "set" and person_row["calendar_token"] == "set"
    assert "hemmelig-token" not in raw and "pbkdf2" not in raw

    (row,) = data["enrolments"]
    assert (row["id"], row["note"], row["status"]) == (mine.id, "Vegetar", "confirmed")
    assert row["run"]["title"] == run.title
    assert [d["day"] for d in row["run"]["days"]] == [d.isoformat() for d in DAYS]
    assert datetime.fromisoformat(row["status_changed_at"]) == NOW
    assert [e["kind"] for e in data["enrolment_events"]] == ["confirmed"]
    assert len(data["attendance"]) == 1 and len(data["calendar_invitations"]) == 3
    assert data["feedback"][0]["free_text"] == "Godt kursus" and len(data["feedback_answers"]) == 1
    assert data["mails"] and all("message" not in m and m["subject"] for m in data["mails"])
    assert len(data["participant_list_downloads"]) == 1
    # the login just made is audited too (app.accounts.signin.credentials)
    assert [e["action"] for e in data["audit_about_me"]] == ["enrolment.confirmed", "user.view", "auth.login"]
    lookup = data["audit_about_me"][1]
    assert (lookup["action"], lookup["actor_name"], lookup["action_label"]) == (
        "user.view",
        "Karin Koordinator",
        "Personoplysninger vist",
    )
    assert "ip_address" not in lookup
    assert [e["action"] for e in data["audit_by_me"]] == ["enrolment.confirmed", "auth.login"]
    assert entries("user.data_export") == []  # your own data: no lookup


def test_a_coordinator_downloads_anyones_data_and_that_is_logged_and_in_the_file(client, login_as, coordinator):
    _run, person, _mine, attendance = _a_full_history(coordinator)
    login_as(coordinator)
    response = client.get(f"/users/{person.id}/data.json")
    assert response.status_code == 200
    data = response.get_json()
    export = only("user.data_export")
    assert (export.actor_id, export.subject_id) == (coordinator.id, person.id)
    assert [e["action"] for e in data["audit_about_me"]] == ["enrolment.confirmed", "user.view", "user.data_export"]
    # The coordinator's own file shows the attendance they recorded for others.
    own = client.get("/me/data.json").get_json()
    assert [a["id"] for a in own["attendance_recorded_by_me"]] == [attendance.id]


def test_only_coordinators_download_someone_elses_data(client, login_as, staff_member, coordinator):
    login_as(staff_member)
    assert client.get(f"/users/{coordinator.id}/data.json").status_code == 403
    assert client.get("/users/999999/data.json").status_code == 403


def test_anonymous_users_are_sent_to_the_login(client):
    response = client.get("/me/data.json")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
