"""Size: the exports cost the same number of SQL statements for 3 or 30 participants (no query per
participant), and a run of 2,000 participants (built with bulk inserts) exports in every format."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import insert, select

from app.accounts.models import StaffRole, Unit, User
from app.core.access import AccessLevel
from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
from app.extensions import db
from tests import factories
from tests.reporting.conftest import DAYS, export_url, read_csv, record_statements

FORMATS = ("csv", "xlsx", "pdf")


def bulk_participants(run, confirmed: int, waitlisted: int = 0, cancelled: int = 0, prefix: str = "") -> None:
    """Insert staff users, their enrolments and (for the confirmed) attendance on day 1 in a few statements."""
    role = db.session.scalar(select(StaffRole).limit(1)) or factories.make_staff_role("Sagsbehandler")
    unit = db.session.scalar(select(Unit).limit(1)) or factories.make_unit("Socialcenter Nørrebro")
    total = confirmed + waitlisted + cancelled
    first_id = (db.session.scalar(select(db.func.max(User.id))) or 0) + 1
    db.session.execute(
        insert(User),
        [
            {
                "id": first_id + i,
                "email": f"{prefix}deltager{i:05d}@test.dk",
                "name": f"{prefix}Deltager {i:05d} Ærø",
                "access_level": AccessLevel.STAFF,
                "active": True,
                "staff_role_id": role.id,
                "unit_id": unit.id,
            }
            for i in range(total)
        ],
    )
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    first_enrolment = (db.session.scalar(select(db.func.max(Enrolment.id))) or 0) + 1
    rows = []
    for i in range(total):
        status = (
            EnrolmentStatus.CONFIRMED
            if i < confirmed
            else EnrolmentStatus.WAITLISTED
            if i < confirmed + waitlisted
            else EnrolmentStatus.CANCELLED
        )
        rows.append(
            {
                "id": first_enrolment + i,
                "course_run_id": run.id,
                "user_id": first_id + i,
                "status": status,
                "queue_number": i if status == EnrolmentStatus.WAITLISTED else None,
                "note": "=1+1" if i % 2 else None,
                "created_at": when,
                "updated_at": when,
                "status_changed_at": when,
            }
        )
    db.session.execute(insert(Enrolment), rows)
    db.session.execute(
        insert(Attendance),
        [
            {"enrolment_id": first_enrolment + i, "course_day_id": run.days[0].id, "present": True, "recorded_at": when}
            for i in range(confirmed)
        ],
    )
    run.capacity = max(run.capacity, confirmed)
    run.seats_taken = confirmed
    run.queue_counter = confirmed + waitlisted
    db.session.commit()


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_statement_count_does_not_grow_with_the_participants(client, login_as, coordinator, fic_provider, fmt):
    login_as(coordinator)
    counts = []
    for n in (3, 30):
        run = factories.make_course_run(provider=fic_provider, days=DAYS, capacity=n, title=f"Hold {n}")
        bulk_participants(run, n, waitlisted=2, cancelled=1, prefix=f"r{n}-")
        url = export_url(run, fmt)
        db.session.expunge_all()  # each request starts as in production: nothing in the identity map
        statements, _body = record_statements(client, url)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 8, selects  # user, run (check and view), days, enrolments, queue, marks, provider


def test_two_thousand_participants_export_in_every_format(client, login_as, coordinator, fic_provider):
    run = factories.make_course_run(provider=fic_provider, days=DAYS, capacity=2000, title="Stort hold")
    bulk_participants(run, 2000, waitlisted=50, cancelled=10)
    login_as(coordinator)
    urls = {fmt: export_url(run, fmt) for fmt in FORMATS}
    db.session.expunge_all()

    rows = read_csv(client.get(urls["csv"]).get_data())
    assert len(rows) == 1 + 2060
    assert rows[1][0] == "Deltager 00000 Ærø" and rows[2000][0] == "Deltager 01999 Ærø"
    assert {row[4] for row in rows[1:]} == {"Tilmeldt", "Venteliste", "Afmeldt"}
    assert rows[2][8] == "'=1+1"

    workbook = openpyxl.load_workbook(io.BytesIO(client.get(urls["xlsx"]).get_data()), read_only=True)
    assert [sum(1 for _row in ws.iter_rows()) for ws in workbook.worksheets] == [2001, 51, 11]
    workbook.close()

    reader = PdfReader(io.BytesIO(client.get(urls["pdf"]).get_data()))
    pages = len(reader.pages)
    assert pages >= 3 * 2000 // 20  # three sections of 2,000 rows (and a handful per page)
    first = reader.pages[0].extract_text()
    end = reader.pages[pages - 2].extract_text() + reader.pages[pages - 1].extract_text()
    assert "Deltager 00000 Ærø" in first and "1. undervisningsdag" in first and f"Side 1 af {pages}" in first
    assert "Deltager 01999 Ærø" in end and "2003" in end  # the last participant, then the blank rows
    assert "Opfølgningsdag" in end and f"Side {pages} af {pages}" in end
