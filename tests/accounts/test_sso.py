"""OpenID Connect single sign-on against a real provider on 127.0.0.1 (tests/accounts/oidc_provider.py):
the happy path, linking by email exactly once, and every way a login must be refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from app import create_app
from app.accounts.sso.models import UserIdentity
from app.audit.models import AuditEntry
from app.extensions import db
from config import TestingConfig
from tests import factories
from tests.accounts.helpers import csrf_token, is_logged_in
from tests.accounts.oidc_provider import OidcTestProvider, Tamper, make_keys
from tests.conftest import post_form

REFUSED_UNKNOWN = "Din konto findes ikke i Kursusportalen. Kontakt HR"


@pytest.fixture(scope="session")
def keys():
    return make_keys()


@pytest.fixture
def provider(keys):
    idp = OidcTestProvider(*keys).start()
    yield idp
    idp.stop()


@pytest.fixture
def sso(app, provider):
    """The app configured for the test provider."""
    app.config.update(
        OIDC_ISSUER=provider.issuer,
        OIDC_CLIENT_ID=provider.client_id,
        OIDC_CLIENT_SECRET=provider.client_secret,
        BASE_URL="https://kursus.kommune.example",
    )
    return provider


def start(client, url="/login/sso"):
    """Start an SSO login; return the provider's authorize URL the browser is sent to."""
    response = client.get(url)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.location


def authorize(authorize_url: str) -> str:
    """The browser at the provider: it signs the user in and redirects back; return the callback path+query."""
    response = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    callback = urlsplit(response.headers["Location"])
    assert callback.path == "/login/sso/callback"
    return f"{callback.path}?{callback.query}"


def sso_login(client, provider, user_claims: dict, tamper: Tamper | None = None, url="/login/sso"):
    provider.user = user_claims
    provider.tamper = tamper or Tamper()
    return client.get(authorize(start(client, url)))


def identities() -> list[UserIdentity]:
    return list(db.session.scalars(select(UserIdentity)))


def audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# --- the happy path and linking ---------------------------------------------------------------------------


def test_first_login_links_the_verified_email_once_and_logs_in(client, sso, staff_member):
    response = sso_login(client, sso, {"sub": "abc-123", "email": "Sara@Test.dk", "email_verified": True})
    assert response.status_code == 302
    assert is_logged_in(client)
    with client.session_transaction() as sess:
        assert sess["auth_method"] == "oidc"
        assert sess["_user_id"] == str(staff_member.id)
    [identity] = identities()
    assert (identity.user_id, identity.issuer, identity.subject) == (staff_member.id, sso.issuer, "abc-123")
    assert len(audit("auth.sso_linked")) == 1
    [login] = audit("auth.sso_login")
    assert login.actor_id == staff_member.id
    assert "token" not in str(login.details)


def test_the_login_uses_pkce_state_and_nonce(client, sso, staff_member):
    sso_login(client, sso, {"sub": "abc-123", "email": staff_member.email})
    [request] = sso.authorize_requests
    assert request["code_challenge_method"] == "S256" and request["code_challenge"]
    assert request["state"] and request["nonce"]
    assert set(request["scope"].split()) == {"openid", "email", "profile"}
    assert request["redirect_uri"] == "https://kursus.kommune.example/login/sso/callback"  # BASE_URL, not Host


def test_after_linking_the_subject_decides_not_the_email(client, sso, staff_member):
    sso_login(client, sso, {"sub": "abc-123", "email": staff_member.email})
    post_form(client, "/logout", form_url="/account/mfa")
    other = factories.make_user(email="ny-adresse@test.dk", name="Anden Person")

    # the IdP now reports another address, one that belongs to somebody else: still Sara, and only Sara
    response = sso_login(client, sso, {"sub": "abc-123", "email": "ny-adresse@test.dk"})
    assert response.status_code == 302
    with client.session_transaction() as sess:
        assert sess["_user_id"] == str(staff_member.id)
    assert [(i.user_id, i.subject) for i in identities()] == [(staff_member.id, "abc-123")]
    assert other.id not in {i.user_id for i in identities()}


def test_a_second_identity_with_a_linked_accounts_email_is_refused(client, sso, staff_member):
    sso_login(client, sso, {"sub": "abc-123", "email": staff_member.email})
    post_form(client, "/logout", form_url="/account/mfa")
    # somebody else at the IdP now has Sara's address: no takeover
    response = sso_login(client, sso, {"sub": "someone-else", "email": staff_member.email})
    assert response.status_code == 403
    assert REFUSED_UNKNOWN in response.get_data(as_text=True)
    assert not is_logged_in(client)
    assert len(identities()) == 1
    assert audit("auth.sso_refused")[-1].details == {"reason": "account_bound_to_other_identity"}


def test_an_unknown_user_is_refused_and_nobody_is_created(client, sso, staff_member):
    users_before = db.session.scalar(select(db.func.count()).select_from(type(staff_member)))
    response = sso_login(client, sso, {"sub": "new-person", "email": "ukendt@test.dk", "email_verified": True})
    assert response.status_code == 403
    assert REFUSED_UNKNOWN in response.get_data(as_text=True)
    assert not is_logged_in(client)
    assert identities() == []
    assert db.session.scalar(select(db.func.count()).select_from(type(staff_member))) == users_before
    assert audit("auth.sso_refused")[0].details == {"reason": "no_matching_user"}


def test_an_unverified_email_does_not_link(client, sso, staff_member):
    response = sso_login(client, sso, {"sub": "abc", "email": staff_member.email, "email_verified": False})
    assert response.status_code == 403
    assert identities() == [] and not is_logged_in(client)


def test_an_inactive_users_email_does_not_link_and_a_linked_inactive_user_is_refused(client, sso, staff_member):
    sso_login(client, sso, {"sub": "abc", "email": staff_member.email})
    post_form(client, "/logout", form_url="/account/mfa")
    staff_member.active = False
    db.session.commit()
    response = sso_login(client, sso, {"sub": "abc", "email": staff_member.email})
    assert response.status_code == 403 and not is_logged_in(client)


def test_linking_by_email_can_be_switched_off(app, client, sso, staff_member):
    app.config["OIDC_LINK_BY_EMAIL"] = False
    response = sso_login(client, sso, {"sub": "abc", "email": staff_member.email})
    assert response.status_code == 403 and identities() == []


def test_entra_id_is_keyed_by_tenant_and_object_id_and_may_link_by_sign_in_name(client, sso, coordinator):
    claims = {
        "sub": "pairwise-per-app",
        "tid": "tenant-1",
        "oid": "0000-aaaa",
        "preferred_username": coordinator.email.upper(),
        "name": "Karin",
    }
    response = sso_login(client, sso, claims)
    assert response.status_code == 302 and is_logged_in(client)
    [identity] = identities()
    assert identity.subject == "tenant-1:0000-aaaa"


def test_preferred_username_is_not_trusted_outside_entra_id(client, sso, staff_member):
    response = sso_login(client, sso, {"sub": "abc", "preferred_username": staff_member.email})
    assert response.status_code == 403 and identities() == []


def test_sso_satisfies_the_second_factor(app, client, sso, coordinator):
    app.config["MFA_REQUIRED"] = True
    response = sso_login(client, sso, {"sub": "k", "email": coordinator.email})
    assert response.status_code == 302 and not response.location.startswith("/login")
    assert is_logged_in(client)


def test_the_next_page_survives_the_round_trip(client, sso, staff_member):
    response = sso_login(client, sso, {"sub": "abc", "email": staff_member.email}, url="/login/sso?next=/account/mfa")
    assert response.location.endswith("/account/mfa")


def test_a_foreign_next_is_ignored(client, sso, staff_member):
    response = sso_login(
        client, sso, {"sub": "abc", "email": staff_member.email}, url="/login/sso?next=//evil.example/"
    )
    assert "evil" not in response.location


# --- refusals ----------------------------------------------------------------------------------------------


def assert_refused(client, response, status=400):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert "Du blev ikke logget ind" in response.get_data(as_text=True)
    assert not is_logged_in(client)
    assert identities() == []
    assert audit("auth.sso_refused")


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        pytest.param(Tamper(foreign_key=True), "invalid_id_token:bad_signature", id="bad-signature"),
        pytest.param(Tamper(unsigned=True), "invalid_id_token:unsupported_algorithm", id="unsigned"),
        pytest.param(
            Tamper(claims={"iss": "http://127.0.0.1:1/other-tenant/v2.0"}),
            "invalid_id_token:invalid_claim:iss",
            id="wrong-issuer",
        ),
        pytest.param(Tamper(claims={"aud": "another-app"}), "invalid_id_token:invalid_claim:aud", id="wrong-audience"),
        pytest.param(
            Tamper(claims={"aud": "another-app", "azp": "kursusportalen"}),
            "invalid_id_token:invalid_claim:aud",
            id="wrong-audience-right-azp",
        ),
        pytest.param(
            Tamper(claims={"exp": 1_000_000_000, "iat": 999_999_000}),
            "invalid_id_token:expired_token:exp",
            id="expired",
        ),
        pytest.param(
            Tamper(claims={"nonce": "not-the-nonce-we-sent"}),
            "invalid_id_token:invalid_claim:nonce",
            id="nonce-mismatch",
        ),
        pytest.param(Tamper(claims={"nonce": None}), "invalid_id_token:missing_claim:nonce", id="nonce-missing"),
        pytest.param(Tamper(claims={"sub": None}), "invalid_id_token:missing_claim:sub", id="no-subject"),
        pytest.param(Tamper(no_id_token=True), "no_id_token", id="no-id-token"),
    ],
)
def test_bad_id_tokens_are_refused(client, sso, staff_member, tamper, reason):
    response = sso_login(client, sso, {"sub": "abc", "email": staff_member.email}, tamper=tamper)
    assert_refused(client, response)
    assert [entry.details for entry in audit("auth.sso_refused")] == [{"reason": reason}]


def test_the_audit_names_the_reason_but_holds_no_token(client, sso, staff_member):
    sso_login(client, sso, {"sub": "abc", "email": staff_member.email}, tamper=Tamper(claims={"aud": "x"}))
    [entry] = audit("auth.sso_refused")
    assert entry.details["reason"].startswith("invalid_id_token")
    assert "eyJ" not in str(entry.details)


def _with_query(path: str, **changes) -> str:
    url = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return f"{url.path}?" + "&".join(f"{k}={v}" for k, v in query.items())


@pytest.mark.parametrize("state", ["forged-state", None], ids=["state-mismatch", "state-missing"])
def test_a_wrong_or_missing_state_is_refused(client, sso, staff_member, state):
    sso.user = {"sub": "abc", "email": staff_member.email}
    callback = authorize(start(client))
    response = client.get(_with_query(callback, state=state))
    assert_refused(client, response)
    assert sso.token_requests == 0  # refused before the code was even exchanged


def test_a_callback_from_another_browser_is_refused(app, client, sso, staff_member):
    """Login CSRF: the attacker's code and state, delivered to the victim's browser, fail the state check."""
    sso.user = {"sub": "attacker", "email": staff_member.email}
    attacker = app.test_client()
    callback = authorize(start(attacker))
    start(client)  # the victim has a login of their own under way
    assert_refused(client, client.get(callback))


def test_a_callback_replayed_is_refused(client, sso, staff_member):
    sso.user = {"sub": "abc", "email": staff_member.email}
    callback = authorize(start(client))
    assert client.get(callback).status_code == 302
    post_form(client, "/logout", form_url="/account/mfa")
    response = client.get(callback)
    assert response.status_code == 400 and not is_logged_in(client)


def test_a_callback_replayed_with_a_copy_of_the_earlier_cookie_is_refused(client, sso, staff_member, clock):
    """Authlib drops the used state from the session, but the session is a cookie: a copy taken before the
    callback still holds state, nonce and PKCE verifier. The provider redeems a code once; after
    LOGIN_MAX_SECONDS the copy is refused before the provider is even asked."""
    sso.user = {"sub": "abc", "email": staff_member.email}
    callback = authorize(start(client))
    with client.session_transaction() as sess:
        copy = dict(sess)
    assert client.get(callback).status_code == 302
    post_form(client, "/logout", form_url="/account/mfa")

    with client.session_transaction() as sess:
        sess.update(copy)
    assert client.get(callback).status_code == 400  # within minutes: the provider refuses the used code
    assert not is_logged_in(client)
    assert audit("auth.sso_refused")[-1].details == {"reason": "oauth:invalid_grant"}

    clock.advance(minutes=16)
    requests_before = sso.token_requests
    with client.session_transaction() as sess:
        sess.update(copy)
    assert client.get(callback).status_code == 400
    assert not is_logged_in(client)
    assert sso.token_requests == requests_before  # refused here, not at the provider
    assert audit("auth.sso_refused")[-1].details == {"reason": "login_expired"}


def test_a_login_that_comes_back_too_late_is_refused(client, sso, staff_member, clock):
    sso.user = {"sub": "abc", "email": staff_member.email}
    callback = authorize(start(client))
    clock.advance(minutes=16)
    assert_refused(client, client.get(callback))
    assert sso.token_requests == 0


def test_refused_callbacks_are_limited_per_ip_address(app, client, sso, staff_member):
    """Each refused callback costs a request to the provider and an audit entry: they count like failed
    password logins (LOGIN_LIMIT_PER_IP); after that even a good callback from that address waits."""
    app.config["LOGIN_LIMIT_PER_IP"] = "3 per 5 minutes"
    sso.user = {"sub": "abc", "email": staff_member.email}
    for _ in range(3):
        callback = authorize(start(client))
        assert client.get(_with_query(callback, code="forged-code")).status_code == 400
    callback = authorize(start(client))
    assert client.get(callback).status_code == 429
    assert not is_logged_in(client)
    assert len(audit("auth.sso_refused")) == 3


def test_people_the_provider_vouched_for_do_not_use_up_the_limit(app, client, sso, staff_member):
    """A refusal of a real person (not in Kursusportalen: 403) is no attack on the protocol: it does not count."""
    app.config["LOGIN_LIMIT_PER_IP"] = "2 per 5 minutes"
    for n in range(3):
        assert sso_login(client, sso, {"sub": f"stranger-{n}", "email": f"ukendt{n}@test.dk"}).status_code == 403
    assert sso_login(client, sso, {"sub": "abc", "email": staff_member.email}).status_code == 302


def test_an_error_from_the_provider_is_refused(client, sso):
    start(client)
    response = client.get("/login/sso/callback?error=access_denied&error_description=nej")
    assert response.status_code == 400 and not is_logged_in(client)


def test_discovery_naming_another_issuer_is_refused(client, sso):
    sso.advertised_issuer = "https://login.microsoftonline.com/{tenantid}/v2.0"  # Entra's "common" document
    response = client.get("/login/sso")
    assert response.status_code == 502
    assert audit("auth.sso_refused")[0].details == {"reason": "discovery_issuer_mismatch"}


def test_an_unreachable_provider_is_a_clear_page_not_a_500(app, client, sso):
    sso.stop()
    response = client.get("/login/sso")
    assert response.status_code == 502
    assert "svarer ikke" in response.get_data(as_text=True)


# --- configuration -------------------------------------------------------------------------------------------


def test_without_oidc_there_is_no_button_and_no_route(client):
    assert "kommunens konto" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback?code=x&state=y").status_code == 404


def test_the_login_page_shows_the_button_without_asking_the_provider(app, client, sso):
    app.config["OIDC_BUTTON_LABEL"] = "Log ind med Københavns konto"
    html = client.get("/login").get_data(as_text=True)
    assert "Log ind med Københavns konto" in html and 'href="/login/sso' in html
    assert 'name="password"' in html
    assert sso.authorize_requests == []


def test_the_app_starts_without_the_identity_provider(monkeypatch):
    class Unreachable(TestingConfig):
        OIDC_ISSUER = "http://127.0.0.1:9/tenant/v2.0"  # discard port: nothing answers
        OIDC_CLIENT_ID = "kursusportalen"
        OIDC_CLIENT_SECRET = "s3cret"  # noqa: S105

    def no_network(*args, **kwargs):
        raise AssertionError("the app talked to the identity provider at start-up")

    monkeypatch.setattr(requests.Session, "request", no_network)
    app = create_app(Unreachable)
    html = app.test_client().get("/login").get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()  # this app's own pool: no connection left for the garbage collector
    assert "kommunens konto" in html


def test_local_login_can_be_switched_off(app, client, sso, staff_member):
    app.config["LOCAL_LOGIN_ENABLED"] = False
    html = client.get("/login").get_data(as_text=True)
    assert 'name="password"' not in html
    assert "kommunens konto" in html
    response = client.post(
        "/login", data={"csrf_token": csrf_token(client), "email": staff_member.email, "password": factories.PASSWORD}
    )
    assert response.status_code == 404
    assert not is_logged_in(client)
    assert client.get("/login/mfa").status_code == 404
    assert client.get("/login/mfa/setup").status_code == 404
    assert client.get("/password/forgot").status_code == 404
    assert client.get("/password/reset/any-token").status_code == 404
    assert client.get("/invitation/any-token").status_code == 404
    # single sign-on still works
    assert sso_login(client, sso, {"sub": "abc", "email": staff_member.email}).status_code == 302
    assert is_logged_in(client)
    assert 'href="/account/mfa"' not in client.get("/me/courses").get_data(as_text=True)  # nothing to set up


def test_the_mfa_page_is_linked_in_the_header_while_local_login_is_on(client, login_as, staff_member):
    login_as(staff_member)
    assert 'href="/account/mfa"' in client.get("/me/courses").get_data(as_text=True)
