"""The second step's limits (issue 20): wrong codes are counted per account across password logins, slowed
down after MFA_SLOWDOWN_AFTER and locked at MFA_LOCK_AFTER until a recovery code or a coordinator unlocks
it; audited and mailed. Everything through the real login form, as an attacker who knows the password would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.mfa import services as mfa
from app.accounts.mfa.models import MfaCredential
from app.audit.models import AuditEntry
from app.core import clock as app_clock
from app.extensions import db
from tests import factories
from tests.accounts.helpers import is_logged_in, mail_text, outbox_rows
from tests.accounts.test_mfa import code_at, enrol, wrong_code
from tests.conftest import post_form

LOCKED = "Totrinsbekræftelsen er låst"


def password_login(client, user):
    response = post_form(client, "/login", {"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302 and response.location.endswith("/login/mfa"), response.location
    return response


def submit_code(client, code: str):
    return post_form(client, "/login/mfa", {"code": code})


def actions(action: str, **details) -> list[AuditEntry]:
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
    return [e for e in entries if all(e.details.get(k) == v for k, v in details.items())]


def credential_of(user) -> MfaCredential:
    credential = db.session.get(MfaCredential, user.id)
    db.session.refresh(credential)
    return credential


def wait_for_next_code(user, clock) -> None:
    """A patient attacker: let the clock run to the moment the next code is checked (never refused as early)."""
    next_code_at = getattr(credential_of(user), "next_code_at", None)  # (None before the fix: see the report)
    if next_code_at is not None and app_clock.as_utc(next_code_at) > clock.utcnow():
        clock.set(app_clock.as_utc(next_code_at))


def guess_patiently(client, user, secret, clock, *, logins: int) -> list[int]:
    """`logins` password logins, each followed by wrong codes until the pending login is dropped or the code is
    refused unchecked; before each guess the clock runs past any slowdown (and the password is typed again if
    the pending login expired meanwhile). Returns the statuses of the guesses."""
    statuses = []
    for _ in range(logins):
        password_login(client, user)
        for _ in range(mfa_max_attempts(client)):
            wait_for_next_code(user, clock)
            if client.get("/login/mfa").status_code != 200:
                password_login(client, user)
            response = submit_code(client, wrong_code(secret, clock.utcnow()))
            statuses.append(response.status_code)
            if response.status_code != 200:
                break  # the pending login was dropped (302), or the code was not even checked (403)
    return statuses


def mfa_max_attempts(client) -> int:
    return client.application.config["MFA_MAX_ATTEMPTS"]


def lock(client, user, secret, clock) -> None:
    """Ten wrong codes over two password logins: the second step locks."""
    guess_patiently(client, user, secret, clock, logins=2)
    assert credential_of(user).locked_at is not None


# --- the limit holds across password logins -------------------------------------------------------------------


def test_a_known_password_buys_no_fresh_guesses(client, staff_member, clock):
    """The issue: every correct password used to reset the count. Thirty logins now check ten codes in all."""
    secret, _ = enrol(staff_member, now=clock.utcnow())
    statuses = guess_patiently(client, staff_member, secret, clock, logins=30)

    checked = actions("auth.mfa_failed", stage="login")
    assert len(checked) == 10  # MFA_LOCK_AFTER, not 30 x MFA_MAX_ATTEMPTS
    assert statuses.count(403) == 28  # two logins used the ten; each later one's first guess is refused unchecked
    assert [e.details["failures"] for e in checked] == list(range(1, 11))

    # the lock holds for the right code too
    wait_for_next_code(staff_member, clock)
    password_login(client, staff_member)
    response = submit_code(client, code_at(secret, clock.utcnow()))
    assert response.status_code == 403
    assert LOCKED in response.get_data(as_text=True)
    assert not is_logged_in(client)
    assert len(actions("auth.mfa_failed")) == 10


def test_wrong_codes_slow_down_after_five_and_early_codes_are_not_checked(client, staff_member, clock):
    secret, _ = enrol(staff_member, now=clock.utcnow())
    guess_patiently(client, staff_member, secret, clock, logins=1)  # five wrong codes, the pending login dropped
    assert [e.details["delay_seconds"] for e in actions("auth.mfa_failed")] == [0, 0, 0, 0, 30]

    password_login(client, staff_member)
    right = code_at(secret, clock.utcnow())
    for _ in range(3):  # even the right code waits: it is not looked at
        response = submit_code(client, right)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "30"
        retry_at = (clock.now() + timedelta(seconds=30)).strftime("%H:%M:%S")
        assert f"Vent til kl. {retry_at}" in response.get_data(as_text=True)
    assert not is_logged_in(client)
    assert len(actions("auth.mfa_failed")) == 5  # not counted either
    [throttled] = actions("auth.mfa_throttled")  # audited once, however many came
    assert throttled.details == {"stage": "login", "reason": "wait", "failures": 5, "retry_after": 30}
    assert throttled.subject_id == staff_member.id

    clock.advance(seconds=30)
    assert submit_code(client, code_at(secret, clock.utcnow())).status_code == 302
    assert is_logged_in(client)


def test_the_wait_doubles_up_to_five_minutes_and_the_tenth_wrong_code_locks(client, staff_member, clock):
    secret, _ = enrol(staff_member, now=clock.utcnow())
    lock(client, staff_member, secret, clock)
    delays = [e.details["delay_seconds"] for e in actions("auth.mfa_failed")]
    assert delays == [0, 0, 0, 0, 30, 60, 120, 240, 300, 300]
    assert [e.details["locked"] for e in actions("auth.mfa_failed")] == [False] * 9 + [True]
    [locked] = actions("auth.mfa_locked")
    assert locked.subject_id == staff_member.id and locked.details == {"failures": 10}


def test_the_lock_is_mailed_to_the_user_in_their_language(client, staff_member, clock):
    staff_member.locale = "en"
    db.session.commit()
    secret, _ = enrol(staff_member, now=clock.utcnow())
    lock(client, staff_member, secret, clock)
    [mail] = outbox_rows(mfa.KIND_MFA_LOCKED)
    assert mail.recipient_email == staff_member.email
    assert mail.subject == "Your two-step verification is locked"
    text = mail_text(mail)
    assert "recovery codes" in text and "someone else knows your password" in text
    assert "/password/forgot" in text
    assert secret not in text

    # further refused or wrong attempts while locked mail nothing more
    password_login(client, staff_member)
    submit_code(client, code_at(secret, clock.utcnow()))
    assert len(outbox_rows(mfa.KIND_MFA_LOCKED)) == 1


def test_the_page_says_it_is_locked_before_a_code_is_typed(client, staff_member, clock):
    secret, _ = enrol(staff_member, now=clock.utcnow())
    lock(client, staff_member, secret, clock)
    password_login(client, staff_member)
    page = client.get("/login/mfa").get_data(as_text=True)
    assert "koder fra appen virker ikke" in page


# --- recovery -------------------------------------------------------------------------------------------------


def test_a_recovery_code_unlocks_and_the_count_starts_again(client, staff_member, clock):
    secret, codes = enrol(staff_member, now=clock.utcnow())
    lock(client, staff_member, secret, clock)

    password_login(client, staff_member)
    too_early = submit_code(client, codes[0])  # recovery codes are paced by the slowdown as well
    assert too_early.status_code == 429
    assert "gendannelseskode fra kl." in too_early.get_data(as_text=True)
    wait_for_next_code(staff_member, clock)
    password_login(client, staff_member)  # the five minutes' wait outlived the pending login
    response = submit_code(client, codes[0])
    assert response.status_code == 302
    assert is_logged_in(client)
    [unlocked] = actions("auth.mfa_unlocked")
    assert unlocked.actor_id == staff_member.id and unlocked.details == {"by": "recovery", "failures": 10}
    credential = credential_of(staff_member)
    assert (credential.failed_codes, credential.locked_at, credential.next_code_at) == (0, None, None)

    # the app's codes work again, and four wrong ones cost no waiting
    post_form(client, "/logout", form_url="/account/mfa")
    password_login(client, staff_member)
    for _ in range(4):
        assert submit_code(client, wrong_code(secret, clock.utcnow())).status_code == 200
    clock.advance(seconds=30)
    assert submit_code(client, code_at(secret, clock.utcnow())).status_code == 302
    assert credential_of(staff_member).failed_codes == 0


def test_wrong_recovery_codes_count_like_any_code(client, staff_member, clock):
    secret, codes = enrol(staff_member, now=clock.utcnow())
    password_login(client, staff_member)
    for _ in range(5):
        submit_code(client, "abcd-efgh-jkmn")  # shaped like a recovery code, not one
    assert len(actions("auth.mfa_failed")) == 5
    assert credential_of(staff_member).failed_codes == 5

    password_login(client, staff_member)
    assert submit_code(client, codes[0]).status_code == 429  # a real one waits its turn too
    clock.advance(seconds=30)
    assert submit_code(client, codes[0]).status_code == 302


def test_a_coordinator_unlocks_the_second_step(client, app, staff_member, coordinator, clock):
    secret, _ = enrol(staff_member, now=clock.utcnow())
    lock(client, staff_member, secret, clock)

    other = app.test_client()
    post_form(other, "/login", {"email": coordinator.email, "password": factories.PASSWORD})
    page = other.get(f"/users/{staff_member.id}/edit").get_data(as_text=True)
    assert "Lås totrinsbekræftelse op" in page
    response = post_form(other, f"/users/{staff_member.id}/mfa/unlock", form_url=f"/users/{staff_member.id}/edit")
    assert response.status_code == 302
    assert "er låst op" in other.get(response.location).get_data(as_text=True)
    [unlocked] = actions("auth.mfa_unlocked")
    assert unlocked.actor_id == coordinator.id and unlocked.subject_id == staff_member.id
    assert unlocked.details == {"by": "coordinator", "failures": 10}
    assert "Lås totrinsbekræftelse op" not in other.get(f"/users/{staff_member.id}/edit").get_data(as_text=True)

    # the user's own app works again, straight away (the slowdown went with the lock)
    password_login(client, staff_member)
    assert submit_code(client, code_at(secret, clock.utcnow())).status_code == 302
    assert is_logged_in(client)


def test_only_another_coordinator_unlocks_with_csrf(client, app, login_as, staff_member, coordinator, clock):
    secret, _ = enrol(staff_member, now=clock.utcnow())
    c_secret, _ = enrol(coordinator, now=clock.utcnow())
    lock(client, staff_member, secret, clock)
    post_form(client, "/logout", form_url="/login")  # the attacker's browser is not logged in; this is

    colleague = factories.make_user("staff", email="kollega@test.dk")
    login_as(colleague)
    assert post_form(client, f"/users/{staff_member.id}/mfa/unlock", form_url="/me/courses").status_code == 403
    post_form(client, "/logout", form_url="/me/courses")

    password_login(client, coordinator)
    submit_code(client, code_at(c_secret, clock.utcnow()))
    assert client.post(f"/users/{staff_member.id}/mfa/unlock").status_code == 400  # no CSRF token
    assert post_form(client, f"/users/{coordinator.id}/mfa/unlock", form_url="/settings").status_code == 403
    assert post_form(client, "/users/999999/mfa/unlock", form_url="/settings").status_code == 404
    assert credential_of(staff_member).locked_at is not None
    assert actions("auth.mfa_unlocked") == []


# --- success resets; the account page counts too --------------------------------------------------------------


def test_a_right_code_resets_the_count(client, staff_member, clock):
    secret, _ = enrol(staff_member, now=clock.utcnow())
    password_login(client, staff_member)
    for _ in range(4):
        submit_code(client, wrong_code(secret, clock.utcnow()))
    assert credential_of(staff_member).failed_codes == 4
    assert submit_code(client, code_at(secret, clock.utcnow())).status_code == 302
    assert credential_of(staff_member).failed_codes == 0

    post_form(client, "/logout", form_url="/account/mfa")
    password_login(client, staff_member)
    for _ in range(4):  # four more without any wait: the earlier four are forgotten
        assert submit_code(client, wrong_code(secret, clock.utcnow())).status_code == 200
    assert actions("auth.mfa_throttled") == []


def test_the_account_pages_code_check_is_limited_too(client, staff_member, clock):
    """A stolen session must not guess its way to switching the second factor off."""
    secret, _ = enrol(staff_member, now=clock.utcnow())
    password_login(client, staff_member)
    submit_code(client, code_at(secret, clock.utcnow()))
    for _ in range(10):
        wait_for_next_code(staff_member, clock)
        response = post_form(
            client, "/account/mfa/disable", {"code": wrong_code(secret, clock.utcnow())}, form_url="/account/mfa"
        )
        assert response.status_code == 400
    assert len(actions("auth.mfa_failed", stage="account")) == 10
    assert len(actions("auth.mfa_locked")) == 1

    wait_for_next_code(staff_member, clock)
    response = post_form(
        client, "/account/mfa/disable", {"code": code_at(secret, clock.utcnow())}, form_url="/account/mfa"
    )
    assert response.status_code == 400
    assert LOCKED in response.get_data(as_text=True)
    assert mfa.has_mfa(staff_member)


def test_enrolment_codes_do_not_count_against_the_account(app, client, coordinator, clock):
    """While enrolling the secret is on the screen: wrong codes there are typos, not guesses."""
    app.config["MFA_REQUIRED"] = True
    post_form(client, "/login", {"email": coordinator.email, "password": factories.PASSWORD})
    for _ in range(4):
        post_form(client, "/login/mfa/setup", {"code": "000000"})
    assert len(actions("auth.mfa_failed", stage="enrolment")) == 4
    assert credential_of(coordinator).failed_codes == 0


@pytest.mark.parametrize(
    ("failures", "seconds"), [(0, 0), (4, 0), (5, 30), (6, 60), (8, 240), (9, 300), (10, 300), (10_000, 300)]
)
def test_the_slowdown_schedule(app, failures, seconds):
    assert mfa.slowdown_seconds(failures) == seconds
