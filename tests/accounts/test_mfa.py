"""The second factor after a password login: TOTP with replay protection, recovery codes, enrolment when it is
required, throttling, the user's own page and the coordinator's reset. Time comes from a frozen clock seam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from app.accounts.mfa import services as mfa
from app.accounts.mfa.models import MfaCredential, MfaRecoveryCode
from app.audit.models import AuditEntry
from app.core import clock
from app.extensions import db
from config import ProductionConfig
from tests import factories
from tests.accounts.helpers import is_logged_in
from tests.conftest import post_form

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


class FrozenClock:
    def __init__(self, now: datetime):
        self.now = now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def frozen(monkeypatch):
    fake = FrozenClock(T0)
    monkeypatch.setattr(clock, "utcnow", fake)
    return fake


@pytest.fixture
def mfa_required(app):
    app.config["MFA_REQUIRED"] = True


def enrol(user, now=T0) -> tuple[str, list[str]]:
    """Give `user` a confirmed authenticator app; return its secret and the recovery codes."""
    credential = mfa.start_enrolment(user, now=now)
    secret = credential.secret
    codes = mfa.confirm_enrolment(credential, pyotp.TOTP(secret).at(now), now=now, pending=False)
    # a fresh login must be able to use the next step's code: forget the step used to confirm
    credential.last_used_step = None
    db.session.commit()
    return secret, codes


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def password_login(client, user, password=factories.PASSWORD):
    return post_form(client, "/login", {"email": user.email, "password": password})


def submit_code(client, code: str):
    return post_form(client, "/login/mfa", {"code": code})


def actions(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_pending_login_is_not_logged_in_until_the_code(client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    response = password_login(client, staff_member)
    assert response.status_code == 302
    assert response.location.endswith("/login/mfa")
    assert not is_logged_in(client)
    protected = client.get("/me/courses")
    assert protected.status_code == 302 and protected.location.startswith("/login")

    response = submit_code(client, code_at(secret, frozen.now))
    assert response.status_code == 302
    assert is_logged_in(client)
    with client.session_transaction() as sess:
        assert sess["auth_method"] == "password+totp"
        assert "mfa_pending" not in sess


def test_wrong_password_never_reaches_the_second_factor(client, staff_member, frozen):
    enrol(staff_member)
    response = password_login(client, staff_member, password="forkert-forkert")
    assert response.status_code == 200
    assert client.get("/login/mfa").status_code == 302  # nothing pending


def test_a_wrong_code_is_refused_next_to_the_field_and_audited(client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    password_login(client, staff_member)
    wrong = f"{(int(code_at(secret, frozen.now)) + 1) % 1_000_000:06d}"
    response = submit_code(client, wrong)
    assert response.status_code == 200
    assert "Koden er forkert" in response.get_data(as_text=True)
    assert not is_logged_in(client)
    failed = actions("auth.mfa_failed")
    assert len(failed) == 1 and failed[0].subject_id == staff_member.id
    assert wrong not in str(failed[0].details)


def test_a_code_works_once(client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    code = code_at(secret, frozen.now)
    password_login(client, staff_member)
    assert submit_code(client, code).status_code == 302
    post_form(client, "/logout", form_url="/account/mfa")

    frozen.tick(5)  # same 30-second step: the same code again
    password_login(client, staff_member)
    response = submit_code(client, code)
    assert response.status_code == 200
    assert not is_logged_in(client)

    frozen.tick(30)  # the next step's code works
    assert submit_code(client, code_at(secret, frozen.now)).status_code == 302
    assert is_logged_in(client)


def test_codes_from_the_neighbouring_steps_work_but_not_older(client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    password_login(client, staff_member)
    assert submit_code(client, code_at(secret, frozen.now - timedelta(seconds=90))).status_code == 200
    assert submit_code(client, code_at(secret, frozen.now - timedelta(seconds=30))).status_code == 302


def test_a_recovery_code_works_once(client, staff_member, frozen):
    _, codes = enrol(staff_member)
    assert len(codes) == 10 and len(set(codes)) == 10
    password_login(client, staff_member)
    response = submit_code(client, codes[0].upper())  # case and dashes don't matter
    assert response.status_code == 302
    assert is_logged_in(client)
    with client.session_transaction() as sess:
        assert sess["auth_method"] == "password+recovery"
    used = actions("auth.recovery_code_used")
    assert len(used) == 1 and used[0].details["left"] == 9
    post_form(client, "/logout", form_url="/account/mfa")

    password_login(client, staff_member)
    assert submit_code(client, codes[0]).status_code == 200
    assert not is_logged_in(client)


def test_recovery_codes_are_stored_hashed(app, staff_member, frozen):
    _, codes = enrol(staff_member)
    stored = db.session.scalars(select(MfaRecoveryCode.code_hash)).all()
    assert len(stored) == 10
    plain = {code.replace("-", "") for code in codes}
    assert not plain & set(stored)
    assert all(code not in h for h in stored for code in plain)


def wrong_code(secret: str, when: datetime) -> str:
    return "000000" if code_at(secret, when) != "000000" else "111111"


def test_five_wrong_codes_drop_the_pending_login(client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    password_login(client, staff_member)
    for attempt in range(1, 5):
        assert submit_code(client, wrong_code(secret, frozen.now)).status_code == 200, attempt
    response = submit_code(client, wrong_code(secret, frozen.now))
    assert response.status_code == 302 and response.location.startswith("/login")
    assert "For mange forkerte koder" in client.get("/login").get_data(as_text=True)
    # the right code no longer helps: the pending login is gone
    assert client.get("/login/mfa").status_code == 302
    assert not is_logged_in(client)
    assert db.session.get(MfaCredential, staff_member.id).pending_token_hash is None
    assert len(actions("auth.mfa_failed")) == 5


def test_replaying_an_old_session_cookie_does_not_reset_the_attempts(app, client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    password_login(client, staff_member)
    with client.session_transaction() as sess:
        saved = dict(sess)
    for _ in range(5):
        submit_code(client, wrong_code(secret, frozen.now))
    with client.session_transaction() as sess:
        sess.clear()
        sess.update(saved)  # the cookie from before the failures
    assert client.get("/login/mfa").status_code == 302
    assert not is_logged_in(client)


def test_the_pending_login_expires(client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    password_login(client, staff_member)
    frozen.tick(301)
    response = client.get("/login/mfa")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert not is_logged_in(client)


def test_staff_without_mfa_log_in_with_the_password_even_when_required(client, staff_member, mfa_required):
    response = password_login(client, staff_member)
    assert response.status_code == 302 and not response.location.endswith("/login/mfa")
    assert is_logged_in(client)


@pytest.mark.parametrize("who", ["coordinator", "provider_user"])
def test_required_but_not_enrolled_sets_up_the_app_first(app, client, who, request, mfa_required, frozen):
    user = request.getfixturevalue(who)
    response = password_login(client, user)
    assert response.location.endswith("/login/mfa/setup")
    assert not is_logged_in(client)
    assert client.get("/login/mfa").location.endswith("/login/mfa/setup")

    page = client.get("/login/mfa/setup").get_data(as_text=True)
    credential = db.session.get(MfaCredential, user.id)
    assert credential.confirmed_at is None
    assert mfa.formatted_secret(credential) in page
    assert "otpauth://totp/" in page
    qr = client.get("/mfa/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    assert qr.headers["Cache-Control"] == "no-store"

    wrong = post_form(client, "/login/mfa/setup", {"code": "12345"})
    assert wrong.status_code == 200 and not is_logged_in(client)

    response = post_form(client, "/login/mfa/setup", {"code": code_at(credential.secret, frozen.now)})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Dine gendannelseskoder" in html
    assert html.count("<li><code>") == 10
    assert is_logged_in(client)
    db.session.refresh(credential)
    assert credential.confirmed_at is not None
    assert len(actions("auth.mfa_enabled")) == 1
    assert client.get("/mfa/qr.svg").status_code == 404  # nothing left to enrol

    # from now on the login asks for the code
    post_form(client, "/logout", form_url="/account/mfa")
    assert password_login(client, user).location.endswith("/login/mfa")


def test_the_qr_code_needs_an_enrolment_in_progress(client):
    assert client.get("/mfa/qr.svg").status_code == 404


def test_staff_enrol_voluntarily_from_their_mfa_page(client, login_as, staff_member, frozen):
    login_as(staff_member)
    page = client.get("/account/mfa")
    assert page.status_code == 200 and "ikke slået til" in page.get_data(as_text=True)
    response = post_form(client, "/account/mfa/enrol", form_url="/account/mfa")
    assert response.location.endswith("/account/mfa/setup")
    credential = db.session.get(MfaCredential, staff_member.id)
    assert client.get("/mfa/qr.svg").status_code == 200
    response = post_form(client, "/account/mfa/setup", {"code": code_at(credential.secret, frozen.now)})
    assert response.status_code == 200 and response.get_data(as_text=True).count("<li><code>") == 10
    assert mfa.has_mfa(staff_member)

    post_form(client, "/logout", form_url="/account/mfa")
    assert password_login(client, staff_member).location.endswith("/login/mfa")


def test_new_recovery_codes_need_a_current_code_and_replace_the_old(client, staff_member, frozen):
    secret, old_codes = enrol(staff_member)
    password_login(client, staff_member)
    submit_code(client, code_at(secret, frozen.now))
    bad = post_form(client, "/account/mfa/recovery-codes", {"code": "000000"}, form_url="/account/mfa")
    assert bad.status_code == 400
    frozen.tick(30)
    response = post_form(
        client, "/account/mfa/recovery-codes", {"code": code_at(secret, frozen.now)}, form_url="/account/mfa"
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<li><code>") == 10
    assert old_codes[0] not in html
    post_form(client, "/logout", form_url="/account/mfa")
    password_login(client, staff_member)
    assert submit_code(client, old_codes[1]).status_code == 200  # the old codes are gone


def test_staff_may_switch_it_off_but_required_levels_may_not(client, app, staff_member, coordinator, frozen):
    secret, _ = enrol(staff_member)
    password_login(client, staff_member)
    submit_code(client, code_at(secret, frozen.now))
    frozen.tick(30)
    response = post_form(client, "/account/mfa/disable", {"code": code_at(secret, frozen.now)}, form_url="/account/mfa")
    assert response.status_code == 302
    assert not mfa.has_mfa(staff_member)
    assert len(actions("auth.mfa_disabled")) == 1
    post_form(client, "/logout", form_url="/account/mfa")

    app.config["MFA_REQUIRED"] = True
    c_secret, _ = enrol(coordinator)
    password_login(client, coordinator)
    submit_code(client, code_at(c_secret, frozen.now))
    page = client.get("/account/mfa").get_data(as_text=True)
    assert "Slå totrinsbekræftelse fra" not in page
    frozen.tick(30)
    response = post_form(
        client, "/account/mfa/disable", {"code": code_at(c_secret, frozen.now)}, form_url="/account/mfa"
    )
    assert response.status_code == 403
    assert mfa.has_mfa(coordinator)


def test_a_coordinator_resets_a_lost_phone(client, login_as, coordinator, staff_member, frozen):
    enrol(staff_member)
    login_as(coordinator)
    page = client.get(f"/users/{staff_member.id}/edit").get_data(as_text=True)
    assert "Nulstil totrinsbekræftelse" in page
    response = post_form(client, f"/users/{staff_member.id}/mfa/reset", form_url=f"/users/{staff_member.id}/edit")
    assert response.status_code == 302
    assert not mfa.has_mfa(staff_member)
    assert db.session.scalars(select(MfaRecoveryCode)).all() == []
    reset = actions("auth.mfa_reset")
    assert len(reset) == 1 and reset[0].actor_id == coordinator.id and reset[0].subject_id == staff_member.id


def test_the_reset_is_for_coordinators_and_needs_csrf(
    client, login_as, coordinator, staff_member, provider_user, frozen
):
    enrol(provider_user)
    login_as(staff_member)
    assert post_form(client, f"/users/{provider_user.id}/mfa/reset", form_url="/me/courses").status_code == 403
    post_form(client, "/logout", form_url="/me/courses")
    login_as(coordinator)
    assert client.post(f"/users/{provider_user.id}/mfa/reset").status_code == 400  # no CSRF token
    assert post_form(client, f"/users/{coordinator.id}/mfa/reset", form_url="/settings").status_code == 403
    assert post_form(client, "/users/999999/mfa/reset", form_url="/settings").status_code == 404
    assert mfa.has_mfa(provider_user)


def test_a_deactivated_user_cannot_finish_a_pending_login(client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    password_login(client, staff_member)
    staff_member.active = False
    db.session.commit()
    assert client.get("/login/mfa").status_code == 302
    assert not is_logged_in(client)


def test_the_next_page_survives_the_second_step(client, staff_member, frozen):
    secret, _ = enrol(staff_member)
    post_form(
        client,
        "/login?next=/account/mfa",
        {"email": staff_member.email, "password": factories.PASSWORD},
        form_url="/login",
    )
    response = submit_code(client, code_at(secret, frozen.now))
    assert response.location.endswith("/account/mfa")


def test_mfa_is_required_in_production_and_off_elsewhere(app):
    assert ProductionConfig.MFA_REQUIRED is True
    assert app.config["MFA_REQUIRED"] is False


def test_the_pending_login_never_holds_the_user_in_flask_login(client, staff_member, frozen):
    enrol(staff_member)
    password_login(client, staff_member)
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
        assert set(sess["mfa_pending"]) == {"uid", "token", "next"}
