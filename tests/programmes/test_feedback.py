"""Follow-up-day feedback: who may answer (present on the follow-up day only), once per enrolment and editable
until the programme closes, only one's own, CSRF and errors next to the fields, the aggregates on hand-made
data, the provider's anonymised view, access to the aggregate pages, and a statement count independent of the
number of responses."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.courses.models import RunStatus
from app.extensions import db
from app.programmes import feedback
from app.programmes.feedback_models import Feedback, FeedbackMethodAnswer
from tests import factories
from tests.conftest import post_form
from tests.querycount import recorded_statements

DAYS = (date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2))
LATE_DAYS = (date(2009, 10, 6), date(2009, 10, 7), date(2010, 1, 7))
AFTER_FOLLOW_UP = date(2009, 2, 1)
NOW = datetime(2009, 2, 1, 10, 0, tzinfo=UTC)
CLOSES = date(2010, 6, 30)  # the programme's last day; its target deadline is the end of 2009


@pytest.fixture
def today(monkeypatch):
    """The views' clock: `today.value` is the date they see."""

    class State:
        value = AFTER_FOLLOW_UP

    monkeypatch.setattr("app.core.clock.today", lambda: State.value)
    return State


@pytest.fixture
def methods(app):
    return factories.make_method("Familierådslagning"), factories.make_method("Signs of Safety")


@pytest.fixture
def programme(app):
    return factories.make_programme(name="Styrket forældreansvar", ends_on=CLOSES)


@pytest.fixture
def run(app, programme, fic_provider, methods):
    run = factories.make_course_run(programme=programme, provider=fic_provider, days=DAYS, title="Forløb A")
    run.methods.extend(methods)
    db.session.commit()
    return run


def attend(run, user, *, follow_up: bool | None = True):
    """Enrol `user`, present on the teaching days; on the follow-up day present / absent / not recorded (None)."""
    enrolment = factories.make_enrolment(run, user)
    for day in run.days[:2]:
        factories.make_attendance(enrolment, day, present=True)
    if follow_up is not None:
        factories.make_attendance(enrolment, run.days[2], present=follow_up)
    return enrolment


def answer(enrolment, earlier="yes", text=None, **per_method):
    """Save feedback through the service: per_method maps method id -> (before, since)."""
    answers = {m.id: per_method.get(f"m{m.id}", ("rarely", "weekly")) for m in enrolment.run.methods}
    fb = feedback.save_feedback(
        enrolment, answers=answers, earlier=earlier, free_text=text, now=NOW, today=AFTER_FOLLOW_UP
    )
    db.session.commit()
    return fb


def form_data(run, earlier="yes", text="", before="never", since="weekly") -> dict:
    data = {"earlier_involvement": earlier, "free_text": text}
    for m in run.methods:
        data[f"m{m.id}_before"], data[f"m{m.id}_since"] = before, since
    return data


def url(enrolment) -> str:
    return f"/me/feedback/{enrolment.id}"


# --- who may answer ------------------------------------------------------------------------------------------


def test_eligible_only_when_present_on_a_follow_up_day_that_has_taken_place(run, staff_member):
    others = [factories.make_user() for _ in range(3)]
    present = attend(run, staff_member)
    absent = attend(run, others[0], follow_up=False)
    not_recorded = attend(run, others[1], follow_up=None)
    cancelled = factories.make_enrolment(run, others[2], status="cancelled")
    assert feedback.eligibility(present, AFTER_FOLLOW_UP) == feedback.Eligibility.ELIGIBLE
    assert feedback.eligibility(present, DAYS[2].replace(day=1)) == feedback.Eligibility.NOT_YET
    assert feedback.eligibility(absent, AFTER_FOLLOW_UP) == feedback.Eligibility.ABSENT
    assert feedback.eligibility(not_recorded, AFTER_FOLLOW_UP) == feedback.Eligibility.NOT_RECORDED
    assert feedback.eligibility(cancelled, AFTER_FOLLOW_UP) == feedback.Eligibility.NOT_PARTICIPANT
    with pytest.raises(feedback.DomainError):
        answer(absent)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Feedback.id))) == 0


def test_a_participant_who_missed_the_follow_up_day_gets_a_clear_page_and_cannot_post(
    client, login_as, run, staff_member, today
):
    enrolment = attend(run, staff_member, follow_up=False)
    login_as(staff_member)
    page = client.get(url(enrolment))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Kun deltagere, der var til stede på opfølgningsdagen, kan give tilbagemelding." in html
    assert '<form method="post" novalidate>' not in html
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/me/courses").get_data(as_text=True))
    response = client.post(url(enrolment), data={"csrf_token": token.group(1) if token else "", **form_data(run)})
    assert response.status_code == 200
    assert db.session.scalar(select(func.count(Feedback.id))) == 0


def test_before_the_follow_up_day_the_page_says_when(client, login_as, run, staff_member, today):
    enrolment = attend(run, staff_member, follow_up=None)
    today.value = date(2008, 12, 1)
    login_as(staff_member)
    html = client.get(url(enrolment)).get_data(as_text=True)
    assert "når kursusforløbets opfølgningsdag har fundet sted" in html


# --- answering: once, edit, own only, closed, CSRF, bad input ---------------------------------------------------


def test_answer_once_then_a_second_post_edits_the_same_row(client, login_as, run, staff_member, methods, today):
    enrolment = attend(run, staff_member)
    login_as(staff_member)
    courses = client.get("/me/courses").get_data(as_text=True)
    assert "Giv tilbagemelding" in courses and url(enrolment) in courses
    response = post_form(client, url(enrolment), form_data(run, text="Godt kursus"))
    assert response.status_code == 302
    fb = db.session.scalar(select(Feedback))
    first_id, submitted = fb.id, fb.submitted_at
    assert fb.free_text == "Godt kursus" and len(fb.answers) == 2
    assert "Ret tilbagemelding" in client.get("/me/courses").get_data(as_text=True)
    page = client.get(url(enrolment)).get_data(as_text=True)
    assert "Godt kursus" in page and "Ret tilbagemelding" in page
    assert re.search(rf'<input checked[^>]*name="m{methods[0].id}_since"[^>]*value="weekly"', page)
    response = post_form(client, url(enrolment), form_data(run, earlier="partly", before="monthly", text=""))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Feedback.id))) == 1
    assert db.session.scalar(select(func.count(FeedbackMethodAnswer.id))) == 2
    fb = db.session.scalar(select(Feedback))
    assert fb.id == first_id and fb.submitted_at == submitted
    assert str(fb.earlier_involvement) == "partly" and fb.free_text is None
    assert {str(a.before) for a in fb.answers} == {"monthly"}


def test_another_staff_members_enrolment_is_404(client, login_as, run, staff_member, today):
    other = factories.make_user(name="Ole Anden")
    enrolment = attend(run, other)
    login_as(staff_member)
    assert client.get(url(enrolment)).status_code == 404
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/me/courses").get_data(as_text=True))
    response = client.post(url(enrolment), data={"csrf_token": token.group(1), **form_data(run)})
    assert response.status_code == 404
    assert db.session.scalar(select(func.count(Feedback.id))) == 0
    assert client.get("/me/feedback/999999").status_code == 404


def test_read_only_after_the_programme_closes(client, login_as, run, staff_member, today):
    enrolment = attend(run, staff_member)
    answer(enrolment, text="Før lukning")
    today.value = date(2010, 7, 1)  # the programme ended the day before
    login_as(staff_member)
    html = client.get(url(enrolment)).get_data(as_text=True)
    assert "Indsatsen er afsluttet" in html and "Før lukning" in html
    assert 'name="free_text"' not in html
    courses = client.get("/me/courses").get_data(as_text=True)
    assert "Ret tilbagemelding" not in courses and "Se din tilbagemelding" in courses
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', courses).group(1)
    client.post(url(enrolment), data={"csrf_token": token, **form_data(run, text="Efter lukning")})
    db.session.expire_all()
    assert db.session.scalar(select(Feedback.free_text)) == "Før lukning"
    with pytest.raises(feedback.DomainError):
        feedback.save_feedback(enrolment, answers={}, earlier="no", free_text=None, now=NOW, today=date(2010, 7, 1))


def test_csrf_is_required(client, login_as, run, staff_member, today):
    enrolment = attend(run, staff_member)
    login_as(staff_member)
    response = client.post(url(enrolment), data=form_data(run))
    assert response.status_code in (200, 400)
    assert db.session.scalar(select(func.count(Feedback.id))) == 0


def test_bad_input_gets_messages_next_to_the_fields_and_changes_nothing(
    client, login_as, run, staff_member, methods, today
):
    enrolment = attend(run, staff_member)
    login_as(staff_member)
    data = form_data(run, earlier="maybe", text="x" * 4001)
    del data[f"m{methods[0].id}_before"]
    data[f"m{methods[1].id}_since"] = "daily"
    response = post_form(client, url(enrolment), data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in (f"m{methods[0].id}_before", f"m{methods[1].id}_since", "earlier_involvement", "free_text"):
        assert f'id="{name}-error"' in html, name
    assert "Skriv højst 4.000 tegn." in html
    assert db.session.scalar(select(func.count(Feedback.id))) == 0
    # the service refuses the same on its own
    with pytest.raises(feedback.ValidationFailed) as caught:
        feedback.save_feedback(
            enrolment,
            answers={methods[0].id: ("never", "often")},
            earlier="yes",
            free_text=None,
            now=NOW,
            today=AFTER_FOLLOW_UP,
        )
    assert set(caught.value.errors) == {
        f"m{methods[0].id}_since",
        f"m{methods[1].id}_before",
        f"m{methods[1].id}_since",
    }


# --- aggregates -------------------------------------------------------------------------------------------------


def test_summaries_on_hand_made_data(programme, run, fic_provider, methods):
    fam, sos = methods  # sorted by name: Familierådslagning, Signs of Safety
    users = [factories.make_user(name=f"Deltager {i}") for i in range(7)]
    e = [attend(run, u) for u in users[:4]]
    attend(run, users[4], follow_up=False)  # missed the follow-up day: not invited
    answer(e[0], "yes", "Meget brugbart", **{f"m{fam.id}": ("never", "weekly"), f"m{sos.id}": ("rarely", "monthly")})
    answer(e[1], "partly", **{f"m{fam.id}": ("rarely", "monthly"), f"m{sos.id}": ("rarely", "rarely")})
    answer(e[2], "yes", **{f"m{fam.id}": ("never", "never"), f"m{sos.id}": ("monthly", "weekly")})
    # a second run of the programme, follow-up after 2009; one method only
    late = factories.make_course_run(programme=programme, provider=fic_provider, days=LATE_DAYS, title="Forløb B")
    late.methods.append(fam)
    db.session.commit()
    e_late = attend(late, users[5])
    feedback.save_feedback(
        e_late, answers={fam.id: ("weekly", "weekly")}, earlier="no", free_text="Sen", now=NOW, today=date(2010, 2, 1)
    )
    db.session.commit()
    # a cancelled run counts for nothing
    cancelled = factories.make_course_run(
        programme=programme, provider=fic_provider, days=DAYS, status=RunStatus.CANCELLED
    )
    cancelled.methods.append(sos)
    db.session.commit()
    attend(cancelled, users[6])

    s = feedback.summary_for_run(run.id)
    assert (s.invited, s.answered) == (4, 3)
    assert s.response_rate == pytest.approx(0.75)
    assert s.earlier == {"yes": 2, "partly": 1, "no": 0}
    by_id = {m.method_id: m for m in s.methods}
    assert [m.method_name for m in s.methods] == ["Familierådslagning", "Signs of Safety"]
    assert by_id[fam.id].before == {"never": 2, "rarely": 1, "monthly": 0, "weekly": 0}
    assert by_id[fam.id].since == {"never": 1, "rarely": 0, "monthly": 1, "weekly": 1}
    assert by_id[sos.id].before == {"never": 0, "rarely": 2, "monthly": 1, "weekly": 0}
    assert by_id[sos.id].responses == 3

    whole = feedback.summary_for_programme(programme.id)
    assert (whole.invited, whole.answered) == (5, 4)
    assert whole.earlier == {"yes": 2, "partly": 1, "no": 1}
    fam_all = next(m for m in whole.methods if m.method_id == fam.id)
    assert fam_all.responses == 4 and fam_all.before["weekly"] == 1

    until = feedback.summary_for_programme(programme.id, until=date(2009, 12, 31))
    assert (until.invited, until.answered) == (4, 3)
    assert until.earlier["no"] == 0

    empty = feedback.summary_for_programme(factories.make_programme().id)
    assert (empty.invited, empty.answered, empty.methods, empty.response_rate) == (0, 0, [], None)
    assert empty.earlier == {"yes": 0, "partly": 0, "no": 0}

    rates = {r.run_title: (r.invited, r.answered) for r in feedback.response_rates_by_run(programme.id)}
    assert rates == {"Forløb A": (4, 3), "Forløb B": (1, 1)}

    texts = feedback.free_texts(programme_id=programme.id, attributed=True)
    assert [(t.text, t.author_name) for t in texts] == [("Meget brugbart", "Deltager 0"), ("Sen", "Deltager 5")]
    anonymous = feedback.free_texts(run_id=run.id, attributed=False)
    assert [(t.text, t.author_name) for t in anonymous] == [("Meget brugbart", None)]


def test_summary_for_programme_statement_count_is_independent_of_the_responses(programme, run, methods):
    def count() -> int:
        with recorded_statements() as statements:
            feedback.summary_for_programme(programme.id, until=date(2009, 12, 31))
        return len(statements)

    answer(attend(run, factories.make_user()))
    db.session.expire_all()
    few = count()
    for _ in range(12):
        answer(attend(run, factories.make_user()), "partly", "tekst")
    db.session.expire_all()
    assert count() == few


# --- aggregate pages ---------------------------------------------------------------------------------------------


@pytest.fixture
def answered_run(run):
    anna = factories.make_user(name="Anna Andersen")
    answer(attend(run, anna), "yes", "Vi holder nu familierådslagning langt oftere.")
    return run


def test_coordinator_sees_names_and_response_rate(client, login_as, coordinator, answered_run, programme):
    login_as(coordinator)
    html = client.get(f"/runs/{answered_run.id}/feedback").get_data(as_text=True)
    assert "Vi holder nu familierådslagning langt oftere." in html and "Anna Andersen" in html
    assert "1 af 1 har svaret" in html
    page = client.get(f"/programmes/{programme.id}/feedback")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Anna Andersen" in html and "Forløb A" in html and "Svarprocent pr. kursusforløb" in html
    assert f"/runs/{answered_run.id}/feedback" in client.get(f"/runs/{answered_run.id}").get_data(as_text=True)
    assert f"/programmes/{programme.id}/feedback" in client.get(f"/programmes/{programme.id}").get_data(as_text=True)


def test_provider_sees_free_text_anonymised(client, login_as, provider_user, answered_run):
    login_as(provider_user)
    response = client.get(f"/runs/{answered_run.id}/feedback")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Vi holder nu familierådslagning langt oftere." in html
    assert "Anna Andersen" not in html and "Anna" not in html
    assert client.get(f"/programmes/{answered_run.programme_id}/feedback").status_code == 403


def test_another_provider_gets_404(client, login_as, answered_run):
    other = factories.make_user(access_level="provider", provider=factories.make_provider(), name="Anden")
    login_as(other)
    assert client.get(f"/runs/{answered_run.id}/feedback").status_code == 404


def test_staff_get_403_on_the_aggregate_pages(client, login_as, answered_run, staff_member):
    login_as(staff_member)
    assert client.get(f"/runs/{answered_run.id}/feedback").status_code == 403
    assert client.get(f"/programmes/{answered_run.programme_id}/feedback").status_code == 403
