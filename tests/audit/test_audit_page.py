"""The coordinator's audit page: filters, newest first, Danish labels, bad input, a constant query count."""

from __future__ import annotations

from datetime import UTC, datetime

from app.audit.services import record
from app.extensions import db
from tests import factories
from tests.audit.helpers import entries, only, shown_by
from tests.querycount import recorded_statements as count_queries


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_only_coordinators_see_the_log(client, login_as, staff_member, provider_user):
    login_as(staff_member)
    assert client.get("/audit").status_code == 403


def test_newest_first_with_danish_labels_links_and_the_code_of_an_unknown_action(
    client, login_as, coordinator, staff_member
):
    run = factories.make_course_run()
    record(
        "run.cancel",
        actor=coordinator,
        object_type="run",
        object_id=run.id,
        now=at(1),
        details={"fields": ["capacity", "venue"], "days": {"2": ["day"]}},
    )
    record(
        "user.view", actor=coordinator, subject=staff_member, object_type="user", object_id=staff_member.id, now=at(2)
    )
    record("something.new", now=at(3))
    db.session.commit()
    login_as(coordinator)
    html = client.get("/audit").get_data(as_text=True)
    html = html[html.index("<tbody>") :]
    assert html.index("something.new") < html.index("Personoplysninger vist") < html.index("Kursusforløb aflyst")
    assert f'href="/runs/{run.id}"' in html
    assert f'href="/users/{staff_member.id}/edit"' in html
    assert "Systemet" in html  # no actor
    assert "fields: capacity, venue" in html and "days: 2: day" in html
    # The page names people: reading it is a read of them (the reader's own name on it is not).
    viewed = entries()[-1]
    assert (viewed.action, viewed.actor_id, viewed.subject_id) == ("audit.view", coordinator.id, None)
    assert shown_by(viewed) == {staff_member.id}


def test_filters_by_actor_subject_action_group_object_and_period(client, login_as, coordinator, staff_member):
    other = factories.make_user(access_level="coordinator", name="Ole Anden", email="ole@test.dk")
    record("run.cancel", actor=coordinator, object_type="run", object_id=7, now=at(1))
    record("run.publish", actor=other, object_type="run", object_id=8, now=at(5))
    record(
        "enrolment.confirmed",
        actor=staff_member,
        subject=staff_member,
        object_type="enrolment",
        object_id=3,
        now=at(10),
    )
    db.session.commit()
    login_as(coordinator)

    def shown(query: str) -> set[str]:
        html = client.get(f"/audit?{query}").get_data(as_text=True)
        return {code for code in ("run.cancel", "run.publish", "enrolment.confirmed") if f">{code}<" in html}

    assert shown("actor=ole") == {"run.publish"}
    assert shown("actor=koordinator%40test.dk") == {"run.cancel"}
    assert shown("action=run.*") == {"run.cancel", "run.publish"}
    assert shown("action=run.cancel") == {"run.cancel"}
    assert shown("object_type=run&object_id=8") == {"run.publish"}
    assert shown("date_from=2026-11-02&date_to=2026-11-09") == {"run.publish"}
    assert shown("subject=sara") == {"enrolment.confirmed"}
    search = only("audit.search")
    assert (search.actor_id, search.details) == (coordinator.id, {"subject": "sara"})
    assert shown(f"subject_id={staff_member.id}") == {"enrolment.confirmed"}
    assert [e.subject_id for e in entries("audit.search")] == [staff_member.id, staff_member.id]
    shown("subject=test.dk")  # several people match: no one subject
    assert entries("audit.search")[-1].subject_id is None


def test_bad_filter_input_is_a_message_next_to_the_field_never_a_500(client, login_as, coordinator):
    record("run.cancel", actor=coordinator, object_type="run", object_id=7, now=at(1))
    db.session.commit()
    login_as(coordinator)
    for query in (
        "date_from=31-31-2026",
        "object_id=abc",
        "action=nope",
        "object_type=" + "x" * 100,
        "subject_id=-4",
        "date_from=2026-10-09&date_to=2026-10-01",
        "object_id=99999999999999",
        "actor=" + "x" * 300,
    ):
        response = client.get(f"/audit?{query}")
        assert response.status_code == 200, query
        html = response.get_data(as_text=True)
        assert "form-error-message" in html, query
        assert ">run.cancel<" in html, query  # the bad filter is ignored


def test_pagination_and_a_query_count_that_does_not_grow_with_the_rows(client, login_as, coordinator):
    login_as(coordinator)

    def add(n: int) -> None:
        for i in range(n):
            person = factories.make_user(name=f"Person {i}")
            actor = factories.make_user(access_level="coordinator")
            record("user.view", actor=actor, subject=person, object_type="user", object_id=person.id)
        db.session.commit()

    add(3)
    with count_queries() as few:
        assert client.get("/audit").status_code == 200
    add(60)
    with count_queries() as many:
        html = client.get("/audit").get_data(as_text=True)
    assert len(many) == len(few), many
    assert "65 poster" in html  # 63, the coordinator's login and the first look at the page (audit.view)
    assert 'aria-label="Side 2"' in html
    assert client.get("/audit?page=2").status_code == 200
