"""Application factory: `create_app()` and its small register_* steps; nothing else."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.routing import IntegerConverter

from config import BASE_DIR, CONFIGS, INSTANCE_DIR, Config, ProductionConfig


def create_app(config_name_or_object: str | type[Config] | object | None = None) -> Flask:
    """Build the web application (the scheduler process builds the same one)."""
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        instance_path=str(INSTANCE_DIR),
        instance_relative_config=True,
    )
    config = _resolve_config(config_name_or_object)
    if isinstance(config, type) and issubclass(config, ProductionConfig):
        config.validate()
    app.config.from_object(config)
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    app.url_map.converters["int"] = DatabaseIdConverter

    register_logging(app)
    register_proxy(app)
    register_extensions(app)
    register_blueprints(app)
    register_transactions(app)
    register_access_control(app)
    register_security(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_cli(app)
    register_scheduler(app)
    logging.getLogger(__name__).debug("app created with %s", app.config.get("ENV_NAME"))
    return app


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in every route: ids beyond a 32-bit integer column can't exist, so they answer 404
    instead of reaching PostgreSQL ("integer out of range" would be a 500)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 (werkzeug's signature)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _resolve_config(value):
    if value is None:
        import os

        value = os.environ.get("KURSUSPORTALEN_CONFIG", "development")
    if isinstance(value, str):
        try:
            return CONFIGS[value]
        except KeyError:
            raise RuntimeError(f"Unknown configuration {value!r}; use one of {sorted(CONFIGS)}") from None
    return value


def register_logging(app: Flask) -> None:
    from app.core.logs import init_app

    init_app(app)


def register_proxy(app: Flask) -> None:
    """Behind PROXY_COUNT trusted proxies (nginx), take the client address, scheme and host from their
    X-Forwarded-* headers: the login throttling per IP and the audit log need the real address (without it
    every user shares the proxy's). Never set it higher than the real number of proxies: clients could
    forge the headers."""
    count = int(app.config.get("PROXY_COUNT") or 0)
    if count > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask's documented way to add WSGI middleware; mypy sees wsgi_app as a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (one registry of every table)
    from app.audit import services as _audit  # noqa: F401  (the audit log's append-only guard)
    from app.core import form_messages
    from app.core.db import configure_engine
    from app.core.i18n import install_template_gettext, select_locale, select_timezone
    from app.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    install_template_gettext(app)
    form_messages.init_app(app)  # WTForms' built-in messages in the user's language
    login_manager.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine)


def register_blueprints(app: Flask) -> None:
    from app.accounts import views as signin_pages  # noqa: F401  (the sign-in pages, on the accounts blueprint)
    from app.accounts.blueprint import bp as accounts_bp
    from app.accounts.directory import (
        views as directory_pages,  # noqa: F401  (users, staff roles, units: on the accounts blueprint)
    )
    from app.accounts.mfa.views import bp as mfa_bp
    from app.accounts.sso.views import bp as sso_bp
    from app.api.views import bp as api_bp
    from app.audit.views import bp as audit_bp
    from app.calendar.views import bp as calendar_bp
    from app.certificates.views import bp as certificates_bp
    from app.courses.views import bp as courses_bp
    from app.enrolment import (
        approval_views,  # noqa: F401  (the leader's approvals, on the enrolment blueprint)
        coordinator_views,  # noqa: F401  (the coordinator's routes, on the enrolment blueprint)
    )
    from app.enrolment.views import bp as enrolment_bp
    from app.integrations.views import bp as integrations_bp
    from app.main import bp as main_bp
    from app.notifications.views import bp as notifications_bp
    from app.privacy.views import bp as privacy_bp
    from app.programmes.competence_views import bp as competence_bp
    from app.programmes.feedback_views import bp as feedback_bp
    from app.programmes.views import bp as programmes_bp
    from app.providers.views import bp as providers_bp
    from app.reporting.views import bp as reporting_bp
    from app.scim.views import bp as scim_bp

    for bp in (main_bp, accounts_bp, programmes_bp, providers_bp, courses_bp, enrolment_bp, calendar_bp):
        app.register_blueprint(bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(reporting_bp)
    app.register_blueprint(feedback_bp)
    app.register_blueprint(competence_bp)
    app.register_blueprint(mfa_bp)
    app.register_blueprint(sso_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(integrations_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(scim_bp)


def register_transactions(app: Flask) -> None:
    from app.core import transaction

    transaction.init_app(app)  # every view registered above commits or rolls back in one place


def register_access_control(app: Flask) -> None:
    from app.accounts.signin.sessions import enforce_session_rules
    from app.core.access import enforce_access_rules

    # The session's checks (revoked, idle, too old) first: a session they end reaches the access rules
    # as an anonymous visitor.
    app.before_request(enforce_session_rules)
    app.before_request(enforce_access_rules)


def register_security(app: Flask) -> None:
    """Security headers on every response; 400 for NUL bytes and invalid UTF-8 (app.core.security)."""
    from app.core.security import init_app

    init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from app.errors import init_app

    init_app(app)


def register_template_helpers(app: Flask) -> None:
    from app.core.templating import init_app

    init_app(app)


def register_cli(app: Flask) -> None:
    from app.cli import init_app

    init_app(app)


def register_scheduler(app: Flask) -> None:
    """Check the SCHEDULER* settings; under `flask run` with SCHEDULER=embedded, start the jobs' thread."""
    from scheduler.embedded import maybe_start_embedded

    maybe_start_embedded(app)
