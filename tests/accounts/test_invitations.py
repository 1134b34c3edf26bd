"""Invitations for imported staff (no password yet): the coordinator's button and bulk action, the mailed
link that lets them choose a password and logs them in; only the newest link works, and only once."""

from __future__ import annotations

from app.accounts.models import User
from app.accounts.signin.credentials import send_invitation, send_invitations_to_all
from app.core import clock
from app.extensions import db
from tests import factories
from tests.accounts.helpers import audit_actions, csrf_token, is_logged_in, link_in, mail_text, outbox_rows
from tests.conftest import post_action, post_form

NEW = "blå hest under broen"


def imported(email="ny.medarbejder@test.dk", **kw):
    return factories.make_user(email=email, name=kw.pop("name", "Nanna Ny"), password=None, **kw)


def invite(client, user):
    response = post_action(client, f"/users/{user.id}/invite", from_url=f"/users/{user.id}/edit")
    assert response.status_code == 302
    return link_in(outbox_rows("account_invitation")[-1], "/invitation/")


def accept(client, link, password=NEW, confirm=None):
    return post_form(client, link, {"password": password, "confirm": confirm or password})


def test_the_user_page_offers_the_invitation_only_without_a_password(as_coordinator, staff_member):
    user = imported()
    assert f'action="/users/{user.id}/invite"' in as_coordinator.get(f"/users/{user.id}/edit").get_data(as_text=True)
    page = as_coordinator.get(f"/users/{staff_member.id}/edit").get_data(as_text=True)
    assert f'action="/users/{staff_member.id}/invite"' not in page


def test_the_invitation_is_mailed_and_audited(as_coordinator, coordinator):
    user = imported()
    link = invite(as_coordinator, user)
    row = outbox_rows("account_invitation")[0]
    assert row.recipient_email == user.email
    assert row.subject == "Din konto i Kursusportalen"
    assert "Linket virker i 14 dage." in mail_text(row)
    assert link.startswith("/invitation/")
    entry = audit_actions("auth.invitation_sent")[0]
    assert entry.actor_id == coordinator.id and entry.subject_id == user.id
    assert "Invitationen til Nanna Ny er sat i kø under Udgående mails" in as_coordinator.get(
        f"/users/{user.id}/edit"
    ).get_data(as_text=True)


def test_accepting_sets_the_password_and_logs_in(as_coordinator, app):
    user = imported()
    link = invite(as_coordinator, user)
    browser = app.test_client()
    page = browser.get(link)
    assert page.status_code == 200
    assert "Hej Nanna Ny" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    response = accept(browser, link)
    assert response.status_code == 302 and response.location == "/"
    assert is_logged_in(browser)
    with browser.session_transaction() as sess:
        assert sess["auth_method"] == "invitation"
    assert db.session.get(User, user.id).check_password(NEW)
    actions = [e.action for e in audit_actions()]
    assert actions[-2:] == ["auth.invitation_accepted", "auth.login"]


def test_the_link_works_once(as_coordinator, app):
    user = imported()
    link = invite(as_coordinator, user)
    browser = app.test_client()
    accept(browser, link)
    again = app.test_client().get(link)
    assert again.status_code == 410
    assert "Har du allerede valgt en adgangskode, så log ind." in again.get_data(as_text=True)


def test_a_new_invitation_replaces_the_old_link(fake_clock, as_coordinator, app):
    user = imported()
    first = invite(as_coordinator, user)
    fake_clock.advance(minutes=5)
    second = invite(as_coordinator, user)
    assert first != second
    browser = app.test_client()
    assert browser.get(first).status_code == 410
    assert browser.get(second).status_code == 200
    assert len(outbox_rows("account_invitation")) == 2


def test_the_link_expires_after_the_configured_days(fake_clock, as_coordinator, app):
    user = imported()
    link = invite(as_coordinator, user)
    browser = app.test_client()
    fake_clock.advance(days=13, hours=23)
    assert browser.get(link).status_code == 200
    fake_clock.advance(hours=2)
    response = browser.get(link)
    assert response.status_code == 410
    assert "Linket er udløbet." in response.get_data(as_text=True)


def test_a_tampered_or_reset_token_is_refused(as_coordinator, app):
    user = imported()
    link = invite(as_coordinator, user)
    browser = app.test_client()
    assert browser.get(link + "x").status_code == 400
    assert browser.get("/invitation/" + "a" * 40).status_code == 400
    from app.accounts.signin.tokens import make_reset_token

    assert browser.get(f"/invitation/{make_reset_token(user)}").status_code == 400


def test_the_policy_applies_at_acceptance(as_coordinator, app):
    user = imported(name="Nanna Ny")
    link = invite(as_coordinator, user)
    browser = app.test_client()
    response = accept(browser, link, "nanna ny 2026")
    assert response.status_code == 400
    assert "Adgangskoden er for let at gætte." in response.get_data(as_text=True)
    assert db.session.get(User, user.id).password_hash is None
    assert not is_logged_in(browser)


def test_users_with_a_password_or_inactive_are_not_invited(as_coordinator, staff_member):
    inactive = imported(email="inaktiv@test.dk", active=False)
    for user, message in ((staff_member, "har allerede en adgangskode"), (inactive, "er inaktiv")):
        response = post_action(as_coordinator, f"/users/{user.id}/invite", from_url=f"/users/{user.id}/edit")
        assert response.status_code == 302
        assert message in as_coordinator.get(response.location).get_data(as_text=True)
    assert outbox_rows("account_invitation") == []


def test_only_coordinators_may_invite(client, login_as, staff_member):
    user = imported()
    login_as(staff_member)
    token = csrf_token(client)
    assert client.post(f"/users/{user.id}/invite", data={"csrf_token": token}).status_code == 403
    assert client.post("/users/invite-all", data={"csrf_token": token}).status_code == 403
    assert outbox_rows() == []


def test_a_user_deactivated_after_the_invitation_cannot_accept(as_coordinator, app):
    user = imported()
    link = invite(as_coordinator, user)
    user.active = False
    db.session.commit()
    assert app.test_client().get(link).status_code == 410


def test_bulk_invitation_skips_valid_invitations_and_users_with_passwords(fake_clock, as_coordinator, staff_member):
    already = imported(email="allerede@test.dk")
    send_invitation(already, actor=None, now=clock.utcnow())
    db.session.commit()
    for i in range(3):
        imported(email=f"ny{i}@test.dk")
    imported(email="inaktiv@test.dk", active=False)
    page = as_coordinator.get("/users").get_data(as_text=True)
    assert "4 aktive brugere har ingen adgangskode endnu." in page
    response = post_action(as_coordinator, "/users/invite-all", from_url="/users")
    assert response.status_code == 302
    page = as_coordinator.get("/users").get_data(as_text=True)
    assert "3 invitationer er sat i kø under Udgående mails." in page
    assert "1 bruger har allerede en gyldig invitation og fik ikke en ny." in page
    recipients = sorted(row.recipient_email for row in outbox_rows("account_invitation"))
    assert recipients == ["allerede@test.dk", "ny0@test.dk", "ny1@test.dk", "ny2@test.dk"]


def test_bulk_invitation_resends_expired_ones(app, fake_clock):
    user = imported()
    send_invitation(user, actor=None, now=clock.utcnow())
    fake_clock.advance(days=15)
    result = send_invitations_to_all(actor=None, now=clock.utcnow())
    assert (result.sent, result.skipped_recent) == (1, 0)
    assert len(outbox_rows("account_invitation")) == 2


def test_the_outbox_page_names_the_new_kinds(as_coordinator):
    user = imported()
    invite(as_coordinator, user)
    assert "Invitation til at vælge adgangskode" in as_coordinator.get("/outbox").get_data(as_text=True)
