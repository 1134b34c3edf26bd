"""Participant lists for the coordinator and the run's provider: CSV, XLSX and a PDF sign-in sheet, each
download recorded (they hold personal data); and the coordinator's page listing those downloads.

Access is the run page's rule (app.courses.services.can_view_run): the coordinator for every run, a provider
for its own runs once out of draft; another provider's run answers 404, staff 403, anonymous the login.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, render_template, request, send_file, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.audit.services import record_read, record_shown
from app.core import clock
from app.core.access import AccessLevel, allow
from app.core.db import paginate
from app.core.downloads import as_attachment
from app.courses.models import CourseRun
from app.courses.services import can_view_run
from app.extensions import db
from app.reporting import exports
from app.reporting.models import ExportDownload, ExportFormat

bp = Blueprint("reporting", __name__)
logger = logging.getLogger(__name__)

LOG_PER_PAGE = 50

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _participant_list(run_id: int) -> exports.ParticipantList:
    run = db.get_or_404(CourseRun, run_id)  # already loaded by the access check
    return exports.load_participant_list(run)


def _record(plist: exports.ParticipantList, fmt: ExportFormat, rows: list[exports.Row]) -> None:
    """Log the download (who, when, which run, which format); the request's transaction owner
    (app.core.transaction) commits it when the view returns, before anything is sent.

    Everything the response needs is computed before this: after the commit no attribute is read again, so
    no new transaction (on SQLite a write lock) is opened while the file goes out.
    """
    run_id, user_id, person_count = plist.run.id, current_user.id, len(rows)
    now = clock.utcnow()
    db.session.add(
        ExportDownload(course_run_id=run_id, user_id=user_id, format=fmt, person_count=person_count, created_at=now)
    )
    record_read(
        "participants.export",
        object_type="run",
        object_id=run_id,
        details={"format": fmt.value, "people": person_count},
        shown=rows,
    )
    logger.info(
        "participant list of run %s downloaded as %s by user %s (%s people)", run_id, fmt.value, user_id, person_count
    )


@bp.get("/runs/<int:run_id>/participants.csv")
@allow(AccessLevel.COORDINATOR, AccessLevel.PROVIDER, check=can_view_run)
def participants_csv(run_id: int):
    """The participant list as CSV for Danish Excel (`;`, UTF-8 with BOM), streamed."""
    return _download(run_id, ExportFormat.CSV, _file_word(), _csv_response)


@bp.get("/runs/<int:run_id>/participants.xlsx")
@allow(AccessLevel.COORDINATOR, AccessLevel.PROVIDER, check=can_view_run)
def participants_xlsx(run_id: int):
    """The participant list as an Excel workbook: participants, waiting list and cancelled on their own sheets."""
    return _download(run_id, ExportFormat.XLSX, _file_word(), _xlsx_response)


@bp.get("/runs/<int:run_id>/participants.pdf")
@allow(AccessLevel.COORDINATOR, AccessLevel.PROVIDER, check=can_view_run)
def participants_pdf(run_id: int):
    """The printable sign-in sheet (A4): one section per course day, one row per confirmed participant."""
    return _download(
        run_id,
        ExportFormat.PDF,
        _("underskriftsark"),
        lambda plist: Response(exports.render_pdf(plist), mimetype="application/pdf"),
        shown=lambda plist: plist.confirmed,
    )


def _download(
    run_id: int,
    fmt: ExportFormat,
    word: str,
    respond: Callable[[exports.ParticipantList], Response],
    shown: Callable[[exports.ParticipantList], list[exports.Row]] = lambda plist: plist.rows,
) -> Response:
    """One of the run's participant files, named "<title> <date> <word>.<fmt>": the body is made (or, streamed,
    set up) by `respond` before the download is recorded with the people it `shown` (see `_record`)."""
    plist = _participant_list(run_id)
    names = exports.download_name(plist.run, word, fmt.value)
    response = respond(plist)
    _record(plist, fmt, shown(plist))
    return as_attachment(response, *names)


def _csv_response(plist: exports.ParticipantList) -> Response:
    response = Response(stream_with_context(exports.csv_chunks(plist)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    return response


def _xlsx_response(plist: exports.ParticipantList) -> Response:
    body = exports.render_xlsx(plist)
    return send_file(body, mimetype=XLSX_MIMETYPE, max_age=0, conditional=False, etag=False)


def _file_word() -> str:
    """The word after the title and date in the CSV and XLSX file names."""
    return _("deltagere")


@bp.get("/runs/<int:run_id>/participants/downloads")
@allow(AccessLevel.COORDINATOR, check=can_view_run)
def download_log(run_id: int):
    """Who downloaded this run's participant list, when, and in which format (newest first)."""
    run = db.get_or_404(CourseRun, run_id)
    stmt = (
        select(ExportDownload)
        .where(ExportDownload.course_run_id == run.id)
        .options(joinedload(ExportDownload.user))
        .order_by(ExportDownload.created_at.desc(), ExportDownload.id.desc())
    )
    page = paginate(db.session, stmt, request.args.get("page", 1, type=int), LOG_PER_PAGE)
    record_shown("participants.downloads_view", page.items, object_type="run", object_id=run.id)
    return render_template("reporting/download_log.html", run=run, page=page)
