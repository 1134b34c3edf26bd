"""Cross-cutting pages: home (per access level), health check, language choice, reference-data hub."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user

from app.core import clock
from app.core.access import AccessLevel, allow, public
from app.core.i18n import LANG_COOKIE
from app.core.urls import local_path
from app.health.monitoring import may_see_details
from app.health.services import health_report

bp = Blueprint("main", __name__)


@bp.get("/")
@public
def home():
    """Send each access level to its home page; anonymous users to the login."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    if current_user.is_staff:
        return redirect(url_for("enrolment.my_courses"))
    return redirect(url_for("courses.run_list"))


@bp.get("/healthz")
@public
def healthz():
    """Up or down for everyone: 200 "ok", or 503 when the database is down or the heartbeat is older than
    HEALTH_HEARTBEAT_MAX_AGE_SECONDS (where a scheduler is expected). Database, outbox counts and the
    scheduler's heartbeat as JSON only for a monitor: the HEALTHZ_TOKEN, or from this host (app.health.monitoring)."""
    report = health_report(
        clock.utcnow(),
        scheduler_mode=current_app.config.get("SCHEDULER", "off"),
        max_age=timedelta(seconds=int(current_app.config.get("HEALTH_HEARTBEAT_MAX_AGE_SECONDS", 300))),
    )
    if report.body.get("database") != "ok":
        current_app.logger.warning("health check: database unavailable")
    if may_see_details(request, current_app.config.get("HEALTHZ_TOKEN")):
        response = jsonify(report.body)
    else:
        response = Response("ok\n" if report.healthy else "unavailable\n", mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if report.healthy else 503


#: Browsers ask for /favicon.ico on their own and keep icons for long; the file name has no version, so a
#: month rather than a year (a changed icon reaches everyone within that).
FAVICON_MAX_AGE = 30 * 24 * 3600


def _icon(name: str) -> Response:
    """The icon read whole (a few kB; no open file left to the WSGI server), cacheable and conditional."""
    assert current_app.static_folder is not None
    with send_from_directory(current_app.static_folder, name, max_age=FAVICON_MAX_AGE) as sent:
        sent.direct_passthrough = False
        response = Response(
            sent.get_data(), mimetype=sent.mimetype, headers={"Cache-Control": sent.headers["Cache-Control"]}
        )
    response.add_etag()
    response.make_conditional(request)  # a 304 for a matching If-None-Match; the same object either way
    return response


@bp.get("/favicon.ico")
@public
def favicon_ico():
    """The portal's icon for browsers that ask for /favicon.ico without reading the page's <link>."""
    return _icon("favicon.ico")


@bp.get("/favicon.svg")
@public
def favicon_svg():
    """The portal's icon, linked from every page (templates/base.html)."""
    return _icon("favicon.svg")


@bp.post("/language")
@public
def set_language():
    """Remember the chosen language (cookie; and on the profile when logged in)."""
    lang = request.form.get("lang", "")
    if lang not in current_app.config["LANGUAGES"]:
        lang = current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user.is_authenticated:
        current_user.locale = lang
    response = redirect(local_path(request.form.get("next")) or url_for("main.home"))
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response


@bp.get("/settings")
@allow(AccessLevel.COORDINATOR)
def settings():
    """The coordinator's hub for reference data: methods, staff roles, units, closed days."""
    return render_template("main/settings.html")


@bp.get("/accessibility-statement")
@public
def accessibility():
    """The accessibility statement (tilgængelighedserklæring), linked from every footer."""
    return render_template("main/accessibility.html")
