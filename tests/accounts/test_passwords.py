"""The password policy: length, guessability (zxcvbn, with the user's own name and email), Danish messages,
applied where passwords are set and never at login."""

from __future__ import annotations

import pytest

from app.accounts.signin.passwords import PASSWORD_MAX_LENGTH, check_new_password, password_problems, user_inputs
from app.core.exceptions import ValidationFailed
from app.demo import DEMO_PASSWORD
from app.extensions import db
from tests import factories
from tests.conftest import post_form

STRONG = "blå hest under broen"


def problems(password, name="Sara Sagsbehandler", email="sara.s@test.dk"):
    return password_problems(password, inputs=user_inputs(name, email))


def test_a_long_unusual_passphrase_is_accepted(app):
    assert problems(STRONG) == []
    assert problems("x7#Lq!9vR2$mZ") == []


def test_the_demo_password_meets_the_policy(app):
    assert problems(DEMO_PASSWORD, name="Karin Koordinator", email="koordinator@demo.test") == []


def test_too_short(app):
    assert problems("kort-men-ok") == ["Adgangskoden skal være på mindst 12 tegn."]


def test_the_minimum_length_is_configurable(app):
    app.config["PASSWORD_MIN_LENGTH"] = 16
    assert problems("x7#Lq!9vR2$mZ") == ["Adgangskoden skal være på mindst 16 tegn."]


def test_too_long(app):
    assert problems("a1b2c3d4e5" * 13) == [f"Skriv højst {PASSWORD_MAX_LENGTH} tegn."]


def test_exactly_the_maximum_is_accepted(app):
    assert problems(("Zq7! blå fjordhest under broen ved Amager " * 4)[:PASSWORD_MAX_LENGTH]) == []


def test_only_spaces(app):
    assert problems(" " * 14) == ["Adgangskoden må ikke kun bestå af mellemrum."]


@pytest.mark.parametrize("password", ["password1234", "qwertyuiopasdf", "123456789012", "kodeord12345", "Password2024"])
def test_common_and_guessable_passwords_are_refused(app, password):
    found = problems(password)
    assert found[0] == "Adgangskoden er for let at gætte."
    assert len(found) == 2  # and a Danish hint


def test_the_users_own_name_and_email_make_it_guessable(app):
    found = problems("sagsbehandler sara", name="Sara Sagsbehandler", email="sara.s@test.dk")
    assert found == [
        "Adgangskoden er for let at gætte.",
        "Den må ikke indeholde dit navn, din e-mailadresse eller ord som Kursusportalen.",
    ]
    # the same words are fine for somebody else
    assert problems("sagsbehandler sara 7", name="Ole Olsen", email="ole@test.dk") == []


def test_repetition_gets_a_hint_about_repetition(app):
    assert problems("aaaaaaaaaaaaaaaa")[1] == "Undgå gentagelser og rækkefølger som aaa, abc og 1234."


def test_check_new_password_raises_at_the_named_field(app):
    with pytest.raises(ValidationFailed) as caught:
        check_new_password("password1234", name="Sara", email="sara@test.dk", field="new_password")
    assert list(caught.value.errors) == ["new_password"]
    assert check_new_password(STRONG, name="Sara", email="sara@test.dk") == STRONG


def test_english_messages_follow_the_locale(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        found = problems("kort")
    assert found and found[0]  # translated by the integrator; never empty, never an exception


def test_login_does_not_apply_the_policy(client, app):
    """An old or demo-loaded password that the policy would refuse today still logs in."""
    user = factories.make_user(email="gammel@test.dk", password=None)
    user.set_password("kort")
    db.session.commit()
    response = post_form(client, "/login", {"email": "gammel@test.dk", "password": "kort"})
    assert response.status_code == 302


def test_coordinator_setting_a_guessable_password_is_refused(client, login_as, coordinator, staff_member):
    login_as(coordinator)
    old_hash = staff_member.password_hash
    response = post_form(
        client,
        f"/users/{staff_member.id}/edit",
        {
            "name": staff_member.name,
            "email": staff_member.email,
            "access_level": "staff",
            "staff_role_id": "",
            "unit_id": "",
            "provider_id": "",
            "active": "y",
            "password": "password1234",
        },
    )
    assert response.status_code == 200
    assert "Adgangskoden er for let at gætte." in response.get_data(as_text=True)
    db.session.refresh(staff_member)
    assert staff_member.password_hash == old_hash
