"""The read API through HTTP as a BI or HR system calls it: bearer tokens and scopes, what each operation
answers, cursor pagination, ETags, problem+json errors, the audit of personal data, and statements per page."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry, AuditEntrySubject
from app.courses.models import CourseRun
from app.extensions import db
from app.programmes.dashboard import programme_figures
from app.programmes.models import Programme
from app.scim.models import ScimUser
from tests import factories
from tests.querycount import lazy_loads_raise, recorded_statements

DAYS = (date(2026, 4, 14), date(2026, 4, 15), date(2026, 7, 15))


def get(client, url, headers, **extra):
    return client.get(url, headers={**headers, **extra})


def follow(client, url, headers):
    """Every item of a list, following links.next; and the number of pages."""
    items, pages = [], 0
    while url:
        response = get(client, url, headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        items += body["data"]
        url = body["links"]["next"]
        pages += 1
    return items, pages


def assert_problem(response, status, name=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    if name is not None:
        assert [e["name"] for e in body["errors"]] == [name]
    return body


def reads(action):
    """The audit entries of `action` with the ids of the persons each named."""
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()
    return [
        (
            entry,
            set(db.session.scalars(select(AuditEntrySubject.user_id).where(AuditEntrySubject.entry_id == entry.id))),
        )
        for entry in entries
    ]


@pytest.fixture
def scene(app):
    """A run with two confirmed participants (one present every day: completed; one absent on day 2), one on
    the waiting list and one cancelled; a cancelled run where someone was present every day."""
    programme = factories.make_programme(
        name="Familierådslagning 2026",
        starts_on=date(2026, 1, 1),
        ends_on=date(2027, 12, 31),
        target_deadline=date(2027, 12, 31),
    )
    method = factories.make_method("Signs of Safety")
    run = factories.make_course_run(programme=programme, days=DAYS, capacity=2, title="Forløb A")
    run.methods.append(method)
    done, absent, waiting, gone = (
        factories.make_user(name=name, email=f"{name.lower()}@kommune.dk") for name in ("Anna", "Bo", "Cai", "Dorte")
    )
    e_done = factories.make_enrolment(run, done)
    e_absent = factories.make_enrolment(run, absent)
    factories.make_enrolment(run, waiting, status="waitlisted")
    factories.make_enrolment(run, gone, status="cancelled")
    for day in run.days:
        factories.make_attendance(e_done, day, present=True)
        factories.make_attendance(e_absent, day, present=day.position != 2)
    cancelled_run = factories.make_course_run(programme=programme, days=DAYS, status="cancelled")
    e_cancelled = factories.make_enrolment(cancelled_run, absent)
    for day in cancelled_run.days:
        factories.make_attendance(e_cancelled, day, present=True)
    return {"programme": programme, "run": run, "cancelled_run": cancelled_run, "people": (done, absent, waiting, gone)}


# --------------------------------------------------------------------------------------------------
# Tokens and scopes
# --------------------------------------------------------------------------------------------------


def test_without_a_token_the_api_answers_401_as_a_problem_and_reads_nothing(client, scene):
    response = client.get(f"/api/v1/runs/{scene['run'].id}/participants")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Anna" not in response.get_data(as_text=True)
    assert_problem(get(client, "/api/v1/runs", {"Authorization": "Bearer kp_wrong"}), 401)
    assert reads("participants.api_read") == []


def test_a_token_without_the_scope_is_refused_with_403(client, scene, make_token):
    runs_only = make_token("runs:read")
    assert get(client, "/api/v1/runs", runs_only).status_code == 200
    for url in (f"/api/v1/runs/{scene['run'].id}/participants", "/api/v1/completions", "/api/v1/programmes"):
        assert_problem(get(client, url, runs_only), 403)
    assert reads("participants.api_read") == []


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


def test_a_run_has_its_days_seats_and_status(client, scene, api_headers):
    run = scene["run"]
    body = get(client, f"/api/v1/runs/{run.id}", api_headers).get_json()
    assert body["title"] == "Forløb A" and body["status"] == "published"
    assert body["seats"] == {"capacity": 2, "taken": 2, "available": 0, "waiting": 1}
    assert body["programme"] == {"id": scene["programme"].id, "name": "Familierådslagning 2026"}
    assert [(d["position"], d["kind"], d["date"]) for d in body["days"]] == [
        (1, "teaching", "2026-04-14"),
        (2, "teaching", "2026-04-15"),
        (3, "follow_up", "2026-07-15"),
    ]
    assert body["days"][0]["starts_at"] == "2026-04-14T09:00:00+02:00"  # Copenhagen summer time
    assert_problem(get(client, "/api/v1/runs/999999", api_headers), 404)
    assert_problem(get(client, "/api/v1/runs/99999999999999999999", api_headers), 404)


def test_runs_page_by_cursor_without_repeating_or_skipping(client, api_headers):
    programme = factories.make_programme()
    made = [factories.make_course_run(programme=programme, days=DAYS).id for _ in range(5)]
    other = factories.make_course_run(days=DAYS)
    items, pages = follow(client, f"/api/v1/runs?limit=2&programme_id={programme.id}", api_headers)
    assert [r["id"] for r in items] == made and pages == 3
    assert other.id not in [r["id"] for r in items]
    cancelled = get(client, "/api/v1/runs?status=cancelled", api_headers).get_json()["data"]
    assert cancelled == []


def test_a_tampered_or_foreign_cursor_is_a_400_problem(client, api_headers):
    programme = factories.make_programme()
    for _ in range(3):
        factories.make_course_run(programme=programme, days=DAYS)
    first = get(client, f"/api/v1/runs?limit=1&programme_id={programme.id}", api_headers).get_json()
    next_url = first["links"]["next"]
    cursor = next_url.split("cursor=")[1].split("&")[0]
    assert_problem(get(client, next_url.replace(cursor, cursor[:-2] + "xx"), api_headers), 400, "cursor")
    # The same cursor on another list (no programme filter) is refused too: a position belongs to its list.
    assert_problem(get(client, f"/api/v1/runs?limit=1&cursor={cursor}", api_headers), 400, "cursor")
    assert_problem(get(client, f"/api/v1/programmes?cursor={cursor}", api_headers), 400, "cursor")


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("status=gone", "status"),
        ("programme_id=-1", "programme_id"),
        ("programme_id=1e3", "programme_id"),
        ("status=", "status"),  # sent empty: a 400, never an unfiltered list
        ("programme_id=", "programme_id"),
        ("cursor=", "cursor"),
    ],
)
def test_bad_parameters_are_400_problems_naming_the_parameter(client, api_headers, query, name):
    body = assert_problem(get(client, f"/api/v1/runs?{query}", api_headers), 400, name)
    assert body["errors"][0]["detail"]


def test_an_unknown_parameter_is_a_400_naming_it_not_an_unfiltered_list(client, api_headers):
    """A misspelt filter must not answer every run as if it were the filtered list."""
    factories.make_course_run(days=DAYS)
    body = assert_problem(get(client, "/api/v1/runs?programe_id=1", api_headers), 400, "programe_id")
    assert body["errors"][0]["detail"] == "Ukendt parameter."
    assert_problem(get(client, "/api/v1/completions?cpr=0101701234", api_headers), 400, "cpr")
    assert_problem(client.get("/api/v1/runs?programe_id=1"), 401)  # the token first, then the parameters


def test_the_problem_instance_is_the_path_as_a_uri(client, api_headers):
    body = assert_problem(get(client, "/api/v1/runs/æø", api_headers), 404)
    assert body["instance"] == "/api/v1/runs/%C3%A6%C3%B8"


def test_problems_speak_english_on_request(client, api_headers):
    body = assert_problem(get(client, "/api/v1/runs?limit=0", api_headers, **{"Accept-Language": "en"}), 400)
    assert body["title"] == "Bad request"
    assert body["errors"][0]["detail"] == "Must be a whole number from 1 to 200."


def test_unknown_urls_and_methods_under_the_api_are_problems(client, api_headers):
    assert_problem(get(client, "/api/v1/nothing-here", api_headers), 404)
    response = client.post("/api/v1/runs", headers=api_headers)
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


# --------------------------------------------------------------------------------------------------
# ETags
# --------------------------------------------------------------------------------------------------


def test_etag_answers_304_until_the_data_changes(client, scene, api_headers):
    url = f"/api/v1/runs/{scene['run'].id}"
    first = get(client, url, api_headers)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.headers["Cache-Control"] == "private, no-cache"
    again = get(client, url, api_headers, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    scene["run"].capacity = 3
    db.session.commit()
    changed = get(client, url, api_headers, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["seats"]["capacity"] == 3


# --------------------------------------------------------------------------------------------------
# Participants
# --------------------------------------------------------------------------------------------------


def test_participants_have_status_attendance_and_completion(client, scene, api_headers):
    run = scene["run"]
    items, _pages = follow(client, f"/api/v1/runs/{run.id}/participants", api_headers)
    by_name = {p["person"]["name"]: p for p in items}
    assert {n: p["status"] for n, p in by_name.items()} == {
        "Anna": "confirmed",
        "Bo": "confirmed",
        "Cai": "waitlisted",
        "Dorte": "cancelled",
    }
    assert by_name["Anna"]["completed"] is True
    assert [a["present"] for a in by_name["Anna"]["attendance"]] == [True, True, True]
    assert by_name["Bo"]["completed"] is False
    assert [a["present"] for a in by_name["Bo"]["attendance"]] == [True, False, True]
    assert by_name["Cai"]["waiting_list_position"] == 1
    assert [a["present"] for a in by_name["Cai"]["attendance"]] == [None, None, None]
    assert by_name["Anna"]["person"]["email"] == "anna@kommune.dk"
    assert "note" not in json.dumps(items)
    assert_problem(get(client, "/api/v1/runs/999999/participants", api_headers), 404)


def test_a_page_of_participants_is_one_audit_entry_naming_each_person_on_it(client, scene, api_headers):
    run, people = scene["run"], scene["people"]
    first = get(client, f"/api/v1/runs/{run.id}/participants?limit=3", api_headers).get_json()
    get(client, first["links"]["next"], api_headers)
    entries = reads("participants.api_read")
    assert len(entries) == 2
    (entry1, named1), (entry2, named2) = entries
    assert named1 | named2 == {p.id for p in people} and not named1 & named2
    assert len(named1) == 3 and entry1.object_type == "run" and entry1.object_id == run.id
    assert entry1.details["people"] == 3


def test_a_refused_read_of_participants_logs_nothing(client, scene, api_headers):
    assert get(client, f"/api/v1/runs/{scene['run'].id}/participants?limit=0", api_headers).status_code == 400
    assert reads("participants.api_read") == []


# --------------------------------------------------------------------------------------------------
# Completions
# --------------------------------------------------------------------------------------------------


def test_completions_list_who_was_present_on_every_day_of_a_run_not_cancelled(client, scene, api_headers):
    items, _pages = follow(client, "/api/v1/completions", api_headers)
    assert [(c["person"]["name"], c["run"]["title"]) for c in items] == [("Anna", "Forløb A")]
    completion = items[0]
    assert completion["completed_on"] == "2026-07-15"
    assert completion["methods"] == ["Signs of Safety"]
    assert completion["programme"]["name"] == "Familierådslagning 2026"
    anna = scene["people"][0]
    ((entry, named),) = reads("completions.api_read")
    assert named == {anna.id}


def test_completions_of_one_person_by_email_in_any_case_or_by_id(client, scene, api_headers):
    anna, bo = scene["people"][:2]
    by_email = get(client, "/api/v1/completions?email=ANNA@Kommune.dk", api_headers).get_json()["data"]
    assert [c["person"]["id"] for c in by_email] == [anna.id]
    by_id = get(client, f"/api/v1/completions?person_id={anna.id}", api_headers).get_json()["data"]
    assert by_id == by_email
    assert get(client, f"/api/v1/completions?person_id={bo.id}", api_headers).get_json()["data"] == []
    assert_problem(get(client, "/api/v1/completions?email=not-an-address", api_headers), 400, "email")


def test_completions_by_the_directorys_employee_number(client, scene, api_headers, clock):
    anna = scene["people"][0]
    db.session.add(
        ScimUser(
            scim_id="2b1c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
            user=anna,
            user_name_key=anna.email,
            employee_number="E-1001",
            resource={"userName": anna.email},
            created_at=clock.utcnow(),
            updated_at=clock.utcnow(),
        )
    )
    db.session.commit()
    found = get(client, "/api/v1/completions?employee_number=E-1001", api_headers).get_json()["data"]
    assert [(c["person"]["id"], c["person"]["employee_number"]) for c in found] == [(anna.id, "E-1001")]
    assert get(client, "/api/v1/completions?employee_number=e-1001", api_headers).get_json()["data"] == []
    participants = get(client, f"/api/v1/runs/{scene['run'].id}/participants", api_headers).get_json()["data"]
    numbers = {p["person"]["name"]: p["person"]["employee_number"] for p in participants}
    assert numbers == {"Anna": "E-1001", "Bo": None, "Cai": None, "Dorte": None}
    too_long = "9" * 65
    assert_problem(get(client, f"/api/v1/completions?employee_number={too_long}", api_headers), 400, "employee_number")


def test_an_anonymised_person_has_no_completions(client, scene, api_headers, clock):
    anna = scene["people"][0]
    anna.anonymised_at = clock.now()
    db.session.commit()
    assert get(client, "/api/v1/completions", api_headers).get_json()["data"] == []


# --------------------------------------------------------------------------------------------------
# Programmes
# --------------------------------------------------------------------------------------------------


def test_programme_figures_are_the_dashboards(client, scene, api_headers, clock):
    programme = scene["programme"]
    body = get(client, f"/api/v1/programmes/{programme.id}/figures", api_headers).get_json()
    figures = programme_figures(programme.id, clock.today())
    assert body["result"]["completed"] == figures.result.completed == 1
    assert body["result"]["enrolled"] == figures.result.enrolled
    assert body["activity"]["cancelled"] == figures.activity.cancelled == 1
    assert body["activity"]["status"] == figures.activity.status.value
    assert [r["id"] for r in body["runs"]] == [r.id for r in figures.runs]
    assert body["measured_on"] == clock.today().isoformat()
    listed = get(client, "/api/v1/programmes", api_headers).get_json()["data"]
    assert programme.id in [p["id"] for p in listed]
    assert_problem(get(client, "/api/v1/programmes/999999/figures", api_headers), 404)
    assert reads("participants.api_read") == reads("completions.api_read") == []


# --------------------------------------------------------------------------------------------------
# Rate limit
# --------------------------------------------------------------------------------------------------


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(app, client, api_headers):
    app.config["INTEGRATION_RATE_LIMIT"] = "2 per minute"
    assert get(client, "/api/v1/programmes", api_headers).status_code == 200
    assert get(client, "/api/v1/programmes", api_headers).status_code == 200
    response = get(client, "/api/v1/programmes", api_headers)
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0


# --------------------------------------------------------------------------------------------------
# Statements per page
# --------------------------------------------------------------------------------------------------


def _statements(client, url, headers):
    db.session.commit()
    db.session.expunge_all()
    with recorded_statements() as statements, lazy_loads_raise():
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
    return len(statements), body


@pytest.mark.parametrize("what", ["runs", "participants", "completions"])
def test_statements_per_page_do_not_grow_with_the_rows(client, api_headers, what):
    programme_id = factories.make_programme().id
    run_id = factories.make_course_run(programme=db.session.get(Programme, programme_id), days=DAYS, capacity=200).id
    url = {
        "runs": f"/api/v1/runs?programme_id={programme_id}",
        "participants": f"/api/v1/runs/{run_id}/participants",
        "completions": "/api/v1/completions",
    }[what]
    get(client, url, api_headers)  # the client's first call stamps its last_used_at (once a minute): not per row
    counts, have = {}, 0
    for size in (1, 10, 40):
        for _ in range(size - have):  # the objects are read again: counting empties the session
            if what == "runs":
                factories.make_course_run(programme=db.session.get(Programme, programme_id), days=DAYS)
            else:
                run = db.session.get(CourseRun, run_id)
                enrolment = factories.make_enrolment(run, factories.make_user())
                for day in run.days:
                    factories.make_attendance(enrolment, day, present=True)
        have = size
        counts[size], body = _statements(client, url, api_headers)
        assert len(body["data"]) >= min(size, 40)
    assert len(set(counts.values())) == 1, counts
    assert counts[1] <= 12, counts
