"""`flask demo load`: the seeds' programme as history plus a live one, idempotent, with working logins."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app.accounts.models import User
from app.courses.models import CourseRun, RunKind, RunStatus
from app.demo import DEMO_LOGINS, DEMO_PASSWORD, HISTORIC_NAME
from app.enrolment.models import Attendance, Enrolment, EnrolmentEvent, EnrolmentStatus
from app.extensions import db
from app.programmes.feedback_models import Feedback, FeedbackMethodAnswer
from app.programmes.models import BudgetAllocation, Programme

TABLES = (
    User,
    Programme,
    BudgetAllocation,
    CourseRun,
    Enrolment,
    EnrolmentEvent,
    Attendance,
    Feedback,
    FeedbackMethodAnswer,
)


def counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in TABLES}


def test_demo_load_twice_neither_duplicates_nor_fails(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    before = counts()
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0, second.output
    assert counts() == before
    assert before["User"] >= 110 and before["Enrolment"] > 100


def test_demo_logins_work_and_are_printed(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    printed = runner.invoke(args=["demo", "logins"]).output
    for email, *_ in DEMO_LOGINS:
        user = db.session.scalar(select(User).filter_by(email=email))
        assert user.check_password(DEMO_PASSWORD)
        assert email in printed


def test_the_seed_programme_is_there_as_history(app):
    from app.demo import load_demo

    load_demo(date(2026, 11, 23))
    db.session.commit()
    programme = db.session.scalar(select(Programme).filter_by(name=HISTORIC_NAME))
    runs = db.session.scalars(select(CourseRun).filter_by(programme_id=programme.id)).all()
    kinds = sorted((r.provider.name, r.kind) for r in runs)
    assert kinds == [("Familien i Centrum", RunKind.STANDARD)] * 2 + [("Vilde Læreprocesser", RunKind.SPECIAL)] * 3
    assert {r.status for r in runs} == {RunStatus.COMPLETED}
    budgets = {
        (a.provider.name, a.year): a.amount_ore
        for a in db.session.scalars(select(BudgetAllocation).filter_by(programme_id=programme.id))
    }
    assert budgets[("Familien i Centrum", 2008)] == 375_000_00
    assert budgets[("Vilde Læreprocesser", 2009)] == 125_000_00
    # Every run full, its participants' attendance registered on all three days
    for run in runs:
        assert run.seats_taken == run.capacity
    attendances = db.session.scalar(
        select(func.count())
        .select_from(Attendance)
        .join(Enrolment)
        .join(CourseRun)
        .where(CourseRun.programme_id == programme.id)
    )
    assert attendances == 3 * sum(r.capacity for r in runs)


def test_the_current_programme_has_open_runs_with_a_waiting_list(app):
    from app.demo import load_demo

    load_demo(date(2026, 11, 23))
    db.session.commit()

    def number(status):
        return db.session.scalar(select(func.count()).select_from(Enrolment).filter_by(status=status))

    waiting, requested = number(EnrolmentStatus.WAITLISTED), number(EnrolmentStatus.REQUESTED)
    assert waiting == 3 and requested == 3
    me = db.session.scalar(select(User).filter_by(email="medarbejder@demo.test"))
    mine = db.session.scalars(select(Enrolment).filter_by(user_id=me.id).order_by(Enrolment.id)).all()
    assert [e.status for e in mine] == [EnrolmentStatus.CONFIRMED, EnrolmentStatus.REQUESTED]
    # Leader approval (issue 24): the caseworker's request waits for Lene Leder, who leads the team.
    assert mine[1].awaits_leader
    assert all(
        r.first_day > date(2026, 11, 23)
        for r in db.session.scalars(select(CourseRun).where(CourseRun.status == RunStatus.PUBLISHED))
    )


def test_the_seed_programme_has_realistic_follow_up_feedback(app):
    from app.demo import load_demo
    from app.programmes.feedback import FREQUENCY_SCALE, free_texts, summary_for_programme

    load_demo(date(2026, 11, 23))
    db.session.commit()
    programme = db.session.scalar(select(Programme).filter_by(name=HISTORIC_NAME))
    summary = summary_for_programme(programme.id, until=programme.target_deadline)
    assert summary.invited >= 100
    assert 0.75 <= summary.response_rate < 1
    assert summary.earlier["yes"] > summary.earlier["partly"] > summary.earlier["no"] > 0
    assert {m.method_name for m in summary.methods} >= {"Familierådslagning", "Signs of Safety", "Netværksmøder"}

    def regular(counts):  # answers saying monthly or weekly
        return counts["monthly"] + counts["weekly"]

    for method in summary.methods:
        assert method.responses > 0 and set(method.before) == set(FREQUENCY_SCALE)
        assert regular(method.since) > regular(method.before), method.method_name
    texts = free_texts(programme_id=programme.id, attributed=False)
    assert 3 <= len(texts) < summary.answered / 3


def test_the_demo_leader_reaches_the_competence_overview(app, client):
    """The demo's leader login (issue 24) leads Socialcenter Amager, and through it its family team."""
    from app.accounts.directory.leaders import units_led_by
    from app.accounts.models import Unit
    from app.demo import DEMO_LEADER
    from tests.conftest import post_form

    app.test_cli_runner().invoke(args=["demo", "load"])
    leader = db.session.scalar(select(User).filter_by(email=DEMO_LEADER))
    centre = db.session.scalar(select(Unit).filter_by(name="Socialcenter Amager"))
    team = db.session.scalar(select(Unit).filter_by(name="Børne- og Familieteam, Amager"))
    assert units_led_by(leader.id) == {centre.id, team.id}
    response = post_form(client, "/login", {"email": DEMO_LEADER, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    html = client.get(f"/competence/units/{centre.id}").get_data(as_text=True)
    assert "Mads Medarbejder" in html
