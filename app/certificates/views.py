"""Certificates of completion: the staff member's own (from *Mine kurser*), the coordinator's for a whole run
(one PDF, a page per person who completed it), and the public verification page.

Access: the own certificate is the staff member's only (anybody else's enrolment, or one not completed,
answers 404); the run's certificates are the coordinator's (providers see their runs' participant lists to
run the course, but the certificate is the municipality's statement: docs/access-control.md); the
verification page is public, rate-limited per IP address (CERTIFICATE_VERIFY_LIMIT, failed checks count).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from app.audit.services import record_read
from app.certificates import pdf, services
from app.certificates.forms import VerifyForm
from app.core import clock
from app.core.access import AccessLevel, allow, public
from app.core.downloads import as_attachment
from app.courses.models import CourseRun
from app.courses.services import can_view_run
from app.extensions import db, limiter
from app.notifications.ical import in_language
from app.reporting.exports import download_name
from app.reporting.models import ExportDownload, ExportFormat

bp = Blueprint("certificates", __name__)
logger = logging.getLogger(__name__)

_FAILED = "_certificate_check_failed"


def _own(user, enrolment_id: int) -> bool:
    return services.may_download_own(user, enrolment_id)


@bp.get("/me/courses/<int:enrolment_id>/certificate.pdf")
@allow(AccessLevel.STAFF, check=_own)
def my_certificate(enrolment_id: int):
    """The staff member's certificate for one completed run, in their profile language."""
    enrolment = services.own_completed_enrolment(current_user, enrolment_id)
    if enrolment is None:  # changed since the access check (attendance corrected meanwhile)
        abort(404)
    certificates = services.issue([enrolment], clock.utcnow())
    with in_language(current_user.locale):
        run = enrolment.run
        body = pdf.render(
            pdf.pages([enrolment], certificates, clock.today()), title=_("Kursusbevis: %(title)s", title=run.title)
        )
        names = download_name(run, _("kursusbevis"), "pdf")
    # Your own data: no lookup to audit (app.audit.services.record_read); the log names ids only.
    logger.info("certificate of enrolment %s downloaded by its owner", enrolment_id)
    return as_attachment(Response(body, mimetype="application/pdf"), *names)


@bp.get("/runs/<int:run_id>/certificates.pdf")
@allow(AccessLevel.COORDINATOR, check=can_view_run)
def run_certificates(run_id: int):
    """Every certificate of the run in one PDF, a page per person who completed it, each in their language.
    One file (not a ZIP of files): printed in one go, and one download to log."""
    run = db.get_or_404(CourseRun, run_id)
    enrolments = services.completed_enrolments(run)
    if not enrolments:
        flash(_("Ingen deltagere har gennemført kursusforløbet endnu, så der er ingen kursusbeviser."), "info")
        return redirect(url_for("courses.run_detail", run_id=run.id))
    now = clock.utcnow()
    certificates = services.issue(enrolments, now)
    body = pdf.render(
        pdf.pages(enrolments, certificates, clock.today()), title=_("Kursusbeviser: %(title)s", title=run.title)
    )
    names = download_name(run, _("kursusbeviser"), "pdf")
    count, user_id = len(enrolments), current_user.id
    db.session.add(
        ExportDownload(
            course_run_id=run.id, user_id=user_id, format=ExportFormat.CERTIFICATES, person_count=count, created_at=now
        )
    )
    record_read("certificates.export", object_type="run", object_id=run.id, details={"people": count}, shown=enrolments)
    logger.info("certificates of run %s downloaded by user %s (%s people)", run_id, user_id, count)
    return as_attachment(Response(body, mimetype="application/pdf"), *names)


def _failed(_response) -> bool:
    return bool(getattr(g, _FAILED, False))


def _note_lock(_limit) -> None:
    g.certificate_lock = True  # templates/errors/429.html: what to do next (the response stays the 429 page)


def _limit_checks(view):
    """Failed checks (an unknown or malformed code) per IP address count against CERTIFICATE_VERIFY_LIMIT;
    breached, the page answers 429 before looking anything up, a right code included."""
    return limiter.limit(
        lambda: current_app.config["CERTIFICATE_VERIFY_LIMIT"],
        key_func=get_remote_address,
        methods=["POST"],
        deduct_when=_failed,
        scope="certificate-verify",
        on_breach=_note_lock,
    )(view)


@bp.route("/verify", methods=["GET", "POST"])
@public
@_limit_checks
def verify():
    """The public check of a certificate: the code typed in (never in the address, so it stays out of access
    logs and browser history) confirms the name, the course and the date, or says it is no longer valid."""
    form = VerifyForm()
    result = None
    if form.validate_on_submit():
        code = services.normalise_code(form.code.data)
        assert code is not None, "the form checked the format"
        result = services.verify(code)
        if result is None:
            setattr(g, _FAILED, True)
            form.code.errors.append(
                _("Der findes ikke noget kursusbevis med den kontrolkode. Tjek, at den er skrevet rigtigt.")
            )
            logger.info("certificate check: unknown code")
        elif result.valid:
            record_read("certificate.verified", subject=result.user_id, object_type="certificate", object_id=result.id)
            logger.info("certificate check: certificate %s valid", result.id)
        else:
            logger.info("certificate check: certificate %s no longer valid", result.id)
    elif form.is_submitted():
        setattr(g, _FAILED, True)
    return render_template("certificates/verify.html", form=form, result=result)
