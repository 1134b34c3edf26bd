"""The access matrix: every route x method x persona, with the status each persona must get.

One world is built per module (two providers with a provider user and runs each, two staff members with
enrolments and feedback, a coordinator, and an object of every kind). `ROUTES` below is an explicit table:
for every endpoint in `app.url_map`, the requests to make (URL with ids from the world, form data) and the
expected status per persona. Each cell is its own test, e.g.
`test_access_matrix[courses.run_detail GET other_provider]`.

Rules the table follows (app/core/access.py):
- anonymous: 302 to the login page (``LOGIN``), or the page itself for `@public` views;
- a logged-in user of the wrong access level: 403;
- the right level but someone else's object (another provider's run, another staff member's enrolment,
  a run the staff member's role can't see, a draft for a provider): 404 - its existence is private;
- allowed: 200, or 302 for actions that redirect. POSTs carry a valid CSRF token but often invalid or
  harmless data (an empty form, an action the service refuses): the point is the access decision. Where an
  allowed POST really changes something, its target is an object nothing else in the table uses.

Every refused cell (302 to login, 403, 404) must leave the database exactly as it was, and every GET (also
an allowed one) must too: `snapshot()` compares row counts and a checksum of every row of every table.

Public pages behind a signed link (password reset, invitation) are tried with a valid link from the world and
with a bogus one (400 for everybody). Every logged-in persona is halfway through setting up an authenticator
app (an unconfirmed MFA credential), so the MFA pages answer the same whatever order the cells run in.

`test_every_route_is_in_the_matrix` fails when a route is missing (its message prints the entry to add) or
when the table names a route or method that no longer exists.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyotp
import pytest
from sqlalchemy import select

from app import create_app
from app.accounts.mfa import services as mfa
from app.accounts.signin import tokens
from app.calendar import feeds
from app.core import clock
from app.courses.models import RunKind, RunStatus
from app.extensions import db, limiter
from app.integrations import services as integration_services
from app.notifications.models import OutboxMessage, OutboxStatus
from app.programmes.feedback_models import EarlierInvolvement, Feedback
from app.reporting.models import ExportDownload, ExportFormat
from app.scim.models import MappingKind, ScimUser, ScimValueMapping
from config import TestingConfig
from tests import factories
from tests.conftest import CSRF_RE, IsolatedClient
from tests.databases import private_database_url

PERSONAS = ("anonymous", "staff", "other_staff", "provider", "other_provider", "coordinator")
LOGIN = "login"  # 302 to the login page with ?next= (Flask-Login's answer to an anonymous request)

#: Tables a request may write to without changing anything the user asked to change:
#: - audit_entries, audit_entry_subjects: the audit log; a GET that shows people logs the read and the
#:   persons it showed (app.audit.services.record_read);
#: - export_downloads: the participant-list download log, written by the (GET) download by design;
#: - certificates: a certificate's verification code, made by its first (GET) download by design.
#: - data_versions: a new token only ever comes with a change to the rows it stands for, which is seen there
#:   (app.core.data_versions).
UNCHECKED_TABLES = frozenset(
    {"audit_entries", "audit_entry_subjects", "export_downloads", "certificates", "data_versions"}
)
#: "Last seen" style columns a request may touch, per table (none yet).
UNCHECKED_COLUMNS: dict[str, frozenset[str]] = {}


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request: `url` has {placeholders} filled from the world's ids (see `build_world`)."""

    method: str
    url: str
    expect: dict[str, int | str]
    data: dict[str, str] = field(default_factory=dict)
    #: Names a variant when an endpoint has several rows (e.g. "draft", "unknown-token").
    variant: str = ""
    #: An allowed request ends every session of the persona ("log out everywhere"): the cell checks that the
    #: persona's stored session really is refused afterwards, then logs the persona in again, so the later
    #: cells (which reuse one session cookie per persona) still run as that persona.
    ends_session: bool = False


def expect(ok: int | str = 200, allowed=("coordinator",), hidden=(), anonymous: int | str = LOGIN, **overrides):
    """`allowed` personas get `ok`, `hidden` ones 404, anonymous `anonymous`, everybody else 403."""
    result = {persona: 403 for persona in PERSONAS}
    result["anonymous"] = anonymous
    result.update({persona: ok for persona in allowed})
    result.update({persona: 404 for persona in hidden})
    result.update(overrides)
    return result


def coordinator_only(ok: int = 200):
    return expect(ok)


def logged_in(ok: int = 200):
    return expect(ok, allowed=PERSONAS[1:])


def public(ok: int = 200):
    return expect(ok, allowed=PERSONAS, anonymous=ok)


def bearer():
    """A route programs call with an integration client's bearer token (app.integrations.auth): 401 for every
    persona, logged in or not - a session never stands in for a token. The calls with tokens and scopes are in
    tests/integrations and tests/scim."""
    return expect(401, allowed=PERSONAS, anonymous=401)


#: A run of provider 1 open to staff 1's role: the run's provider and the staff member see it, the others don't.
RUN_PAGE = {"allowed": ("coordinator", "provider", "staff"), "hidden": ("other_provider", "other_staff")}
#: The coordinator and the run's provider (lists, attendance, feedback summary); staff are the wrong level.
RUN_PROVIDER = {"allowed": ("coordinator", "provider"), "hidden": ("other_provider",)}
#: Staff 1's own enrolment or run; staff 2 must not learn it exists.
OWN_STAFF = {"allowed": ("staff",), "hidden": ("other_staff",)}
EMPTY = {}
#: The name of the leaver anonymised by the privacy.anonymise_user row (typed to confirm).
LEAVER_NAME = "Lone Fratrådt"

ROUTES: dict[str, list[Case]] = {
    # --- main ---
    "main.home": [Case("GET", "/", public(302))],
    "main.healthz": [Case("GET", "/healthz", public())],
    "main.accessibility": [Case("GET", "/accessibility-statement", public())],
    "main.favicon_ico": [Case("GET", "/favicon.ico", public())],
    "main.favicon_svg": [Case("GET", "/favicon.svg", public())],
    "main.set_language": [Case("POST", "/language", public(302), {"lang": "da"})],
    "main.settings": [Case("GET", "/settings", coordinator_only())],
    # --- accounts ---
    "accounts.login": [
        Case("GET", "/login", public()),
        Case("POST", "/login", public(), {"email": "nobody@test.dk", "password": "wrong"}),
    ],
    # ends every session of the persona (app.accounts.signin.credentials.log_out): checked, then it logs in again
    "accounts.logout": [Case("POST", "/logout", logged_in(302), ends_session=True)],
    "accounts.user_list": [Case("GET", "/users", coordinator_only())],
    "accounts.user_create": [
        Case("GET", "/users/new", coordinator_only()),
        Case("POST", "/users/new", coordinator_only(), EMPTY),
    ],
    "accounts.user_edit": [
        Case("GET", "/users/{staff}/edit", coordinator_only()),
        Case("POST", "/users/{staff}/edit", coordinator_only(), {"name": ""}),
    ],
    "accounts.user_import": [
        Case("GET", "/users/import", coordinator_only()),
        Case("POST", "/users/import", coordinator_only(), EMPTY),
    ],
    "accounts.user_import_confirm": [Case("POST", "/users/import/confirm", coordinator_only(302), {"token": ""})],
    "accounts.staff_role_list": [Case("GET", "/staff-roles", coordinator_only())],
    "accounts.staff_role_create": [
        Case("GET", "/staff-roles/new", coordinator_only()),
        Case("POST", "/staff-roles/new", coordinator_only(), {"name": ""}),
    ],
    "accounts.staff_role_edit": [
        Case("GET", "/staff-roles/{role_a}/edit", coordinator_only()),
        Case("POST", "/staff-roles/{role_a}/edit", coordinator_only(), {"name": ""}),
    ],
    "accounts.staff_role_delete": [Case("POST", "/staff-roles/{role_spare}/delete", coordinator_only(302))],
    "accounts.unit_list": [Case("GET", "/units", coordinator_only())],
    "accounts.unit_create": [
        Case("GET", "/units/new", coordinator_only()),
        Case("POST", "/units/new", coordinator_only(), {"name": ""}),
    ],
    "accounts.unit_edit": [
        Case("GET", "/units/{unit}/edit", coordinator_only()),
        Case("GET", "/units/{unit}/edit?q=per", coordinator_only(), variant="search"),
        Case("POST", "/units/{unit}/edit", coordinator_only(), {"name": ""}),
    ],
    "accounts.unit_delete": [Case("POST", "/units/{unit_spare}/delete", coordinator_only(302))],
    # unit leaders (issue 24): the coordinator sets them; the search is a GET on the unit's page
    "accounts.unit_leader_add": [Case("POST", "/units/{unit_other}/leaders", coordinator_only(302), {"user_id": ""})],
    "accounts.unit_leader_remove": [
        Case("POST", "/units/{unit_other}/leaders/{other_staff}/delete", coordinator_only(302))
    ],
    # --- accounts: the own account page (every level) ---
    "accounts.account": [Case("GET", "/account", logged_in())],
    # a wrong current password: the service refuses and the page comes back with the error (400), so the
    # persona's password and session stay as they are
    "accounts.change_password": [
        Case(
            "POST",
            "/account/password",
            logged_in(400),
            {"current_password": "not-the-password", "new_password": "Et helt andet kodeord 2026"},
        ),
    ],
    # really ends every session of the persona: checked, then the persona logs in again (Case.ends_session)
    "accounts.logout_everywhere": [Case("POST", "/account/logout-everywhere", logged_in(302), ends_session=True)],
    # --- accounts: signed links (public: the link is the credential) ---
    # an address with no account: the "sent" page, the same as for a known one, and nothing is queued
    "accounts.password_forgot": [
        Case("GET", "/password/forgot", public()),
        Case("POST", "/password/forgot", public(), {"email": "nobody@test.dk"}),
    ],
    "accounts.password_reset": [
        Case("GET", "/password/reset/{reset_token}", public()),
        Case("POST", "/password/reset/{reset_token}", public(400), EMPTY),  # no password typed: the form again
        Case("GET", "/password/reset/{bogus_token}", public(400), variant="bogus-token"),
        Case(
            "POST",
            "/password/reset/{bogus_token}",
            public(400),
            {"password": "x", "confirm": "x"},
            variant="bogus-token",
        ),
    ],
    "accounts.accept_invitation": [
        Case("GET", "/invitation/{invitation_token}", public()),
        Case("POST", "/invitation/{invitation_token}", public(400), EMPTY),  # no password typed: the form again
        Case("GET", "/invitation/{bogus_token}", public(400), variant="bogus-token"),
        Case(
            "POST", "/invitation/{bogus_token}", public(400), {"password": "x", "confirm": "x"}, variant="bogus-token"
        ),
    ],
    # --- accounts: invitations, MFA reset, anonymisation (coordinator) ---
    # a user without a password that nothing else uses: the invitation is really queued
    "accounts.user_invite": [Case("POST", "/users/{invitee_spare}/invite", coordinator_only(302))],
    # after user_invite the only password-less users have a valid invitation: "nobody to invite"
    "accounts.user_invite_all": [Case("POST", "/users/invite-all", coordinator_only(302))],
    # not locked: nothing to unlock, back to the user's page; one's own lock is another coordinator's to lift
    "mfa.unlock": [
        Case("POST", "/users/{mfa_user}/mfa/unlock", coordinator_only(302)),
        Case("POST", "/users/{coordinator}/mfa/unlock", expect(403, allowed=()), variant="own"),
    ],
    "mfa.reset": [
        # a user with a confirmed authenticator app that nothing else uses: it is really removed
        Case("POST", "/users/{mfa_user}/mfa/reset", coordinator_only(302)),
        # one's own second factor is switched off from one's own MFA page, with a code: never by the reset
        Case("POST", "/users/{coordinator}/mfa/reset", expect(403, allowed=()), variant="own"),
    ],
    # the leaver nothing else uses: the typed name matches, so the account really is anonymised
    "privacy.anonymise_user": [
        Case("GET", "/users/{leaver}/anonymise", coordinator_only()),
        Case("POST", "/users/{leaver}/anonymise", coordinator_only(302), {"confirm_name": LEAVER_NAME}),
    ],
    # --- second factor: one's own (every level; each persona is halfway through setting it up) ---
    "mfa.account": [Case("GET", "/account/mfa", logged_in())],
    # a fresh secret for the unconfirmed credential: still halfway, then the setup page
    "mfa.account_enrol": [Case("POST", "/account/mfa/enrol", logged_in(302))],
    "mfa.account_setup": [
        Case("GET", "/account/mfa/setup", logged_in()),
        Case("POST", "/account/mfa/setup", logged_in(), EMPTY),
    ],  # no code: the page again
    # nothing confirmed to switch off or renew codes for: back to the MFA page
    "mfa.account_disable": [Case("POST", "/account/mfa/disable", logged_in(302), EMPTY)],
    "mfa.account_recovery_codes": [Case("POST", "/account/mfa/recovery-codes", logged_in(302), EMPTY)],
    # public, but only for the secret being set up: the logged-in user's own, or the pending login's
    "mfa.qr": [Case("GET", "/mfa/qr.svg", expect(allowed=PERSONAS[1:], anonymous=404))],
    # --- second factor and single sign-on during login (public) ---
    # no password login waiting for its second factor in these sessions: back to /login (no ?next=)
    "mfa.login_code": [Case("GET", "/login/mfa", public(302)), Case("POST", "/login/mfa", public(302), EMPTY)],
    "mfa.login_setup": [
        Case("GET", "/login/mfa/setup", public(302)),
        Case("POST", "/login/mfa/setup", public(302), EMPTY),
    ],
    # OIDC_ISSUER is not configured in TestingConfig (the SSO tests start their own provider): 404
    "sso.start": [Case("GET", "/login/sso", public(404))],
    "sso.callback": [Case("GET", "/login/sso/callback?code=x&state=y", public(404))],
    # --- audit, right of access ---
    "audit.audit_log": [Case("GET", "/audit", coordinator_only())],
    "audit.my_data": [Case("GET", "/me/data.json", logged_in())],
    "audit.user_data": [Case("GET", "/users/{staff}/data.json", coordinator_only())],
    # --- providers, programmes ---
    "providers.provider_list": [Case("GET", "/providers/", coordinator_only())],
    "providers.provider_create": [
        Case("GET", "/providers/new", coordinator_only()),
        Case("POST", "/providers/new", coordinator_only(), {"name": ""}),
    ],
    "providers.provider_detail": [Case("GET", "/providers/{provider_1}", coordinator_only())],
    "providers.provider_edit": [
        Case("GET", "/providers/{provider_1}/edit", coordinator_only()),
        Case("POST", "/providers/{provider_1}/edit", coordinator_only(), {"name": ""}),
    ],
    "programmes.programme_list": [Case("GET", "/programmes/", coordinator_only())],
    "programmes.programme_create": [
        Case("GET", "/programmes/new", coordinator_only()),
        Case("POST", "/programmes/new", coordinator_only(), {"name": ""}),
    ],
    "programmes.programme_detail": [Case("GET", "/programmes/{programme}", coordinator_only())],
    "programmes.programme_edit": [
        Case("GET", "/programmes/{programme}/edit", coordinator_only()),
        Case("POST", "/programmes/{programme}/edit", coordinator_only(), {"name": ""}),
    ],
    # --- the competence overview (issue 24): coordinators every unit, leaders (staff 1 leads {unit}) theirs ---
    "competence.overview_index": [
        Case("GET", "/competence/", expect(allowed=("coordinator", "staff"), hidden=("other_staff",)))
    ],
    "competence.unit_overview": [
        Case("GET", "/competence/units/{unit}", expect(allowed=("coordinator", "staff"), hidden=("other_staff",))),
        Case(
            "GET",
            "/competence/units/{unit_other}",
            expect(allowed=("coordinator",), hidden=("staff", "other_staff")),
            variant="not_led",
        ),
    ],
    "competence.unit_overview_xlsx": [
        Case(
            "GET",
            "/competence/units/{unit}/overview.xlsx",
            expect(allowed=("coordinator", "staff"), hidden=("other_staff",)),
        ),
        Case(
            "GET",
            "/competence/units/{unit_other}/overview.xlsx",
            expect(allowed=("coordinator",), hidden=("staff", "other_staff")),
            variant="not_led",
        ),
    ],
    "programmes.programme_dashboard": [Case("GET", "/programmes/{programme}/dashboard", coordinator_only())],
    "programmes.programme_report_pdf": [Case("GET", "/programmes/{programme}/report.pdf", coordinator_only())],
    "programmes.programme_report_xlsx": [Case("GET", "/programmes/{programme}/report.xlsx", coordinator_only())],
    "programmes.allocation_create": [
        Case("POST", "/programmes/{programme}/allocations", coordinator_only(), {"amount": ""}),
    ],
    "programmes.allocation_edit": [
        Case("GET", "/programmes/{programme}/allocations/{allocation}/edit", coordinator_only()),
        Case("POST", "/programmes/{programme}/allocations/{allocation}/edit", coordinator_only(), {"amount": ""}),
        # an allocation of another programme under this programme's URL
        Case(
            "GET",
            "/programmes/{programme}/allocations/{other_allocation}/edit",
            coordinator_only(404),
            variant="other-programme",
        ),
    ],
    "programmes.allocation_delete": [
        Case("POST", "/programmes/{programme}/allocations/{allocation_spare}/delete", coordinator_only(302)),
    ],
    "feedback.programme_feedback": [Case("GET", "/programmes/{programme}/feedback", coordinator_only())],
    # --- reference data ---
    "courses.method_list": [Case("GET", "/methods", coordinator_only())],
    "courses.method_create": [
        Case("GET", "/methods/new", coordinator_only()),
        Case("POST", "/methods/new", coordinator_only(), {"name": ""}),
    ],
    "courses.method_edit": [
        Case("GET", "/methods/{method}/edit", coordinator_only()),
        Case("POST", "/methods/{method}/edit", coordinator_only(), {"name": ""}),
    ],
    "courses.method_delete": [Case("POST", "/methods/{method_spare}/delete", coordinator_only(302))],
    "calendar.closed_day_list": [Case("GET", "/closed-days", coordinator_only())],
    "calendar.closed_day_create": [
        Case("GET", "/closed-days/new", coordinator_only()),
        Case("POST", "/closed-days/new", coordinator_only(), {"day": ""}),
    ],
    "calendar.closed_day_edit": [
        Case("GET", "/closed-days/{closed_day}/edit", coordinator_only()),
        Case("POST", "/closed-days/{closed_day}/edit", coordinator_only(), {"day": ""}),
    ],
    "calendar.closed_day_delete": [Case("POST", "/closed-days/{closed_day_spare}/delete", coordinator_only(302))],
    # --- runs ---
    "courses.run_list": [Case("GET", "/runs", logged_in())],
    "courses.run_detail": [
        Case("GET", "/runs/{run_a}", expect(**RUN_PAGE)),
        Case(
            "GET",
            "/runs/{draft_a}",
            expect(hidden=("provider", "other_provider", "staff", "other_staff")),
            variant="draft",
        ),
    ],
    "courses.run_create": [
        Case("GET", "/runs/new", coordinator_only()),
        Case("POST", "/runs/new", coordinator_only(), EMPTY),
    ],
    "courses.run_edit": [
        Case("GET", "/runs/{run_a}/edit", coordinator_only()),
        Case("POST", "/runs/{run_a}/edit", coordinator_only(), EMPTY),
    ],
    "courses.run_publish": [Case("POST", "/runs/{draft_to_publish}/publish", coordinator_only(302))],
    "courses.run_cancel": [Case("POST", "/runs/{run_to_cancel}/cancel-run", coordinator_only(302))],
    "courses.follow_up_proposal": [
        Case("GET", "/runs/follow-up-proposal?teaching_day_2=2008-10-01", coordinator_only()),
    ],
    "calendar.run_ics": [
        Case("GET", "/runs/{run_a}.ics", expect(**RUN_PAGE)),
        Case(
            "GET",
            "/runs/{draft_a}.ics",
            expect(hidden=("provider", "other_provider", "staff", "other_staff")),
            variant="draft",
        ),
    ],
    "calendar.feed": [
        Case("GET", "/calendar/{feed_token}.ics", public()),
        Case("GET", "/calendar/{unknown_token}.ics", public(404), variant="unknown-token"),
    ],
    "calendar.calendar_token": [Case("POST", "/me/calendar-token", logged_in(302))],
    # --- participant lists, attendance, feedback summaries ---
    "reporting.participants_csv": [
        Case("GET", "/runs/{run_a}/participants.csv", expect(**RUN_PROVIDER)),
        Case("GET", "/runs/{draft_a}/participants.csv", expect(hidden=("provider", "other_provider")), variant="draft"),
    ],
    "reporting.participants_xlsx": [Case("GET", "/runs/{run_a}/participants.xlsx", expect(**RUN_PROVIDER))],
    "reporting.participants_pdf": [Case("GET", "/runs/{run_a}/participants.pdf", expect(**RUN_PROVIDER))],
    "reporting.download_log": [Case("GET", "/runs/{run_a}/participants/downloads", coordinator_only())],
    "enrolment.attendance_edit": [
        Case("GET", "/runs/{run_a}/days/{day_a}/attendance", expect(**RUN_PROVIDER)),
        Case("POST", "/runs/{run_a}/days/{day_a}/attendance", expect(**RUN_PROVIDER), {"present": "999999"}),
        # a day of provider 2's run under provider 1's run: nobody, not even the coordinator
        Case(
            "GET",
            "/runs/{run_a}/days/{day_b}/attendance",
            expect(404, allowed=("coordinator", "provider"), hidden=("other_provider",)),
            variant="day-of-other-run",
        ),
        Case(
            "POST",
            "/runs/{run_a}/days/{day_b}/attendance",
            expect(404, allowed=("coordinator", "provider"), hidden=("other_provider",)),
            {"present": "999999"},
            variant="day-of-other-run",
        ),
    ],
    "feedback.run_feedback": [Case("GET", "/runs/{run_a}/feedback", expect(**RUN_PROVIDER))],
    # --- certificates of completion (staff 1 completed run A) ---
    "certificates.my_certificate": [Case("GET", "/me/courses/{enrolment_a}/certificate.pdf", expect(**OWN_STAFF))],
    # the run's provider sees its participant list but gets no certificates: the municipality issues them
    "certificates.run_certificates": [Case("GET", "/runs/{run_a}/certificates.pdf", coordinator_only())],
    # public; an unknown code: the form again with the message, for everybody
    "certificates.verify": [
        Case("GET", "/verify", public()),
        Case("POST", "/verify", public(), {"code": "2345-6789-ABCD"}),
    ],
    # --- enrolment: staff ---
    "enrolment.my_courses": [Case("GET", "/me/courses", expect(allowed=("staff", "other_staff")))],
    # already enrolled: the service refuses, harmlessly
    "enrolment.enrol": [
        Case("POST", "/runs/{run_a}/enrol", expect(302, **OWN_STAFF)),
        Case(
            "POST", "/runs/{draft_a}/enrol", expect(302, hidden=("staff", "other_staff"), allowed=()), variant="draft"
        ),
    ],
    # after the deadline: the service refuses, harmlessly
    "enrolment.cancel": [Case("POST", "/runs/{run_a}/cancel", expect(302, **OWN_STAFF))],
    "feedback.give_feedback": [
        Case("GET", "/me/feedback/{enrolment_a}", expect(**OWN_STAFF)),
        # the programme has ended: the form is shown read-only, nothing is saved
        Case("POST", "/me/feedback/{enrolment_a}", expect(**OWN_STAFF), EMPTY),
    ],
    # --- enrolment: the coordinator ---
    "enrolment.enrolment_create": [
        Case("GET", "/runs/{run_a}/enrolments", coordinator_only()),
        Case("GET", "/runs/{run_a}/enrolments?q=sa", coordinator_only()),
        Case("POST", "/runs/{run_a}/enrolments", coordinator_only(), {"user_id": ""}),
    ],
    "enrolment.enrolment_search": [Case("GET", "/runs/{run_a}/enrolments/search?q=sa", coordinator_only())],
    "enrolment.enrolment_history": [Case("GET", "/enrolments/{enrolment_a}/history", coordinator_only())],
    "enrolment.enrolment_move": [
        Case("GET", "/enrolments/{enrolment_a}/move", coordinator_only()),
        Case("POST", "/enrolments/{enrolment_a}/move", coordinator_only(), {"target": ""}),
    ],
    "enrolment.enrolment_cancel": [Case("POST", "/enrolments/{enrolment_spare}/cancel", coordinator_only(302))],
    # staff 1's confirmed enrolment: not requested / not waiting, so the service refuses, harmlessly
    "enrolment.enrolment_approve": [Case("POST", "/enrolments/{enrolment_a}/approve", coordinator_only(302))],
    "enrolment.enrolment_reject": [Case("POST", "/enrolments/{enrolment_a}/reject", coordinator_only(302))],
    "enrolment.enrolment_promote": [Case("POST", "/enrolments/{enrolment_a}/promote", coordinator_only(302))],
    "enrolment.run_complete": [Case("POST", "/runs/{run_to_complete}/complete", coordinator_only(302))],
    # --- leader approval (issue 24): staff 1 leads {unit}, where staff 2 works; staff 2 leads nobody ---
    "enrolment.approvals": [Case("GET", "/approvals", expect(allowed=("staff",), hidden=("other_staff",)))],
    # staff 2's own (confirmed) enrolment: the leader's empty form is refused next to its field (400), changing
    # nothing; staff 2 may not decide their own request (404)
    "enrolment.approval_decide": [
        Case("POST", "/approvals/{enrolment_b}", expect(400, allowed=("staff",), hidden=("other_staff",)), EMPTY)
    ],
    # --- mail ---
    "notifications.outbox_list": [Case("GET", "/outbox", coordinator_only())],
    "notifications.outbox_retry": [Case("POST", "/outbox/{outbox_failed}/retry", coordinator_only(302))],
    # --- integration clients (the coordinator's page; the token-called routes are below) ---
    "integrations.client_list": [Case("GET", "/integrations", coordinator_only())],
    "integrations.client_create": [
        Case("GET", "/integrations/new", coordinator_only()),
        Case("POST", "/integrations/new", coordinator_only(), EMPTY),
    ],
    # shows the new token once (200), on a client nothing else uses
    "integrations.client_rotate": [Case("POST", "/integrations/{integration_client}/rotate", coordinator_only(201))],
    "integrations.client_revoke": [
        Case("POST", "/integrations/{integration_client_spare}/revoke", coordinator_only(302))
    ],
    # --- the read API (/api/v1): a program's bearer token is the credential, a session is none (401 for all;
    # tests/api covers the tokens and scopes); its description is public ---
    "api.run_list": [Case("GET", "/api/v1/runs", bearer())],
    "api.run_detail": [Case("GET", "/api/v1/runs/{run_a}", bearer())],
    "api.run_participants": [Case("GET", "/api/v1/runs/{run_a}/participants", bearer())],
    "api.completion_list": [Case("GET", "/api/v1/completions", bearer())],
    "api.programme_list": [Case("GET", "/api/v1/programmes", bearer())],
    "api.programme_figures": [Case("GET", "/api/v1/programmes/{programme}/figures", bearer())],
    "api.openapi_json": [Case("GET", "/api/v1/openapi.json", public())],
    "api.docs_page": [Case("GET", "/api/v1/docs", public())],
    # --- SCIM provisioning: the coordinator's mapping page, then the bearer-token protocol ---
    "scim.mapping_list": [Case("GET", "/integrations/scim-mappings", coordinator_only())],
    "scim.mapping_edit": [
        Case("GET", "/integrations/scim-mappings/{scim_mapping}", coordinator_only()),
        Case("POST", "/integrations/scim-mappings/{scim_mapping}", coordinator_only(302), {"target": ""}),
    ],
    "scim.service_provider_config": [Case("GET", "/scim/v2/ServiceProviderConfig", bearer())],
    "scim.schema_list": [Case("GET", "/scim/v2/Schemas", bearer())],
    "scim.schema_detail": [Case("GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", bearer())],
    "scim.resource_type_list": [Case("GET", "/scim/v2/ResourceTypes", bearer())],
    "scim.resource_type_detail": [Case("GET", "/scim/v2/ResourceTypes/User", bearer())],
    "scim.user_list": [Case("GET", "/scim/v2/Users", bearer())],
    "scim.user_create": [Case("POST", "/scim/v2/Users", bearer(), EMPTY)],
    "scim.user_search": [Case("POST", "/scim/v2/Users/.search", bearer(), EMPTY)],
    "scim.root_search": [Case("POST", "/scim/v2/.search", bearer(), EMPTY)],
    "scim.user_detail": [Case("GET", "/scim/v2/Users/{scim_user}", bearer())],
    "scim.user_replace": [Case("PUT", "/scim/v2/Users/{scim_user}", bearer(), EMPTY)],
    "scim.user_patch": [Case("PATCH", "/scim/v2/Users/{scim_user}", bearer(), EMPTY)],
    "scim.user_delete": [Case("DELETE", "/scim/v2/Users/{scim_user}", bearer(), EMPTY)],
    "scim.unknown_endpoint": [
        Case(method, "/scim/v2/Groups", bearer(), EMPTY if method != "GET" else {})
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    ],
}


def _cells():
    for endpoint, cases in ROUTES.items():
        for case in cases:
            for persona in PERSONAS:
                label = f"{endpoint} {case.method}{' ' + case.variant if case.variant else ''} {persona}"
                yield pytest.param(endpoint, case, persona, id=label)


# --------------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------------

DAYS = (date(2008, 9, 30), date(2008, 10, 1), date(2009, 1, 2))


def build_world() -> dict[str, object]:
    """Every kind of object, owned by a known persona. Returns placeholder name -> id (or token)."""
    f = factories
    role_a, role_b, role_spare = f.make_staff_role("Sagsbehandler"), f.make_staff_role("Pædagog"), f.make_staff_role()
    unit, unit_spare, unit_other = f.make_unit("Børn og Familie"), f.make_unit(), f.make_unit("Ungeområdet")
    provider_1, provider_2 = f.make_provider("Familien i Centrum"), f.make_provider("Vilde Læreprocesser")
    users = {
        "coordinator": f.make_user("coordinator", name="Karin Koordinator", email="koordinator@test.dk"),
        "staff": f.make_user("staff", name="Sara Sagsbehandler", email="sara@test.dk", staff_role=role_a, unit=unit),
        "other_staff": f.make_user("staff", name="Per Pædagog", email="per@test.dk", staff_role=role_b, unit=unit),
        "provider": f.make_user("provider", name="Frida FIC", email="fic@test.dk", provider=provider_1),
        "other_provider": f.make_user("provider", name="Vilde Vildesen", email="vilde@test.dk", provider=provider_2),
    }
    f.make_leader(unit, users["staff"])  # staff 1 leads their own unit: the competence overview's leader
    feed_owner = f.make_user("staff", name="Kalle Kalender", email="kalle@test.dk", staff_role=role_a)
    method, method_spare = f.make_method("Netværksmøde"), f.make_method()
    programme, other_programme = f.make_programme(name="Styrket forældreansvar"), f.make_programme()
    allocation = f.make_allocation(programme, provider_1, 2008, 100_000)
    allocation_spare = f.make_allocation(programme, provider_2, 2008, 50_000)
    other_allocation = f.make_allocation(other_programme, provider_1, 2008, 10_000)
    closed_day, closed_day_spare = f.make_closed_day(date(2008, 12, 24)), f.make_closed_day(date(2008, 12, 31))

    def run(provider, role=None, **kw):
        r = f.make_course_run(programme, provider, days=DAYS, **kw)
        r.methods.append(method)
        if role is not None:
            r.eligible_roles.append(role)
        db.session.commit()
        return r

    run_a, run_b = run(provider_1, role_a, title="Forløb A"), run(provider_2, role_b, title="Forløb B")
    draft_a = run(provider_1, role_a, status=RunStatus.DRAFT, title="Kladde A", kind=RunKind.SPECIAL)
    draft_to_publish = run(provider_1, role_a, status=RunStatus.DRAFT)
    run_to_cancel, run_to_complete, run_c = run(provider_1, role_a), run(provider_1), run(provider_1, role_a)

    enrolment_a = f.make_enrolment(run_a, users["staff"])
    enrolment_b = f.make_enrolment(run_b, users["other_staff"])
    enrolment_spare = f.make_enrolment(run_c, users["staff"])
    f.make_enrolment(run_a, feed_owner)
    for enrolment, r in ((enrolment_a, run_a), (enrolment_b, run_b)):
        for day in r.days:
            f.make_attendance(enrolment, day)
        db.session.add(Feedback(enrolment=enrolment, earlier_involvement=EarlierInvolvement.YES, free_text="Godt"))
    now = datetime(2009, 1, 5, 12, tzinfo=UTC)
    db.session.add(
        ExportDownload(
            course_run_id=run_a.id,
            user_id=users["provider"].id,
            format=ExportFormat.CSV,
            person_count=2,
            created_at=now,
        )
    )
    outbox_failed = OutboxMessage(
        kind="notice",
        dedupe_key="matrix:failed",
        recipient_email="sara@test.dk",
        recipient_user_id=users["staff"].id,
        course_run_id=run_a.id,
        subject="Besked",
        message=b"Subject: Besked\r\n\r\nx\r\n",
        status=OutboxStatus.FAILED,
        attempts=8,
        next_attempt_at=now,
        last_error="550 no such user",
    )
    db.session.add(outbox_failed)
    feed_token = feeds.ensure_token(feed_owner)
    # Accounts for the signed links and the coordinator's user actions, each used by one row only.
    signed_at = (
        clock.utcnow()
    )  # the links are signed on the seam's clock (frozen in the tests) and must not have expired
    invitee = f.make_user(
        "staff",
        password=None,
        name="Ida Inviteret",
        email="ida@test.dk",
        invitation_sent_at=tokens.invitation_stamp(signed_at),
    )
    invitee_spare = f.make_user("staff", password=None, name="Ivan Uinviteret", email="ivan@test.dk")
    forgetful = f.make_user("staff", name="Glenn Glemsom", email="glenn@test.dk", staff_role=role_a)
    mfa_user = f.make_user("staff", name="Mona Totrin", email="mona@test.dk", staff_role=role_a)
    leaver = f.make_user("staff", name=LEAVER_NAME, email="lone@test.dk", staff_role=role_b, unit=unit)
    for user in (*users.values(), feed_owner, invitee, invitee_spare, forgetful, mfa_user, leaver):
        user.locale = "da"
    db.session.commit()
    # Mona has a confirmed authenticator app (and recovery codes) for the coordinator's reset; every persona
    # is halfway through setting one up (an unconfirmed secret: the login still needs the password only).
    credential = mfa.start_enrolment(mfa_user, now=signed_at)
    assert mfa.confirm_enrolment(credential, pyotp.TOTP(credential.secret).at(signed_at), now=signed_at, pending=False)
    for user in users.values():
        mfa.start_enrolment(user, now=signed_at)
    db.session.commit()
    scim_mapping = ScimValueMapping(kind=MappingKind.TITLE, value_key="leder", value="Leder", first_seen_at=signed_at)
    scim_user = ScimUser(
        scim_id="6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
        user=users["staff"],
        user_name_key="sara@test.dk",
        resource={"userName": "sara@test.dk"},
        created_at=signed_at,
        updated_at=signed_at,
    )
    db.session.add_all([scim_mapping, scim_user])
    db.session.commit()
    reset_token, invitation_token = tokens.make_reset_token(forgetful), tokens.make_invitation_token(invitee)
    integration_client, _ = integration_services.create_client(
        actor=users["coordinator"], name="Entra ID", scopes=["scim"], now=signed_at
    )
    integration_client_spare, _ = integration_services.create_client(
        actor=users["coordinator"], name="HR-systemet", scopes=["runs:read"], now=signed_at
    )
    db.session.commit()
    objects = {
        "role_a": role_a,
        "role_spare": role_spare,
        "unit": unit,
        "unit_spare": unit_spare,
        "provider_1": provider_1,
        "method": method,
        "method_spare": method_spare,
        "programme": programme,
        "allocation": allocation,
        "allocation_spare": allocation_spare,
        "other_allocation": other_allocation,
        "closed_day": closed_day,
        "closed_day_spare": closed_day_spare,
        "run_a": run_a,
        "draft_a": draft_a,
        "draft_to_publish": draft_to_publish,
        "run_to_cancel": run_to_cancel,
        "run_to_complete": run_to_complete,
        "enrolment_a": enrolment_a,
        "enrolment_b": enrolment_b,
        "enrolment_spare": enrolment_spare,
        "outbox_failed": outbox_failed,
        "staff": users["staff"],
        "other_staff": users["other_staff"],
        "unit_other": unit_other,
        "coordinator": users["coordinator"],
        "invitee_spare": invitee_spare,
        "mfa_user": mfa_user,
        "leaver": leaver,
        "integration_client": integration_client,
        "integration_client_spare": integration_client_spare,
        "scim_mapping": scim_mapping,
    }
    ids: dict[str, object] = {name: obj.id for name, obj in objects.items()}
    ids.update(
        day_a=run_a.days[0].id,
        day_b=run_b.days[0].id,
        feed_token=feed_token,
        unknown_token="x" * len(feed_token),
        reset_token=reset_token,
        invitation_token=invitation_token,
        bogus_token="bogus." + "x" * 40,
        scim_user=scim_user.scim_id,
    )
    ids["emails"] = {persona: user.email for persona, user in users.items()}
    return ids


def snapshot() -> dict[str, tuple[int, str]]:
    """Row count and a checksum of every row, per table (committed state; see UNCHECKED_TABLES)."""
    db.session.rollback()  # what a refused request left unflushed or uncommitted was never kept
    result = {}
    for table in db.metadata.sorted_tables:
        if table.name in UNCHECKED_TABLES:
            continue
        skip = UNCHECKED_COLUMNS.get(table.name, frozenset())
        columns = [c for c in table.columns if c.name not in skip]
        rows = db.session.execute(select(*columns).order_by(*table.primary_key.columns)).all()
        digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
        result[table.name] = (len(rows), digest)
    db.session.rollback()
    return result


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


class World:
    """The app, the world's ids, and a logged-in session (cookie + CSRF token) per persona."""

    def __init__(self, app, ids):
        self.app, self.ids = app, ids
        self.sessions: dict[str, tuple[str | None, str]] = {}
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]
        for persona in PERSONAS:
            self.log_in(persona)

    def log_in(self, persona: str) -> None:
        """A new session for `persona` (none for anonymous), stored for the cells that follow."""
        client = self.app.test_client()
        if persona != "anonymous":
            token = _csrf(client.get("/login"))
            response = client.post(
                "/login",
                data={"csrf_token": token, "email": self.ids["emails"][persona], "password": factories.PASSWORD},
            )
            assert response.status_code == 302, f"{persona} could not log in"
        token = _csrf(client.get("/accessibility-statement"))
        cookie = client.get_cookie(self.cookie_name)
        self.sessions[persona] = (cookie.value if cookie else None, token)

    def client(self, persona: str):
        """A fresh client holding `persona`'s session, and its CSRF token."""
        cookie, token = self.sessions[persona]
        client = self.app.test_client()
        if cookie:
            client.set_cookie(self.cookie_name, cookie)
        return client, token

    def url(self, case: Case) -> str:
        return case.url.format(**self.ids)


def _csrf(response) -> str:
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture(scope="module")
def world():
    # A database of its own (on SQLite an in-memory one of this app's engine): the matrix keeps its world for
    # the whole module, beside the suite's session-wide schema.
    url = private_database_url("_matrix")
    app = create_app(type("MatrixConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        try:
            yield World(app, build_world())
        finally:
            db.session.rollback()
            db.session.remove()
            if db.engine.dialect.name == "sqlite":
                raw = db.engine.raw_connection()
                raw.driver_connection.execute("PRAGMA foreign_keys=OFF")
                raw.close()
            db.drop_all()
            db.engine.dispose()


def _send(world: World, case: Case, persona: str, *, csrf: str | None = "valid"):
    # Every cell starts with fresh Flask-Limiter counters: the table's failed logins, reset requests and wrong
    # current passwords all come from one address and would add up across cells to a 429. Throttling has its
    # own tests (tests/accounts/test_throttling.py); here it would only hide the access decision.
    limiter.reset()
    client, token = world.client(persona)
    url = world.url(case)
    if case.method == "GET":
        return client.get(url)
    data = dict(case.data)
    if csrf == "valid":
        data["csrf_token"] = token
    elif csrf is not None:
        data["csrf_token"] = csrf
    return client.open(url, method=case.method, data=data)


def _status(response) -> int | str:
    if response.status_code == 302 and response.location.startswith("/login?next="):
        return LOGIN
    return response.status_code


# --------------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------------


def _placeholder_url(rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def _suggested_expect(app, endpoint: str, method: str) -> str:
    """A starting point for the missing row, from the view's declared rule (check the statuses yourself)."""
    rule = getattr(app.view_functions[endpoint], "access_rule", None)
    ok = 200 if method == "GET" else "<200 or 302>"
    if rule is None:
        return "<the view has no access rule: give it one first>"
    if rule.public:
        return f"public({ok})"
    levels = {str(level) for level in rule.levels}
    if levels == {"coordinator"} and rule.check is None:
        return f"coordinator_only({ok})"
    if len(levels) == 3 and rule.check is None:
        return f"logged_in({ok})"
    personas = [p for p in PERSONAS[1:] if p.removeprefix("other_") in levels and not p.startswith("other_")]
    hidden = [p for p in PERSONAS[1:] if p.startswith("other_") and p.removeprefix("other_") in levels]
    return f"expect({ok}, allowed={tuple(personas)!r}, hidden={tuple(hidden) if rule.check else ()!r})"


def test_every_route_is_in_the_matrix(world):
    """Every endpoint and method of app.url_map has rows in ROUTES, and ROUTES names nothing that is gone."""
    problems = []
    endpoints = set()
    for rule in world.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        endpoints.add(rule.endpoint)
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        covered = {case.method for case in ROUTES.get(rule.endpoint, [])}
        for method in methods:
            if method not in covered:
                data = ", EMPTY" if method != "GET" else ""
                problems.append(
                    f"{rule.endpoint} {method} {rule.rule} is missing from ROUTES in tests/test_access_matrix.py; add "
                    f'to ROUTES["{rule.endpoint}"]: Case("{method}", "{_placeholder_url(rule)}", '
                    f"{_suggested_expect(world.app, rule.endpoint, method)}{data}) "
                    "- fill the placeholders from build_world() (add the objects you need there)"
                )
    for endpoint in ROUTES.keys() - endpoints:
        problems.append(f"ROUTES names {endpoint}, which is not in app.url_map any more: remove its entry")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("endpoint", "case", "persona"), list(_cells()))
def test_access_matrix(world, endpoint, case, persona):
    expected = case.expect[persona]
    refused = expected in (LOGIN, 401, 403, 404)
    check_unchanged = refused or case.method == "GET"
    before = snapshot() if check_unchanged else None
    response = _send(world, case, persona)
    got = _status(response)
    assert got == expected, (
        f"{persona} {case.method} {world.url(case)} ({endpoint}) answered {response.status_code}"
        f"{' -> ' + response.location if response.location else ''}, expected {expected}"
    )
    if check_unchanged:
        changed = changed_tables(before, snapshot())
        assert changed == [], f"{persona} {case.method} {world.url(case)} changed {changed}"
    if case.ends_session and not refused:
        client, _token = world.client(persona)
        assert _status(client.get("/account")) == LOGIN, f"{persona}'s session survived {world.url(case)}"
        world.log_in(persona)


def _post_cases():
    """One (endpoint, case, persona) per POST row: the first persona the row allows (anonymous for @public)."""
    for endpoint, cases in ROUTES.items():
        for case in cases:
            if case.method == "GET":
                continue
            allowed = [p for p in PERSONAS if case.expect[p] not in (LOGIN, 401, 403, 404)]
            if allowed:
                label = f"{endpoint} {case.method}{' ' + case.variant if case.variant else ''} {allowed[0]}"
                yield pytest.param(endpoint, case, allowed[0], id=label)


@pytest.mark.parametrize("token", [None, "wrong-token", "tampered"], ids=["no-token", "wrong-token", "tampered"])
@pytest.mark.parametrize(("endpoint", "case", "persona"), list(_post_cases()))
def test_every_post_needs_a_valid_csrf_token(world, endpoint, case, persona, token):
    """A POST the persona may make, without a token or with a wrong one, answers 400 and changes nothing."""
    if token == "tampered":
        token = world.sessions[persona][1][:-4] + "AAAA"
    before = snapshot()
    response = _send(world, case, persona, csrf=token)
    assert response.status_code == 400, f"{persona} {case.method} {world.url(case)} answered {response.status_code}"
    assert changed_tables(before, snapshot()) == []


def test_logout_without_a_token_keeps_the_session(world):
    client, _token = world.client("staff")
    assert client.post("/logout").status_code == 400
    assert client.get("/me/courses").status_code == 200


def test_the_snapshot_sees_a_changed_row_and_ignores_the_audit_log(world):
    """The harness itself: a changed value is seen, a new audit entry is not."""
    from app.audit.services import record
    from app.courses.models import Method

    before = snapshot()
    method = db.session.get(Method, world.ids["method"])
    name, method.name = method.name, method.name + " (ændret)"
    db.session.commit()
    assert changed_tables(before, snapshot()) == ["methods"]
    method = db.session.get(Method, world.ids["method"])
    method.name = name
    record("matrix.probe")
    db.session.commit()
    assert changed_tables(before, snapshot()) == []
