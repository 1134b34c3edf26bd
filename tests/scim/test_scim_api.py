"""The SCIM service's rules one by one, over HTTP with a bearer token: discovery, errors, security (tokens,
scopes, rate limit, audit), filters and paging, taking over existing accounts, the SSO binding, deactivation,
and the coordinator's mapping page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.sso.models import UserIdentity
from app.audit.models import AuditEntry
from app.core.clock import utcnow
from app.extensions import db
from app.integrations import services as integration_services
from app.scim.models import MappingKind, ScimUser, ScimValueMapping
from tests import factories
from tests.conftest import post_form
from tests.scim.helpers import ENTERPRISE, PATCH, USER, scim_client

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
TENANT = "d3b2c1a0-1111-4222-8333-444455556666"


def body(user_name="anna@kommune.dk", email=None, **extra):
    data = {
        "schemas": [USER],
        "userName": user_name,
        "active": True,
        "emails": [{"type": "work", "value": email or user_name, "primary": True}],
        "name": {"givenName": "Anna", "familyName": "Andersen"},
    }
    data.update(extra)
    return data


@pytest.fixture
def entra(app, coordinator):
    return scim_client(app, coordinator)


def _create(entra, **kw):
    response = entra.post("/scim/v2/Users", json=body(**kw))
    assert response.status_code == 201, response.json
    return response.json["id"]


# --- discovery --------------------------------------------------------------------------------------------


def test_discovery_describes_only_what_is_offered(entra):
    config = entra.get("/scim/v2/ServiceProviderConfig").json
    assert config["patch"]["supported"] is True and config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    schemas = {s["id"]: s for s in entra.get("/scim/v2/Schemas").json["Resources"]}
    assert set(schemas) == {USER, ENTERPRISE}
    names = {a["name"] for a in schemas[USER]["attributes"]}
    assert {"userName", "name", "displayName", "title", "active", "emails"} <= names
    assert not names & {"password", "phoneNumbers", "addresses", "photos", "x509Certificates"}
    assert entra.get(f"/scim/v2/Schemas/{USER}").json["id"] == USER
    [user_type] = entra.get("/scim/v2/ResourceTypes").json["Resources"]
    assert user_type["endpoint"] == "/Users" and user_type["schemaExtensions"][0]["schema"] == ENTERPRISE


# --- errors -----------------------------------------------------------------------------------------------


def test_refusals_are_scim_errors(app, entra, coordinator):
    missing = entra.http.get("/scim/v2/Users")
    assert missing.status_code == 401
    assert missing.json["schemas"] == [ERROR] and missing.json["status"] == "401"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.headers["Content-Type"].startswith("application/scim+json")
    api_only = scim_client(app, coordinator, name="BI", scopes=("runs:read",))
    forbidden = api_only.get("/scim/v2/Users")
    assert forbidden.status_code == 403 and forbidden.json["schemas"] == [ERROR]
    assert entra.get("/scim/v2/Users/nobody").json == {
        "schemas": [ERROR],
        "status": "404",
        "detail": "User nobody not found.",
    }
    assert entra.get("/scim/v2/Groups/some-id").status_code == 404
    assert entra.get('/scim/v2/Groups?filter=displayName eq "x"').json["totalResults"] == 0  # Test Connection
    assert entra.post("/scim/v2/Schemas", json={}).status_code == 405
    bad_json = entra.http.post(
        "/scim/v2/Users",
        data="{nope",
        headers={"Authorization": f"Bearer {entra.token}", "Content-Type": "application/scim+json"},
    )
    assert bad_json.status_code == 400 and bad_json.json["scimType"] == "invalidSyntax"
    nul = entra.post("/scim/v2/Users", json=body(displayName="Anna\u0000"))
    assert nul.status_code == 400 and nul.json["scimType"] == "invalidValue"
    too_long = entra.post("/scim/v2/Users", json=body(user_name="a" * 300 + "@kommune.dk"))
    assert too_long.status_code == 400
    long_texts = entra.post(
        "/scim/v2/Users",
        json=body(user_name="lang@kommune.dk", title="T" * 500, displayName="N" * 500, externalId="E" * 500),
    )
    assert long_texts.status_code == 201 and long_texts.json["title"] == "T" * 500  # returned as sent, stored clipped
    bad_filter = entra.get('/scim/v2/Users?filter=title co "x"')
    assert bad_filter.status_code == 400 and bad_filter.json["scimType"] == "invalidFilter"
    assert entra.post("/scim/v2/Users", json={"schemas": [USER], "emails": []}).status_code == 400
    no_address = entra.post("/scim/v2/Users", json={"schemas": [USER], "userName": "not-an-address"})
    assert no_address.status_code == 400 and no_address.json["scimType"] == "invalidValue"
    _create(entra)
    duplicate = entra.post("/scim/v2/Users", json=body(email="other@kommune.dk"))
    assert duplicate.status_code == 409 and duplicate.json["scimType"] == "uniqueness"
    assert db.session.scalar(select(User).where(User.email == "other@kommune.dk")) is None


def test_a_revoked_token_is_refused(entra, coordinator):
    integration_services.revoke_client(entra.client_row, actor=coordinator, now=utcnow())
    db.session.commit()
    response = entra.get("/scim/v2/Users")
    assert response.status_code == 401 and response.json["schemas"] == [ERROR]


def test_the_rate_limit_answers_429_with_retry_after(app, entra):
    app.config["INTEGRATION_RATE_LIMIT"] = "2 per minute"
    assert [entra.get("/scim/v2/Users").status_code for _ in range(2)] == [200, 200]
    response = entra.get("/scim/v2/Users")
    assert response.status_code == 429 and response.json["schemas"] == [ERROR]
    assert int(response.headers["Retry-After"]) >= 1


def test_reads_and_changes_are_audited_with_the_client_as_actor(entra):
    scim_id = _create(entra)
    user = db.session.scalar(select(User).where(User.email == "anna@kommune.dk"))
    entra.get(f"/scim/v2/Users/{scim_id}")
    entra.get('/scim/v2/Users?filter=userName eq "anna@kommune.dk"')
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.subject_id == user.id)).all()
    by_action = {e.action: e for e in entries}
    assert {"user.create", "user.view"} <= set(by_action)
    assert all(e.client_id == entra.client_row.id and e.actor_id is None for e in entries)
    search = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.search"))
    assert search.details == {"via": "scim", "filter": ["userName"]}  # the attribute, never the value


# --- filters and paging -----------------------------------------------------------------------------------


def test_filters_and_paging(entra):
    ids = [_create(entra, user_name=f"p{n}@kommune.dk", externalId=f"ext{n}") for n in range(3)]
    page = entra.get("/scim/v2/Users?startIndex=2&count=1").json
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert page["Resources"][0]["id"] == ids[1]
    assert entra.get("/scim/v2/Users?count=0").json["Resources"] == []
    assert entra.get("/scim/v2/Users?filter=externalId eq ext2").json["Resources"][0]["id"] == ids[2]
    work = entra.get('/scim/v2/Users?filter=emails[type eq "work"].value eq "P1@kommune.dk"').json
    assert [r["id"] for r in work["Resources"]] == [ids[1]]
    both = entra.get('/scim/v2/Users?filter=userName eq "p0@kommune.dk" and externalId eq "ext1"').json
    assert both["totalResults"] == 0
    only = entra.get(f"/scim/v2/Users/{ids[0]}?attributes=userName").json
    assert "userName" in only and "emails" not in only and only["id"] == ids[0]
    search = entra.post("/scim/v2/Users/.search", json={"filter": 'userName eq "p2@kommune.dk"'}).json
    assert [r["id"] for r in search["Resources"]] == [ids[2]]
    assert entra.get("/scim/v2/Users?startIndex=x").status_code == 400


# --- writes -----------------------------------------------------------------------------------------------


def test_put_replaces_and_unknown_attributes_are_never_stored(entra):
    scim_id = _create(entra)
    replaced = entra.put(
        f"/scim/v2/Users/{scim_id}",
        json=body(
            displayName="Anna B. Andersen", title="Leder", addresses=[{"type": "work", "streetAddress": "Vej 1"}]
        ),
    )
    assert replaced.status_code == 200, replaced.json
    assert replaced.json["displayName"] == "Anna B. Andersen" and "addresses" not in replaced.json
    row = db.session.scalar(select(ScimUser).where(ScimUser.scim_id == scim_id))
    assert "addresses" not in row.resource and row.title == "Leder"
    assert db.session.get(User, row.user_id).name == "Anna B. Andersen"
    # a PATCH on an attribute this service does not offer changes nothing and is no error
    response = entra.patch(
        f"/scim/v2/Users/{scim_id}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "12345678"}],
        },
    )
    assert response.status_code == 200 and "phoneNumbers" not in response.json


def test_an_existing_staff_account_is_taken_over_not_duplicated(entra):
    imported = factories.make_user("staff", email="anna@kommune.dk", name="Anna (import)")
    scim_id = _create(entra, user_name="Anna@Kommune.dk")
    row = db.session.scalar(select(ScimUser).where(ScimUser.scim_id == scim_id))
    assert row.user_id == imported.id
    assert db.session.scalar(select(User.name).where(User.id == imported.id)) == "Anna Andersen"


def test_a_coordinators_address_is_not_taken_over(entra):
    factories.make_user("coordinator", email="chef@kommune.dk")
    response = entra.post("/scim/v2/Users", json=body(user_name="chef@kommune.dk"))
    assert response.status_code == 409 and response.json["scimType"] == "uniqueness"


def test_externalid_and_the_sso_identity_agree(app, entra):
    app.config["OIDC_ISSUER"] = f"https://login.microsoftonline.com/{TENANT}/v2.0"
    oid = "11111111-2222-4333-8444-555555555555"
    other = factories.make_user("staff", email="bo@kommune.dk")
    db.session.add(
        UserIdentity(user=other, issuer=app.config["OIDC_ISSUER"], subject=f"{TENANT}:{oid}", linked_at=utcnow())
    )
    db.session.commit()
    refused = entra.post("/scim/v2/Users", json=body(externalId=oid))
    assert refused.status_code == 409 and "single sign-on" in refused.json["detail"]
    scim_id = _create(entra, externalId=oid.replace("1", "9"))
    user_id = db.session.scalar(select(ScimUser.user_id).where(ScimUser.scim_id == scim_id))
    identity = db.session.scalar(select(UserIdentity).where(UserIdentity.user_id == user_id))
    assert identity.subject == f"{TENANT}:{oid.replace('1', '9')}"
    # the directory may not re-point the account at another person's object id
    response = entra.patch(
        f"/scim/v2/Users/{scim_id}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "Replace", "path": "externalId", "value": oid.replace("1", "7")}],
        },
    )
    assert response.status_code == 409


def test_deactivation_ends_the_session_at_once(app, entra, login_as):
    scim_id = _create(entra)
    user = db.session.scalar(select(User).where(User.email == "anna@kommune.dk"))
    user.set_password(factories.PASSWORD)
    db.session.commit()
    browser = app.test_client()
    from tests.conftest import post_form as form

    assert form(browser, "/login", {"email": "anna@kommune.dk", "password": factories.PASSWORD}).status_code == 302
    assert browser.get("/me/courses").status_code == 200
    entra.patch(
        f"/scim/v2/Users/{scim_id}",
        json={"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    response = browser.get("/me/courses")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_anonymising_the_person_forgets_what_the_directory_sent(app, entra, coordinator):
    from app.core import clock
    from app.privacy import services as privacy

    scim_id = _create(entra)
    user = db.session.scalar(select(User).where(User.email == "anna@kommune.dk"))
    privacy.anonymise_user(coordinator, user.id, clock.now(), clock.today(), confirm_name="Anna Andersen")
    assert db.session.scalar(select(ScimUser).where(ScimUser.scim_id == scim_id)) is None


# --- the coordinator's mapping page -----------------------------------------------------------------------


def test_the_coordinator_maps_an_unknown_title_and_its_users_follow(client, login_as, coordinator, entra):
    role = factories.make_staff_role("Socialrådgiver")
    _create(entra, title="Socialraadgiver")
    user = db.session.scalar(select(User).where(User.email == "anna@kommune.dk"))
    assert user.staff_role_id is None
    mapping = db.session.scalar(select(ScimValueMapping).where(ScimValueMapping.kind == MappingKind.TITLE))
    login_as(coordinator)
    page = client.get("/integrations/scim-mappings").get_data(as_text=True)
    assert "Socialraadgiver" in page and "Ikke tilknyttet" in page
    url = f"/integrations/scim-mappings/{mapping.id}"
    assert post_form(client, url, {"target": "999999"}).status_code == 200  # not in the list: refused on the form
    response = post_form(client, url, {"target": str(role.id)})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.staff_role_id == role.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "scim_mapping.update"))
    assert entry.actor_id == coordinator.id and entry.details["users"] == 1


def test_the_mapping_page_in_english(client, login_as, coordinator):
    coordinator.locale = "en"
    db.session.commit()
    login_as(coordinator)
    page = client.get("/integrations/scim-mappings").get_data(as_text=True)
    assert "Job titles and departments from the directory" in page


def test_the_user_list_reads_a_fixed_number_of_statements(entra):
    from tests.querycount import lazy_loads_raise, recorded_statements

    def statements() -> int:
        with recorded_statements() as seen, lazy_loads_raise():
            assert entra.get("/scim/v2/Users").status_code == 200
        return len(seen)

    _create(entra, user_name="first@kommune.dk")
    one = statements()
    for n in range(5):
        _create(entra, user_name=f"more{n}@kommune.dk")
    assert statements() == one


def test_more_of_entras_patch_shapes(entra):
    scim_id = _create(entra, emails=[{"type": "home", "value": "anna@privat.dk"}])
    user = db.session.scalar(select(User).where(User.email == "anna@privat.dk"))
    operations = [
        # a work address that isn't there yet is created by its path filter
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "anna@kommune.dk"},
        {"op": "REPLACE", "path": "displayName", "value": "Anna A."},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "boss-id"},
    ]
    response = entra.patch(f"/scim/v2/Users/{scim_id}", json={"schemas": [PATCH], "Operations": operations})
    assert response.status_code == 200, response.json
    db.session.refresh(user)
    assert (user.email, user.name) == ("anna@kommune.dk", "Anna A.")  # the work address wins
    assert response.json[ENTERPRISE]["manager"]["value"] == "boss-id"
    removed = entra.patch(
        f"/scim/v2/Users/{scim_id}",
        json={"schemas": [PATCH], "Operations": [{"op": "Remove", "path": f"{ENTERPRISE}:manager"}]},
    )
    assert removed.status_code == 200 and "manager" not in removed.json.get(ENTERPRISE, {})
    assert db.session.scalar(select(ScimUser.manager_ref).where(ScimUser.scim_id == scim_id)) is None
    bad = entra.patch(
        f"/scim/v2/Users/{scim_id}", json={"schemas": [PATCH], "Operations": [{"op": "Move", "path": "title"}]}
    )
    assert bad.status_code == 400 and bad.json["schemas"] == [ERROR]
