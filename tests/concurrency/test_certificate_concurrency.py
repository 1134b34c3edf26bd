"""A certificate's first downloads at once (the person and the coordinator, or a double click): one
certificate, one code, and every download prints that code (app.certificates.services.issue)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.certificates import services
from app.certificates.models import Certificate
from app.enrolment.models import Enrolment
from app.extensions import db
from tests import factories
from tests.concurrency.harness import in_own_transaction, release_together

pytestmark = pytest.mark.concurrency

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAYS = (date(2025, 10, 6), date(2025, 10, 7), date(2026, 1, 12))
THREADS = 8


def issue_task(app, enrolment_id: int):
    def work():
        enrolment = db.session.get(Enrolment, enrolment_id)
        return services.issue([enrolment], NOW)[enrolment_id].code

    return in_own_transaction(app, work)


def test_first_downloads_at_once_make_one_certificate_with_one_code(shared_app):
    run = factories.make_course_run(days=DAYS)
    enrolment = factories.make_enrolment(run, factories.make_user())
    for day in run.days:
        factories.make_attendance(enrolment, day)
    enrolment_id = enrolment.id
    db.session.close()  # the test holds no transaction (nor SQLite's write lock) while threads race

    outcomes = release_together([issue_task(shared_app, enrolment_id) for _ in range(THREADS)])

    assert all(o.kind == "ok" for o in outcomes), outcomes
    codes = {o.value for o in outcomes}
    assert len(codes) == 1, codes
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
    assert db.session.scalar(select(Certificate.code)) == codes.pop()
