"""Microsoft Entra ID's documented provisioning sequence, replayed over HTTP with Entra's own request shapes:
match by userName (no match is an empty ListResponse), create, update title and department (one PATCH per
attribute, "Replace"/"Add" capitalised, the work e-mail by path filter, and the path-less object form), disable
with the string "False", enable, delete. The payloads follow Microsoft's SCIM tutorial
(learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups) and the
known-issues page on PATCH behaviour (docs/integrations.md).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from app.accounts.models import User
from app.accounts.sso.models import UserIdentity
from app.audit.models import AuditEntry
from app.enrolment import services as enrolment_services
from app.enrolment.models import Enrolment, EnrolmentStatus
from app.extensions import db
from app.notifications.models import OutboxMessage, OutboxStatus
from app.scim.models import MappingKind, ScimUser, ScimValueMapping
from tests import factories
from tests.scim.helpers import ENTERPRISE, PATCH, USER, scim_client

TENANT = "d3b2c1a0-1111-4222-8333-444455556666"
OBJECT_ID = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"


def create_body(user_name="Test_User_ab6490ee@contoso.com", email="Test_User_fd0ea19b@contoso.com", **extra):
    body = {
        "schemas": [USER, ENTERPRISE],
        "externalId": OBJECT_ID,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Sanne Søgaard", "familyName": "Søgaard", "givenName": "Sanne"},
        "roles": [],
        "title": "Sagsbehandler",
        ENTERPRISE: {"department": "Børn og Familie", "employeeNumber": "4711"},
        # attributes this service does not offer are dropped, never stored
        "phoneNumbers": [{"type": "work", "value": "+45 1234 5678"}],
    }
    body.update(extra)
    return body


@pytest.fixture
def entra(app, coordinator):
    app.config["OIDC_ISSUER"] = f"https://login.microsoftonline.com/{TENANT}/v2.0"
    return scim_client(app, coordinator)


def test_the_whole_sequence(app, entra, clock, coordinator):
    role = factories.make_staff_role("Rådgiver")
    old_unit, new_unit = factories.make_unit("Børn og Familie"), factories.make_unit("Ældre og Sundhed")
    db.session.add_all(
        [
            ScimValueMapping(kind=MappingKind.TITLE, value_key="rådgiver", value="Rådgiver", staff_role_id=role.id),
            ScimValueMapping(
                kind=MappingKind.DEPARTMENT, value_key="børn og familie", value="Børn og Familie", unit_id=old_unit.id
            ),
            ScimValueMapping(
                kind=MappingKind.DEPARTMENT, value_key="ældre og sundhed", value="Ældre og Sundhed", unit_id=new_unit.id
            ),
        ]
    )
    db.session.commit()

    # 1. Matching: no user with that userName yet -> 200 and an empty list, never 404
    response = entra.get('/scim/v2/Users?filter=userName eq "Test_User_ab6490ee@contoso.com"')
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.json["totalResults"] == 0 and response.json["Resources"] == []

    # 2. Create
    response = entra.post("/scim/v2/Users", json=create_body())
    assert response.status_code == 201, response.json
    created = response.json
    scim_id = created["id"]
    assert response.headers["Location"].endswith(f"/scim/v2/Users/{scim_id}")
    assert created["userName"] == "Test_User_ab6490ee@contoso.com"  # as sent, not lower-cased
    assert created["externalId"] == OBJECT_ID and created["active"] is True
    assert created[ENTERPRISE] == {"department": "Børn og Familie", "employeeNumber": "4711"}
    assert "phoneNumbers" not in created and "roles" not in created
    user = db.session.scalar(select(User).where(User.email == "test_user_fd0ea19b@contoso.com"))
    assert (user.name, user.access_level.value, user.active, user.password_hash) == (
        "Sanne Søgaard",
        "staff",
        True,
        None,
    )
    assert user.unit_id == old_unit.id
    assert user.staff_role_id is None  # "Sagsbehandler" is not mapped: no role, and the value is listed
    unmapped = db.session.scalar(select(ScimValueMapping).where(ScimValueMapping.value_key == "sagsbehandler"))
    assert unmapped.staff_role_id is None
    # SSO and SCIM agree: the objectId is the person's single sign-on identity tid:oid
    identity = db.session.scalar(select(UserIdentity).where(UserIdentity.user_id == user.id))
    assert identity.subject == f"{TENANT}:{OBJECT_ID}"

    # matching now finds them (userName compares case-insensitively), and by id
    found = entra.get('/scim/v2/Users?filter=userName eq "test_user_AB6490EE@contoso.com"').json
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == scim_id
    assert entra.get(f"/scim/v2/Users/{scim_id}").json["userName"] == "Test_User_ab6490ee@contoso.com"

    # 3. Update title and department, one operation per attribute, as Entra sends them by default
    response = entra.patch(
        f"/scim/v2/Users/{scim_id}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {"op": "Replace", "path": "title", "value": "Rådgiver"},
                {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Ældre og Sundhed"},
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "Sanne.Soegaard@contoso.com"},
                {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "the-managers-scim-id"},
            ],
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["title"] == "Rådgiver"
    db.session.refresh(user)
    assert (user.staff_role_id, user.unit_id, user.email) == (role.id, new_unit.id, "sanne.soegaard@contoso.com")
    scim_row = db.session.scalar(select(ScimUser).where(ScimUser.user_id == user.id))
    assert scim_row.manager_ref == "the-managers-scim-id"

    # ... and the path-less form (aadOptscim062020): one replace with an object of dotted keys
    response = entra.patch(
        f"/scim/v2/Users/{scim_id}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {
                    "op": "replace",
                    "value": {
                        "displayName": "Sanne S. Søgaard",
                        "name.givenName": "Sanne S.",
                        f"{ENTERPRISE}:employeeNumber": "4712",
                    },
                }
            ],
        },
    )
    assert response.status_code == 200, response.json
    assert response.json[ENTERPRISE]["employeeNumber"] == "4712"
    db.session.refresh(user)
    assert user.name == "Sanne S. Søgaard"

    # 4. Disable: a boolean sent as the string "False"
    run = factories.make_course_run(days=(date(2026, 4, 1), date(2026, 4, 2), date(2026, 7, 1)), capacity=1)
    waiting = factories.make_user("staff", email="venter@test.dk")
    enrolment = enrolment_services.enrol(coordinator, run.id, user, clock.now(), clock.today())
    queued = enrolment_services.enrol(coordinator, run.id, waiting, clock.now(), clock.today())
    assert queued.status == EnrolmentStatus.WAITLISTED
    # the calendar invitations have gone out (a pending first invitation would be withdrawn instead)
    db.session.execute(update(OutboxMessage).values(status=OutboxStatus.SENT))
    db.session.commit()
    past = factories.make_course_run()  # 2008: history, never touched
    history = factories.make_enrolment(past, user)
    response = entra.patch(
        f"/scim/v2/Users/{scim_id}",
        json={"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )
    assert response.status_code == 200 and response.json["active"] is False
    db.session.refresh(user)
    assert user.active is False
    assert db.session.get(Enrolment, enrolment.id).status == EnrolmentStatus.CANCELLED
    assert db.session.get(Enrolment, queued.id).status == EnrolmentStatus.CONFIRMED  # the waiting list moved up
    assert db.session.get(Enrolment, history.id).status == EnrolmentStatus.CONFIRMED
    mails = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.recipient_email == "sanne.soegaard@contoso.com", OutboxMessage.status == OutboxStatus.PENDING
        )
    ).all()
    assert [mail.kind for mail in mails] == ["cancellation"] * 3  # METHOD:CANCEL, one per course day
    # still readable while deactivated (Entra reads soft-deleted users)
    assert entra.get(f"/scim/v2/Users/{scim_id}").json["active"] is False

    # 5. Enable: access again, not the seat
    response = entra.patch(
        f"/scim/v2/Users/{scim_id}",
        json={"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]},
    )
    assert response.status_code == 200 and response.json["active"] is True
    db.session.refresh(user)
    assert user.active is True
    assert db.session.get(Enrolment, enrolment.id).status == EnrolmentStatus.CANCELLED

    # 6. Delete: deactivated, the SCIM link gone, the person and their history stay
    assert entra.delete(f"/scim/v2/Users/{scim_id}").status_code == 204
    db.session.refresh(user)
    assert user.active is False and db.session.get(Enrolment, history.id) is not None
    missing = entra.get(f"/scim/v2/Users/{scim_id}")
    assert missing.status_code == 404
    assert missing.json == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "404",
        "detail": f"User {scim_id} not found.",
    }
    assert entra.get('/scim/v2/Users?filter=userName eq "Test_User_ab6490ee@contoso.com"').json["totalResults"] == 0

    # every call is in the audit log, by the client
    actions = [e.action for e in db.session.scalars(select(AuditEntry).where(AuditEntry.subject_id == user.id))]
    for action in ("user.create", "user.update", "user.deactivate", "user.activate", "user.deprovision"):
        assert action in actions
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "integration.call")).all()
    # 12 calls; the 404 after the delete is a refused read and logs nothing
    assert len(entries) == 11 and {e.client_id for e in entries} == {entra.client_row.id}
