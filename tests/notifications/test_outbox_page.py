"""The coordinator's mail outbox page (/outbox) and its "send again" button, through the real pages."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.notifications import compose, outbox
from app.notifications.compose import Recipient
from app.notifications.models import OutboxMessage, OutboxStatus
from tests import factories
from tests.conftest import post_action
from tests.notifications.conftest import NOW, as_utc
from tests.querycount import recorded_statements

_keys = iter(range(1, 10**6))


def queue(*, to=None, run=None, subject="Besked fra Kursusportalen", kind="notice", status=None, **changes):
    """One outbox row (a notice mail), committed; `status` and `changes` are then written directly."""
    email = to.email if to is not None else f"modtager{next(_keys)}@test.dk"
    msg = compose.notice_message(Recipient(email=email, name="Modtager"), subject, "Hej.", stamp=NOW)
    row = outbox.enqueue(
        msg,
        kind=kind,
        dedupe_key=f"page:{next(_keys)}",
        recipient_email=email,
        now=NOW,
        user_id=to.id if to is not None else None,
        run_id=run.id if run is not None else None,
    )
    if status is not None:
        changes["status"] = OutboxStatus(status)
    for name, value in changes.items():
        setattr(row, name, value)
    db.session.commit()
    return row


def failed(**kw):
    kw.setdefault("attempts", 8)
    kw.setdefault("last_error", "550 5.1.1 Mailbox unavailable")
    return queue(status="failed", **kw)


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def error_for(page: str, field_id: str) -> str | None:
    """The message shown next to the field (the forms macro's `<id>-error` span), or None."""
    match = re.search(rf'id="{field_id}-error">(?:<span class="sr-only">[^<]*</span>)?([^<]*)</span>', page)
    return match.group(1).strip() if match else None


def row_count(page: str) -> int:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return body.count("<tr>")


@pytest.fixture
def run(app):
    return factories.make_course_run(title="Tidlig inddragelse, hold Å")


# --- the list --------------------------------------------------------------------------------------------


def test_the_coordinator_sees_the_mails_and_the_counts(client, login_as, coordinator, run):
    person = factories.make_user(name="Dorte Deltager", email="dorte@test.dk")
    queue(to=person, run=run, subject="Invitation: Tidlig inddragelse", kind="invitation")
    failed(subject="Aflyst", kind="day_cancelled", run=run)
    queue(status="sent", sent_at=NOW + timedelta(minutes=5), attempts=1, kind="something_new")
    queue(status="superseded")
    queue()
    login_as(coordinator)

    page = html(client.get("/outbox"))

    assert row_count(page) == 5
    assert "Dorte Deltager" in page and "dorte@test.dk" in page
    assert "Invitation: Tidlig inddragelse" in page
    assert "Invitation</td>" in page and "Aflyst kursusdag" in page  # translated kind labels
    assert "something_new" in page  # an unknown kind shows as stored
    assert f'href="/runs/{run.id}"' in page
    assert "550 5.1.1 Mailbox unavailable" in page
    for label, count, status in (
        ("Venter", 2, "pending"),
        ("Sendt", 1, "sent"),
        ("Ikke sendt", 1, "failed"),
        ("Erstattet af nyere mail", 1, "superseded"),
    ):
        assert f'href="/outbox?status={status}"' in page
        assert f"{label}: {count}" in page
    assert page.count(">Send igen<") == 1  # only the failed row
    assert "5 mails" in page


def test_times_are_shown_in_copenhagen_time(client, login_as, coordinator):
    queue(status="sent", sent_at=NOW + timedelta(minutes=5), attempts=1)  # NOW is 09:00 UTC = 10:00 CET
    login_as(coordinator)
    page = html(client.get("/outbox"))
    assert "10.00" in page and "10.05" in page
    assert "09.00" not in page


def test_the_empty_outbox_says_what_will_appear(client, login_as, coordinator):
    login_as(coordinator)
    page = html(client.get("/outbox"))
    assert "Der er ingen mails endnu. Her vises hver mail" in page
    assert "<table" not in page


def test_filters_by_status_and_by_run(client, login_as, coordinator, run):
    other = factories.make_course_run(title="Andet forløb")
    on_run = failed(run=run, subject="Mail om hold Å")
    queue(run=run, subject="Venter på hold Å")
    queue(run=other, status="failed", subject="Mail om andet forløb")
    login_as(coordinator)

    page = html(client.get("/outbox?status=failed"))
    assert row_count(page) == 2 and "Venter på hold Å" not in page

    page = html(client.get(f"/outbox?run={run.id}"))
    assert row_count(page) == 2 and "Mail om andet forløb" not in page
    assert f'<option selected value="{run.id}">' in page or f'value="{run.id}" selected' in page

    page = html(client.get(f"/outbox?status=failed&run={run.id}"))
    assert row_count(page) == 1 and "Mail om hold Å" in page
    assert f"/outbox/{on_run.id}/retry?status=failed&amp;run={run.id}" in page

    page = html(client.get("/outbox?status=sent"))
    assert "Ingen mails passer til filtrene." in page


def test_the_run_choices_are_newest_first(client, login_as, coordinator):
    factories.make_course_run(title="Gammelt hold", days=(date(2008, 9, 1), date(2008, 9, 2), date(2008, 12, 2)))
    factories.make_course_run(title="Nyt hold", days=(date(2026, 9, 1), date(2026, 9, 2), date(2026, 12, 2)))
    login_as(coordinator)
    page = html(client.get("/outbox"))
    select = page.split('id="run"', 1)[1].split("</select>", 1)[0]
    assert select.index(">Alle<") < select.index("Nyt hold") < select.index("Gammelt hold")


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("status=bogus", "status", "Ukendt status. Vælg en status på listen."),
        ("run=abc", "run", "Kursusforløbet skal angives med sit nummer. Vælg et kursusforløb på listen."),
        ("run=1%3B+DROP+TABLE", "run", "Kursusforløbet skal angives med sit nummer. Vælg et kursusforløb på listen."),
        ("run=-3", "run", "Kursusforløbet skal angives med sit nummer. Vælg et kursusforløb på listen."),
        ("run=99999999999999999999", "run", "Kursusforløbet findes ikke. Vælg et kursusforløb på listen."),
        # "%D9%A1" is an Arabic 1
        ("run=%D9%A1", "run", "Kursusforløbet skal angives med sit nummer. Vælg et kursusforløb på listen."),
        ("run=4711", "run", "Kursusforløbet findes ikke. Vælg et kursusforløb på listen."),
    ],
)
def test_bad_filter_values_get_a_message_next_to_the_field(client, login_as, coordinator, run, query, field, message):
    queue(run=run)
    queue()
    login_as(coordinator)
    page = html(client.get(f"/outbox?{query}"))
    assert error_for(page, field) == message
    assert row_count(page) == 2  # the bad filter is ignored, not a crash or an empty list


def test_a_junk_page_number_is_the_first_page(client, login_as, coordinator, app):
    app.config["OUTBOX_PER_PAGE"] = 2
    for n in range(5):
        queue(subject=f"Mail {n}")
    login_as(coordinator)
    assert row_count(html(client.get("/outbox?page=abc"))) == 2
    page = html(client.get("/outbox?page=3"))
    assert row_count(page) == 1 and "Mail 0" in page
    assert 'aria-label="Sidenavigation"' in page
    assert row_count(html(client.get("/outbox?page=999"))) == 1  # beyond the end: the last page


# --- retry -----------------------------------------------------------------------------------------------


def test_retry_through_the_form_puts_a_failed_mail_back_in_the_queue(client, login_as, coordinator, run, clock):
    row = failed(run=run)
    row_id = row.id
    clock.advance(minutes=5)  # the coordinator retries a while after the mail failed
    login_as(coordinator)
    list_url = f"/outbox?status=failed&run={run.id}"
    retry_url = f"/outbox/{row_id}/retry?status=failed&run={run.id}"
    assert retry_url.replace("&", "&amp;") in html(client.get(list_url))

    response = post_action(client, retry_url, from_url=list_url)

    assert response.status_code == 302
    assert response.location == list_url  # back to the list, filters kept
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    assert as_utc(row.next_attempt_at) == clock.utcnow() > NOW  # due at once
    page = html(client.get(response.location))
    assert "er sat i kø igen" in page
    assert "Ingen mails passer til filtrene." in page  # no longer failed


def test_retry_of_a_mail_that_is_no_longer_failed_shows_the_refusal(client, login_as, coordinator):
    row = failed()
    row_id = row.id
    login_as(coordinator)
    # The coordinator has the page open; meanwhile the mail was retried (and sent) by someone else.
    page = html(client.get("/outbox"))
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(status=OutboxStatus.SENT))
    db.session.commit()

    response = post_action(client, f"/outbox/{row_id}/retry", from_url="/outbox")

    assert response.status_code == 302 and response.location == "/outbox"
    page = html(client.get("/outbox"))
    assert "Kun en mail, der ikke kunne sendes, kan sendes igen." in page
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row_id).status == OutboxStatus.SENT


def test_retry_of_an_unknown_mail_shows_the_refusal(client, login_as, coordinator):
    login_as(coordinator)
    response = post_action(client, "/outbox/4711/retry", from_url="/outbox")
    assert response.location == "/outbox"
    assert "Mailen findes ikke." in html(client.get("/outbox"))


def test_retry_keeps_only_well_formed_filters_on_the_way_back(client, login_as, coordinator):
    row = failed()
    login_as(coordinator)
    response = post_action(
        client,
        f"/outbox/{row.id}/retry?status=bogus&run=//evil.example&page=2&next=https://evil.example",
        from_url="/outbox",
    )
    assert response.location == "/outbox?page=2"


def test_retry_needs_csrf(client, login_as, coordinator):
    row = failed()
    login_as(coordinator)
    assert client.post(f"/outbox/{row.id}/retry").status_code == 400
    assert db.session.get(OutboxMessage, row.id).status == OutboxStatus.FAILED


# --- access and navigation -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["staff_member", "provider_user"])
def test_staff_and_providers_are_refused(client, login_as, request, who):
    row = failed()
    login_as(request.getfixturevalue(who))
    assert client.get("/outbox").status_code == 403
    assert post_action(client, f"/outbox/{row.id}/retry", from_url="/runs").status_code == 403
    assert db.session.get(OutboxMessage, row.id).status == OutboxStatus.FAILED


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/outbox")
    assert response.status_code == 302 and response.location.startswith("/login")
    response = client.post("/outbox/1/retry")
    assert response.status_code in (302, 400)  # CSRF (400) or the login (302); never the action


def test_reached_from_the_settings_hub_and_from_a_run(client, login_as, coordinator, run):
    login_as(coordinator)
    assert 'href="/outbox"' in html(client.get("/settings"))
    assert f'href="/outbox?run={run.id}"' in html(client.get(f"/runs/{run.id}"))
    assert row_count(html(client.get(f"/outbox?run={run.id}"))) == 0


def test_the_run_page_has_no_mail_link_for_its_provider(client, login_as, provider_user):
    own_run = factories.make_course_run(provider=provider_user.provider)
    login_as(provider_user)
    assert "/outbox" not in html(client.get(f"/runs/{own_run.id}"))


# --- cost ------------------------------------------------------------------------------------------------


def record_statements(client, url: str) -> list[str]:
    with recorded_statements() as statements:
        assert client.get(url).status_code == 200
    return statements


def test_the_stored_mails_are_never_loaded_for_the_list(client, login_as, coordinator):
    big = failed(subject="Stor mail")
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == big.id).values(message=b"X" * (5 * 1024 * 1024)))
    db.session.commit()
    login_as(coordinator)
    db.session.expunge_all()

    statements = record_statements(client, "/outbox")

    # paginate()'s count wraps the whole select in a subquery (which the database does not read the column
    # for); no statement that returns rows may select the stored mail.
    loading = [s for s in statements if not s.startswith("SELECT count(*)")]
    assert not [s for s in loading if re.search(r"outbox_messages\.message\b", s)]
    assert "Stor mail" in html(client.get("/outbox"))


def make_rows(n: int) -> None:
    for i in range(n):
        person = factories.make_user(name=f"Deltager {i}")
        queue(to=person, run=factories.make_course_run(), status="failed" if i % 2 else None)


def test_the_list_costs_the_same_number_of_statements_for_3_or_30_mails(client, login_as, coordinator):
    make_rows(3)
    login_as(coordinator)
    db.session.commit()  # both requests start a fresh transaction
    db.session.expunge_all()  # each request starts as in production: nothing in the identity map
    few = record_statements(client, "/outbox")

    make_rows(27)
    db.session.commit()
    db.session.expunge_all()
    statements = record_statements(client, "/outbox")
    assert row_count(html(client.get("/outbox"))) == 30
    assert len(statements) == len(few), statements
