"""`flask users create`: the same service as the web form; clear errors with a non-zero exit code."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.core.access import AccessLevel
from app.extensions import db
from tests import factories
from tests.accounts.helpers import is_logged_in
from tests.conftest import post_form

PASSWORD = "secret-password-123"


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def create(runner, *args, input=None):
    return runner.invoke(args=["users", "create", *args], input=input)


def test_creates_a_coordinator_who_can_log_in(runner, client):
    result = create(
        runner, "--email", "Chef@Kommune.DK", "--name", "Karen Chef", "--access", "coordinator", "--password", PASSWORD
    )
    assert result.exit_code == 0, result.output
    assert "chef@kommune.dk" in result.output
    user = db.session.scalar(select(User).where(User.email == "chef@kommune.dk"))
    assert (user.name, user.access_level, user.active) == ("Karen Chef", AccessLevel.COORDINATOR, True)
    response = post_form(client, "/login", {"email": "chef@kommune.dk", "password": PASSWORD})
    assert response.status_code == 302
    assert is_logged_in(client)
    assert client.get("/users").status_code == 200


def test_prompts_for_the_password_hidden_with_confirmation(runner):
    result = create(
        runner, "--email", "prompt@kommune.dk", "--name", "P", "--access", "staff", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    user = db.session.scalar(select(User).where(User.email == "prompt@kommune.dk"))
    assert user.check_password(PASSWORD)


def test_prompt_repeats_when_the_confirmation_differs(runner):
    result = create(
        runner,
        "--email",
        "p2@kommune.dk",
        "--name",
        "P",
        "--access",
        "staff",
        input=f"{PASSWORD}\nsomething-else-123\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.email == "p2@kommune.dk")).check_password(PASSWORD)


def test_the_prompts_and_the_outcome_are_in_danish(runner):
    """Issue 21: one language per command output — not click's "Repeat for confirmation:" beside Danish."""
    result = create(
        runner,
        "--email",
        "p3@kommune.dk",
        "--name",
        "P",
        "--access",
        "staff",
        input=f"{PASSWORD}\nsomething-else-123\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Adgangskode: " in result.output and "Gentag adgangskoden: " in result.output
    assert "De to adgangskoder er ikke ens. Prøv igen." in result.output
    assert "Oprettet: p3@kommune.dk" in result.output
    assert "Repeat" not in result.output and "Error" not in result.output


def test_staff_member_with_role_and_unit_and_provider_user(runner, fic_provider):
    factories.make_staff_role("Sagsbehandler", name_en="Caseworker")
    factories.make_unit("Børne- og Familieteam, Amager")
    result = create(
        runner,
        "--email",
        "s@kommune.dk",
        "--name",
        "S",
        "--access",
        "staff",
        "--staff-role",
        "caseworker",
        "--unit",
        "børne- og familieteam, amager",
        "--password",
        PASSWORD,
    )
    assert result.exit_code == 0, result.output
    staff = db.session.scalar(select(User).where(User.email == "s@kommune.dk"))
    assert (staff.staff_role.name, staff.unit.name) == ("Sagsbehandler", "Børne- og Familieteam, Amager")
    result = create(
        runner,
        "--email",
        "u@fic.dk",
        "--name",
        "U",
        "--access",
        "provider",
        "--provider",
        "Familien i Centrum",
        "--password",
        PASSWORD,
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.email == "u@fic.dk")).provider == fic_provider


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--access", "provider", "--provider", "Ukendt ApS"], "Ukendt udbyder: Ukendt ApS"),
        (["--access", "staff", "--staff-role", "Astronaut"], "Ukendt stillingsbetegnelse: Astronaut"),
        (["--access", "staff", "--unit", "Månebasen"], "Ukendt enhed: Månebasen"),
        (["--access", "provider"], "--provider skal angives sammen med --access provider."),
        (["--access", "staff", "--provider", "Familien i Centrum"], "Kun brugere med adgangsniveauet Udbyder"),
        (["--access", "staff", "--password", "kort"], "Adgangskoden skal være på mindst 12 tegn."),
        (["--access", "staff", "--email", "ikke-en-mail"], "Skriv en gyldig e-mailadresse."),
        (["--access", "staff", "--email", "SARA@test.dk"], "Der findes allerede en bruger med den e-mailadresse."),
        (["--access", "admin"], "Invalid value for '--access'"),
    ],
)
def test_errors_exit_non_zero_with_a_message(runner, staff_member, fic_provider, args, message):
    before = user_count()
    base = {"--email": "ny@kommune.dk", "--name": "Ny Bruger", "--password": PASSWORD}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [item for key, value in {**base, **given}.items() for item in (key, value)]
    result = create(runner, *argv)
    assert result.exit_code != 0
    assert message in result.output
    assert user_count() == before
    if not message.startswith("Invalid value"):  # click's own parsing, before the command runs, is click's
        assert f"Fejl: {message}" in result.output and "Error" not in result.output


def test_short_password_at_the_prompt_is_refused(runner):
    result = create(runner, "--email", "k@kommune.dk", "--name", "K", "--access", "staff", input="kort\nkort\n")
    assert result.exit_code != 0
    assert "mindst 12 tegn" in result.output
    assert db.session.scalar(select(User).where(User.email == "k@kommune.dk")) is None


def test_missing_required_options(runner):
    result = create(runner, "--name", "X", "--access", "staff")
    assert result.exit_code != 0
    assert "--email" in result.output


def test_guessable_password_is_refused(runner):
    result = create(runner, "--email", "g@kommune.dk", "--name", "G", "--access", "staff", "--password", "password1234")
    assert result.exit_code != 0
    assert "Adgangskoden er for let at gætte." in result.output
    assert db.session.scalar(select(User).where(User.email == "g@kommune.dk")) is None


def test_blank_password_is_refused(runner):
    result = create(runner, "--email", "b@kommune.dk", "--name", "B", "--access", "staff", "--password", " " * 12)
    assert result.exit_code != 0
    assert "mellemrum" in result.output
