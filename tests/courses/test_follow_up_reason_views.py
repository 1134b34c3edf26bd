"""The follow-up day on the run page, per persona and language (issue 21): the coordinator reads how the rule
proposed it, put into words from the stored parts in their own language; staff and the run's provider read
the date and that it is preliminary until the teaching days are held (fixed once the job has run); a reason
stored as text before the parts (one the migration could not read) is shown as written."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.courses.services import proposal_parts, propose_follow_up_day
from app.extensions import db
from tests import factories

DAYS = (date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2))
DANISH = (
    "Forslag: 2. januar 2009 (undervisningsdag 2 + 3 måneder = 1. januar 2009, som er nytårsdag; "
    "flyttet til næste arbejdsdag)"
)
ENGLISH = (
    "Suggestion: 2 January 2009 (teaching day 2 + 3 months = 1 January 2009, which is New Year&#39;s Day; "
    "moved to the next working day)"
)


@pytest.fixture
def run(app):
    proposal = propose_follow_up_day(DAYS[1], {})
    return factories.make_course_run(
        days=DAYS,
        enrolment_deadline=DAYS[0],
        follow_up_proposed_on=proposal.day,
        follow_up_reason_parts=proposal_parts(proposal),
    )


def page(client, run, language="da") -> str:
    response = client.get(f"/runs/{run.id}", headers={"Accept-Language": language})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    start = html.index("<h3>Opfølgningsdagen</h3>" if language == "da" else "<h3>Follow-up day</h3>")
    return html[start : html.index("<h2>", start)]


@pytest.mark.parametrize(("language", "reason"), [("da", DANISH), ("en", ENGLISH)])
def test_the_coordinator_reads_the_reason_in_their_language(client, login_as, coordinator, run, language, reason):
    login_as(coordinator)
    assert f"<p>{reason}</p>" in page(client, run, language)


def test_a_reason_kept_as_text_is_shown_as_written(client, login_as, coordinator, run):
    run.follow_up_reason_parts = None
    run.follow_up_reason = "Forslag: 2. januar 2009 (aftalt med FIC)"
    db.session.commit()
    login_as(coordinator)
    assert "<p>Forslag: 2. januar 2009 (aftalt med FIC)</p>" in page(client, run, "en")


@pytest.mark.parametrize("who", ["staff", "provider"])
@pytest.mark.parametrize(
    ("language", "preliminary", "fixed"),
    [
        ("da", "2. januar 2009 (foreløbig, indtil undervisningsdagene er holdt)", "2. januar 2009 (fastlagt)"),
        ("en", "2 January 2009 (preliminary until the teaching days have been held)", "2 January 2009 (fixed)"),
    ],
)
def test_staff_and_the_provider_read_the_date_and_whether_it_is_preliminary(
    client, login_as, run, who, language, preliminary, fixed
):
    if who == "staff":
        (user,) = factories.make_eligible_staff(run, 1)
    else:
        user = factories.make_user(access_level="provider", provider=run.provider, email="udbyder@test.dk")
    login_as(user)
    shown = page(client, run, language)
    assert f"<p>{preliminary}</p>" in shown
    for planner in ("Forslag", "Suggestion", "undervisningsdag 2 +", "teaching day 2 +", "nytårsdag", "New Year"):
        assert planner not in shown

    run.follow_up_confirmed_at = datetime(2008, 10, 1, 16, tzinfo=UTC)
    db.session.commit()
    assert f"<p>{fixed}</p>" in page(client, run, language)
