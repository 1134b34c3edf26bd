"""Who may download a run's participant list, and see the download log: every export URL x {coordinator,
the run's own provider, another provider, staff, anonymous}, plus drafts and unknown runs."""

from __future__ import annotations

import pytest

from app.courses.models import RunStatus
from app.extensions import db
from tests import factories
from tests.reporting.conftest import export_url

FORMATS = ("csv", "xlsx", "pdf")
#: Expected status per user; "login" is a redirect to the login page.
MATRIX = {"coordinator": 200, "own_provider": 200, "other_provider": 404, "staff": 403, "anonymous": "login"}


@pytest.fixture
def users(coordinator, provider_user, other_provider_user, run):
    (staff,) = factories.make_eligible_staff(run, 1)  # even staff who may enrol in the run see no list
    return {
        "coordinator": coordinator,
        "own_provider": provider_user,
        "other_provider": other_provider_user,
        "staff": staff,
        "anonymous": None,
    }


def assert_answer(response, expected):
    if expected == "login":
        assert response.status_code == 302
        assert response.location.startswith("/login")
    else:
        assert response.status_code == expected, response.status_code


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("who", list(MATRIX))
def test_access_matrix_for_every_export(client, login_as, run, scene, users, who, fmt):
    if users[who] is not None:
        login_as(users[who])
    response = client.get(export_url(run, fmt))
    assert_answer(response, MATRIX[who])
    if MATRIX[who] != 200:
        assert scene["aase"].user.name.encode() not in response.get_data()


@pytest.mark.parametrize("who", list(MATRIX))
def test_the_download_log_is_the_coordinators(client, login_as, run, users, who):
    if users[who] is not None:
        login_as(users[who])
    expected = {"coordinator": 200, "own_provider": 403, "other_provider": 403, "staff": 403, "anonymous": "login"}[who]
    assert_answer(client.get(f"/runs/{run.id}/participants/downloads"), expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_providers_draft_run_is_404_and_an_unknown_run_is_404(client, login_as, run, provider_user, coordinator, fmt):
    run.status = RunStatus.DRAFT
    db.session.commit()
    login_as(provider_user)
    assert client.get(export_url(run, fmt)).status_code == 404
    login_as(coordinator)
    assert client.get(export_url(run, fmt)).status_code == 200
    assert client.get(f"/runs/{run.id + 999}/participants.{fmt}").status_code == 404


def test_nothing_is_recorded_when_access_is_refused(client, login_as, run, other_provider_user):
    from sqlalchemy import func, select

    from app.reporting.models import ExportDownload

    login_as(other_provider_user)
    for fmt in FORMATS:
        client.get(export_url(run, fmt))
    assert db.session.scalar(select(func.count()).select_from(ExportDownload)) == 0
