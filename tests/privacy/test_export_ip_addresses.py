"""The person's own data download (/me/data.json) holds the IP addresses the audit log recorded about them or by
them: of what they did, and of the requests about their account that nobody logged in made (a failed login, a
password-reset request). The address of a coordinator who looked them up is the coordinator's, not theirs."""

from __future__ import annotations

from tests import factories
from tests.conftest import post_form

MINE, STRANGER, COORDINATOR = "10.20.30.40", "198.51.100.7", "192.0.2.99"


def _from(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def test_my_data_holds_the_ip_addresses_recorded_about_and_by_me(client, coordinator):
    sara = factories.make_user(name="Sara Sagsbehandler", email="sara@test.dk")
    failed = post_form(client, "/login", {"email": "sara@test.dk", "password": "forkert-kodeord"}, **_from(STRANGER))
    assert failed.status_code == 200
    post_form(client, "/password/forgot", {"email": "sara@test.dk"}, **_from(STRANGER))
    assert (
        post_form(
            client, "/login", {"email": coordinator.email, "password": factories.PASSWORD}, **_from(COORDINATOR)
        ).status_code
        == 302
    )
    assert client.get(f"/users/{sara.id}/edit", **_from(COORDINATOR)).status_code == 200
    client.post("/logout", data={"csrf_token": _token(client)}, **_from(COORDINATOR))
    login = post_form(client, "/login", {"email": "sara@test.dk", "password": factories.PASSWORD}, **_from(MINE))
    assert login.status_code == 302

    data = client.get("/me/data.json", **_from(MINE)).get_json()

    about = {e["action"]: e for e in data["audit_about_me"]}
    assert about["auth.login_failed"]["ip_address"] == STRANGER
    assert about["auth.password_reset_requested"]["ip_address"] == STRANGER
    assert about["auth.login"]["ip_address"] == MINE
    assert "ip_address" not in about["user.view"]  # the coordinator's address
    by_me = {e["action"]: e for e in data["audit_by_me"]}
    assert by_me["auth.login"]["ip_address"] == MINE
    assert COORDINATOR not in str(data)


def _token(client) -> str:
    from tests.conftest import csrf_token_from

    return csrf_token_from(client.get("/users").get_data(as_text=True))
