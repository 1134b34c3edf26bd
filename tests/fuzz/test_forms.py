"""Arbitrary input at every form-POST route of the application (found by walking `app.url_map`): never a
5xx, never the probe script unescaped in the page, and a request that is refused (200/400/422 re-render)
leaves every table's row count as it was — nothing half-written.

Each route is posted to as the user who may use it, with the fields of the form the page really shows
(`conftest.forms_on`), each kept, changed to another option, set to nasty text (NUL, RTL, emoji, very long,
SQL/HTML/template snippets, huge numbers, impossible dates) or left out."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import clock
from app.extensions import db, limiter
from tests.conftest import csrf_token_from, post_form
from tests.factories import PASSWORD
from tests.fuzz.conftest import FUZZ_SETTINGS, SCRIPT_PROBE, form_data, forms_on, nasty_text, row_counts

#: endpoint -> (who posts, the URL, the page the form is on; None: the URL itself). `{...}` are Scene ids.
ROUTES: dict[str, tuple[str | None, str, str | None]] = {
    "accounts.login": (None, "/login", None),
    "accounts.logout": ("coordinator", "/logout", "/runs"),
    "main.set_language": (None, "/language", "/login"),
    "calendar.calendar_token": ("newcomer", "/me/calendar-token", "/me/courses"),
    "calendar.closed_day_create": ("coordinator", "/closed-days/new", None),
    "calendar.closed_day_edit": ("coordinator", "/closed-days/{closed_day}/edit", None),
    "calendar.closed_day_delete": ("coordinator", "/closed-days/{closed_day}/delete", "/closed-days"),
    "courses.method_create": ("coordinator", "/methods/new", None),
    "courses.method_edit": ("coordinator", "/methods/{method}/edit", None),
    "courses.method_delete": ("coordinator", "/methods/{method}/delete", "/methods"),
    "courses.run_create": ("coordinator", "/runs/new", None),
    "courses.run_edit": ("coordinator", "/runs/{run}/edit", None),
    "courses.run_publish": ("coordinator", "/runs/{draft}/publish", "/runs/{draft}"),
    "courses.run_cancel": ("coordinator", "/runs/{run}/cancel-run", "/runs/{run}"),
    "enrolment.enrol": ("newcomer", "/runs/{run}/enrol", "/runs/{run}"),
    "enrolment.cancel": ("enrolled", "/runs/{run}/cancel", "/runs/{run}"),
    "enrolment.enrolment_create": ("coordinator", "/runs/{run}/enrolments", None),
    "enrolment.approval_decide": ("leader", "/approvals/{requested}", "/approvals"),
    "enrolment.enrolment_approve": ("coordinator", "/enrolments/{requested}/approve", "/runs/{run}"),
    "enrolment.enrolment_reject": ("coordinator", "/enrolments/{requested}/reject", "/runs/{run}"),
    "enrolment.enrolment_promote": ("coordinator", "/enrolments/{waitlisted}/promote", "/runs/{run}"),
    "enrolment.enrolment_cancel": ("coordinator", "/enrolments/{confirmed}/cancel", "/runs/{run}"),
    "enrolment.enrolment_move": ("coordinator", "/enrolments/{confirmed}/move", None),
    "enrolment.attendance_edit": ("coordinator", "/runs/{past}/days/{past_day}/attendance", None),
    "enrolment.run_complete": ("coordinator", "/runs/{past}/complete", "/runs/{past}"),
    "feedback.give_feedback": ("participant", "/me/feedback/{done}", None),
    "notifications.outbox_retry": ("coordinator", "/outbox/{message}/retry", "/outbox"),
    "programmes.programme_create": ("coordinator", "/programmes/new", None),
    "programmes.programme_edit": ("coordinator", "/programmes/{programme}/edit", None),
    "programmes.allocation_create": ("coordinator", "/programmes/{programme}/allocations", "/programmes/{programme}"),
    "programmes.allocation_edit": ("coordinator", "/programmes/{programme}/allocations/{allocation}/edit", None),
    "programmes.allocation_delete": (
        "coordinator",
        "/programmes/{programme}/allocations/{allocation}/delete",
        "/programmes/{programme}",
    ),
    "providers.provider_create": ("coordinator", "/providers/new", None),
    "providers.provider_edit": ("coordinator", "/providers/{provider}/edit", None),
    "accounts.staff_role_create": ("coordinator", "/staff-roles/new", None),
    "accounts.staff_role_edit": ("coordinator", "/staff-roles/{role}/edit", None),
    "accounts.staff_role_delete": ("coordinator", "/staff-roles/{role}/delete", "/staff-roles"),
    "accounts.unit_create": ("coordinator", "/units/new", None),
    "accounts.unit_edit": ("coordinator", "/units/{unit}/edit", None),
    "accounts.unit_delete": ("coordinator", "/units/{unit}/delete", "/units"),
    "accounts.unit_leader_add": ("coordinator", "/units/{unit}/leaders", "/units/{unit}/edit"),
    "accounts.unit_leader_remove": ("coordinator", "/units/{unit}/leaders/{user}/delete", "/units/{unit}/edit"),
    "accounts.user_create": ("coordinator", "/users/new", None),
    "accounts.user_edit": ("coordinator", "/users/{user}/edit", None),
    "accounts.user_import": ("coordinator", "/users/import", None),
    "accounts.user_import_confirm": ("coordinator", "/users/import/confirm", "/users/import"),
    "accounts.user_invite": ("coordinator", "/users/{invitee}/invite", "/users/{invitee}/edit"),
    "accounts.user_invite_all": ("coordinator", "/users/invite-all", "/users"),
    "accounts.change_password": ("newcomer", "/account/password", "/account"),
    "accounts.logout_everywhere": ("newcomer", "/account/logout-everywhere", "/account"),
    "accounts.password_forgot": (None, "/password/forgot", None),
    "certificates.verify": (None, "/verify", None),
    "integrations.client_create": ("coordinator", "/integrations/new", None),
    "integrations.client_rotate": ("coordinator", "/integrations/{integration}/rotate", "/integrations"),
    "integrations.client_revoke": ("coordinator", "/integrations/{integration}/revoke", "/integrations"),
    "scim.mapping_edit": ("coordinator", "/integrations/scim-mappings/{mapping}", None),
    "accounts.password_reset": (None, "/password/reset/{reset}", None),
    "accounts.accept_invitation": (None, "/invitation/{invitation}", None),
    "mfa.account_enrol": ("newcomer", "/account/mfa/enrol", "/account/mfa"),
    "mfa.account_setup": ("enrolling", "/account/mfa/setup", None),
    "mfa.account_recovery_codes": ("with_mfa", "/account/mfa/recovery-codes", "/account/mfa"),
    "mfa.account_disable": ("with_mfa", "/account/mfa/disable", "/account/mfa"),  # a formaction button
    "mfa.reset": ("coordinator", "/users/{with_mfa}/mfa/reset", "/users/{with_mfa}/edit"),
    "mfa.unlock": ("coordinator", "/users/{with_mfa}/mfa/unlock", "/users/{with_mfa}/edit"),
    # "pending:": the password was right, the login waits for the second factor (the session holds it)
    "mfa.login_code": ("pending:with_mfa", "/login/mfa", None),
    "mfa.login_setup": ("pending:coordinator", "/login/mfa/setup", None),  # MFA_REQUIRED: see CONFIG
    "privacy.anonymise_user": ("coordinator", "/users/{leaver}/anonymise", None),
}
#: No slowdown and no lock of the second step, whatever the number of wrong codes.
UNLIMITED_CODES = {"MFA_SLOWDOWN_AFTER": 10**6, "MFA_LOCK_AFTER": 10**6}
#: App configuration a route's test needs.
CONFIG: dict[str, dict] = {
    # A coordinator without an app must set one up before the login completes only when MFA is required.
    "mfa.login_setup": {"MFA_REQUIRED": True, "MFA_MAX_ATTEMPTS": 10**6},
    # Five wrong codes would drop the pending login and leave the later examples posting to a redirect; the
    # account's own limits (slowdown, lock) would refuse the later examples unchecked.
    "mfa.login_code": {"MFA_MAX_ATTEMPTS": 10**6, **UNLIMITED_CODES},
    "mfa.account_recovery_codes": UNLIMITED_CODES,
    "mfa.account_disable": UNLIMITED_CODES,
}
#: Routes whose form is not on the page they are posted from, and the fields it would have.
FORM_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "accounts.user_import_confirm": ("token",),  # on the preview
    "mfa.unlock": (),  # on the user's page only while their second step is locked
    "accounts.unit_leader_remove": (),  # on the unit's page only next to one of its leaders
}
#: Tables a route may change although it answers with a re-rendered page: refusals that are audited by design.
MAY_CHANGE_ON_REFUSAL: dict[str, set[str]] = {
    "accounts.login": {"audit_entries"},  # auth.login_failed (the throttle's counters are not in the database)
    # auth.password_reset_requested for any address, account or not: the same work either way (issue 20)
    "accounts.password_forgot": {"audit_entries"},
    # auth.mfa_failed; the failure counts (the pending login's, the account's) are columns of mfa_credentials
    "mfa.login_code": {"audit_entries"},
    "mfa.login_setup": {"audit_entries"},
    # auth.mfa_failed for a wrong current code ("the failed attempt is audited")
    "mfa.account_recovery_codes": {"audit_entries"},
    "mfa.account_disable": {"audit_entries"},
}
REFUSED = {200, 400, 422}


#: POST routes that take no form: SCIM's JSON protocol for the directory (bearer token, no session, no CSRF),
#: fuzzed against its own rules in tests/scim and by scim2-tester.
NOT_FORMS = {"scim.user_create", "scim.user_search", "scim.root_search", "scim.unknown_endpoint"}


def test_every_post_route_is_fuzzed(app):
    posting = {
        rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods and rule.endpoint not in NOT_FORMS
    }
    assert posting == set(ROUTES), "add the new POST route to ROUTES (and what it needs to the scene)"


def _form_for(html: str, page: str, url: str):
    forms = [f for f in forms_on(html, page) if f.method == "post" and url in (f.action, *f.formactions)]
    return forms[0] if forms else None


def _login(client, scene, who: str):
    """Log in through the real forms: the password, then (for a user with an app) a current code. A
    "pending:" user stops after the password, at the second step."""
    pending = who.startswith("pending:")
    name = who.removeprefix("pending:")
    response = post_form(client, "/login", {"email": scene.users[name].email, "password": PASSWORD})
    assert response.status_code == 302
    second_step = urlsplit(response.location).path in ("/login/mfa", "/login/mfa/setup")
    assert second_step == (pending or name in scene.totp_secrets), f"unexpected login of {who}: {response.location}"
    if second_step and not pending:
        response = post_form(client, "/login/mfa", {"code": pyotp.TOTP(scene.totp_secrets[name]).at(clock.utcnow())})
        assert response.status_code == 302 and urlsplit(response.location).path != "/login"


def _prepare(client, scene, who, page: str, url: str):
    """Log in and read the form once per test (the first example): the strategy must not change shape when
    an earlier example changed the data (a deleted row's form is gone, but its route is still posted to)."""
    state = getattr(client, "fuzz_state", None)
    if state is None:
        if who is not None:
            _login(client, scene, who)
        html = client.get(page).get_data(as_text=True)
        token = csrf_token_from(html) if 'name="csrf_token"' in html else "no-token"
        state = client.fuzz_state = (_form_for(html, page, url), token)
    return state


def _uploads(form):
    """File inputs get arbitrary bytes under a .csv/.xlsx/odd name (the import has its own fuzz test)."""
    names = [f.name for f in (form.fields.values() if form else []) if f.kind == "file"]
    return st.fixed_dictionaries(
        {
            name: st.tuples(st.binary(max_size=300), st.sampled_from(["a.csv", "a.xlsx", "a.txt", "", "..\\x.csv"]))
            for name in names
        }
    )


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
@FUZZ_SETTINGS
@given(data=st.data())
def test_arbitrary_input_never_fails_and_a_refusal_writes_nothing(client, scene, endpoint, data):
    who, url_template, page_template = ROUTES[endpoint]
    client.application.config.update(CONFIG.get(endpoint, {}))  # the app is the test's own
    url = url_template.format(**scene.ids)
    form, token = _prepare(client, scene, who, (page_template or url_template).format(**scene.ids), url)
    assert form is not None or endpoint in FORM_ELSEWHERE, f"no form posting to {url} on its page"
    payload = data.draw(form_data(form, token, FORM_ELSEWHERE.get(endpoint, ())), label="form")
    files = data.draw(_uploads(form), label="files")
    for name, (content, filename) in files.items():
        payload[name] = (io.BytesIO(content), filename)
    multipart = bool(files) or (form is not None and form.enctype == "multipart/form-data")

    # The throttles (logins, reset requests, password changes) would answer 429 after a few examples, before
    # the view: start every example with empty counters, so each one reaches the form.
    limiter.reset()
    before = row_counts()
    response = client.post(url, data=payload, content_type="multipart/form-data" if multipart else None)
    db.session.rollback()  # as at the end of a real request: nothing uncommitted survives
    body = response.get_data(as_text=True)

    assert response.status_code < 500, f"{endpoint} answered {response.status_code}"
    assert SCRIPT_PROBE not in body, f"{endpoint} echoed markup unescaped"
    if response.status_code in REFUSED:
        allowed = MAY_CHANGE_ON_REFUSAL.get(endpoint, set())
        after = row_counts()
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t] and t not in allowed}
        assert not changed, f"{endpoint} refused the request ({response.status_code}) but changed rows: {changed}"


@pytest.mark.parametrize(
    "url", ["/runs", "/users", "/providers/", "/programmes/", "/outbox", "/closed-days", "/runs/follow-up-proposal"]
)
@FUZZ_SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "q",
                "page",
                "programme",
                "provider",
                "status",
                "kind",
                "year",
                "sort",
                "run",
                "role",
                "unit",
                "access",
                "teaching_day_2",
            ]
        ),
        nasty_text,
        max_size=4,
    )
)
def test_arbitrary_filters_never_fail(client, scene, url, params):
    if getattr(client, "fuzz_state", None) is None:
        _login(client, scene, "coordinator")
        client.fuzz_state = ()
    response = client.get(url, query_string=params)
    assert response.status_code < 500
    assert SCRIPT_PROBE not in response.get_data(as_text=True)
