"""Configuration classes, read from the environment (Flask docs' config-class pattern).

`create_app()` picks one by name (`development`, `testing`, `production`) or takes a class/object.
Secrets and locations come from the environment; domain constants live here too.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _instance_secret_key() -> str:
    """Return the secret key stored in the instance folder, creating it on first run."""
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _database_url(default: str) -> str:
    url = os.environ.get("DATABASE_URL", default)
    # Heroku-style URLs and plain "postgresql://" both mean psycopg 3 here.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    """Shared defaults; safe for development."""

    ENV_NAME = "base"
    SECRET_KEY: str | None = None  # filled in by subclasses
    SQLALCHEMY_DATABASE_URI = _database_url(f"sqlite:///{INSTANCE_DIR / 'kursusportalen.db'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    TIMEZONE = os.environ.get("TIMEZONE", "Europe/Copenhagen")
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
    MUNICIPALITY_NAME = os.environ.get("MUNICIPALITY_NAME", "Københavns Kommune")

    # Flask-Babel: Danish first, English second.
    BABEL_DEFAULT_LOCALE = "da"
    BABEL_DEFAULT_TIMEZONE = TIMEZONE
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    LANGUAGES = ("da", "en")

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 8 * 3600  # a working day: forms left open over lunch still submit
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    MAX_CONTENT_LENGTH = 5 * 1024 * 1024  # staff imports are small; refuse anything huge

    # Domain constants (closed days are data, not config).
    FOLLOW_UP_OFFSET_MONTHS = 3
    #: Local time on teaching day 2 when the follow-up job fixes the follow-up day (or the day's end, if later).
    FOLLOW_UP_CONFIRM_TIME = os.environ.get("FOLLOW_UP_CONFIRM_TIME", "18:00")
    #: Reminders before each course day, in days (only to confirmed participants holding the day).
    REMINDER_DAYS = tuple(
        sorted({int(d) for d in os.environ.get("REMINDER_DAYS", "7,1").split(",") if d.strip()}, reverse=True)
    )
    #: The feedback request goes out after the follow-up day, to those present, for up to this many days.
    FEEDBACK_REQUEST_WINDOW_DAYS = int(os.environ.get("FEEDBACK_REQUEST_WINDOW_DAYS", "30"))
    CALENDAR_UID_DOMAIN = os.environ.get("CALENDAR_UID_DOMAIN", "kursusportalen.local")
    #: Sender of every mail; the organizer is the functional mailbox that calendar replies go to.
    MAIL_FROM = os.environ.get("MAIL_FROM", "Kursusportalen <kursusportalen@kursusportalen.local>")
    #: Outgoing mail server: `smtp://[user:password@]host[:port]` (add `?starttls=true` for STARTTLS) or
    #: `smtps://...` (implicit TLS). Unset: every mail is written as an .eml file to MAIL_DIR instead.
    SMTP_URL = os.environ.get("SMTP_URL") or None
    #: Delivery attempts before a mail is marked failed (the coordinator can retry it).
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "8"))
    #: Mails delivered per run of the delivery job (one SMTP connection each).
    MAIL_BATCH_SIZE = 100
    MAIL_DIR = os.environ.get("MAIL_DIR", str(INSTANCE_DIR / "mail"))
    CALENDAR_ORGANIZER_EMAIL = os.environ.get("CALENDAR_ORGANIZER_EMAIL", "kursusportalen@kursusportalen.local")
    CALENDAR_ORGANIZER_NAME = os.environ.get("CALENDAR_ORGANIZER_NAME", "Kursusportalen")
    RUNS_PER_PAGE = 25
    #: Seconds an enrolment waits for a run's lock before the user is asked to try again (PostgreSQL).
    ENROLMENT_LOCK_TIMEOUT = float(os.environ.get("ENROLMENT_LOCK_TIMEOUT", "5"))
    # The scheduler (scheduler/): who runs the periodic jobs, and how often. Validated by create_app
    # (scheduler.settings); times are seconds, read from the environment so tests can use 1.
    #: "embedded" (a background thread in `flask run`'s server process), "external" (a separate
    #: `python -m scheduler`; the web process starts nothing) or "off". Each class sets its default.
    SCHEDULER = os.environ.get("SCHEDULER", "off")
    #: The outbox delivery poller: work the web process records is acted on within a minute.
    SCHEDULER_DELIVERY_SECONDS = os.environ.get("SCHEDULER_DELIVERY_SECONDS", 30)
    #: Rebuild the exact-time `follow_up:<run id>` jobs from our tables.
    SCHEDULER_RECONCILE_SECONDS = os.environ.get("SCHEDULER_RECONCILE_SECONDS", 60)
    #: The safety net behind the follow-up date jobs (confirm_follow_up_days).
    SCHEDULER_FOLLOW_UP_SECONDS = os.environ.get("SCHEDULER_FOLLOW_UP_SECONDS", 600)
    #: Queueing reminders and feedback requests.
    SCHEDULER_QUEUE_SECONDS = os.environ.get("SCHEDULER_QUEUE_SECONDS", 300)
    #: How often the active scheduler checks it still holds the leadership lock.
    SCHEDULER_HEARTBEAT_SECONDS = os.environ.get("SCHEDULER_HEARTBEAT_SECONDS", 10)
    #: How often a standby scheduler tries to take the leadership lock.
    SCHEDULER_STANDBY_SECONDS = os.environ.get("SCHEDULER_STANDBY_SECONDS", 10)
    #: How late (seconds) a periodic job may still start, e.g. after the host was suspended.
    SCHEDULER_MISFIRE_GRACE_SECONDS = os.environ.get("SCHEDULER_MISFIRE_GRACE_SECONDS", 300)
    # Logging in (docs/authentication.md).
    #: Coordinators and provider users must use a second factor (TOTP) when they log in with a password.
    #: Staff may enrol voluntarily; single sign-on logins count as multi-factor (the IdP enforces it).
    MFA_REQUIRED = _env_bool("MFA_REQUIRED", False)
    #: Seconds a password login may wait for its second factor, and wrong codes before it is dropped.
    MFA_PENDING_SECONDS = int(os.environ.get("MFA_PENDING_SECONDS", "300"))
    MFA_MAX_ATTEMPTS = int(os.environ.get("MFA_MAX_ATTEMPTS", "5"))
    #: The name authenticator apps show beside the account.
    MFA_ISSUER_NAME = os.environ.get("MFA_ISSUER_NAME", "Kursusportalen")
    #: werkzeug hash method for recovery codes (the tests use a cheap one).
    MFA_RECOVERY_HASH_METHOD = "scrypt"
    #: OpenID Connect single sign-on: the tenant-specific issuer, e.g.
    #: https://login.microsoftonline.com/<tenant id>/v2.0 (discovery is read from
    #: <issuer>/.well-known/openid-configuration on the first SSO login). Unset: no SSO.
    OIDC_ISSUER = os.environ.get("OIDC_ISSUER") or None
    OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID") or None
    OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET") or None
    OIDC_BUTTON_LABEL = os.environ.get("OIDC_BUTTON_LABEL") or None  # None: "Log ind med kommunens konto"
    #: The first SSO login may link to the one active user with the IdP's verified email; later logins
    #: go by the stable subject only.
    OIDC_LINK_BY_EMAIL = _env_bool("OIDC_LINK_BY_EMAIL", True)
    #: Seconds to wait for the identity provider's discovery, keys and token endpoints.
    OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT", "10"))
    #: False hides the email/password form (and refuses its POST): everybody logs in through SSO.
    LOCAL_LOGIN_ENABLED = _env_bool("LOCAL_LOGIN_ENABLED", True)
    #: SQLite only: the leadership lock file (default: next to the database file, or in the instance folder).
    SCHEDULER_LOCK_FILE = os.environ.get("SCHEDULER_LOCK_FILE") or None


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY") or _instance_secret_key()
    SCHEDULER = os.environ.get("SCHEDULER", "embedded")  # `make run` / `flask run` fire the jobs themselves


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production"  # noqa: S105 (tests only)
    SQLALCHEMY_DATABASE_URI = _database_url(os.environ.get("TEST_DATABASE_URL", "sqlite://"))
    WTF_CSRF_ENABLED = True  # tests read the token from the form, as a browser does
    SERVER_NAME = None
    #: A developer's SMTP_URL must never reach the tests; mail tests set their own server or MAIL_DIR.
    SMTP_URL = None
    MAIL_DIR = os.path.join(tempfile.gettempdir(), "kursusportalen-test-mail")
    SCHEDULER = os.environ.get("SCHEDULER", "off")  # tests build their schedulers themselves
    MFA_REQUIRED = False  # the MFA tests switch it on themselves
    MFA_RECOVERY_HASH_METHOD = "pbkdf2:sha256:1000"
    OIDC_ISSUER = OIDC_CLIENT_ID = OIDC_CLIENT_SECRET = None  # the SSO tests start their own provider
    LOCAL_LOGIN_ENABLED = True


class ProductionConfig(Config):
    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    SCHEDULER = os.environ.get("SCHEDULER", "external")  # exactly one `python -m scheduler` beside gunicorn
    MFA_REQUIRED = _env_bool("MFA_REQUIRED", True)  # ASVS 6.3.3: no password-only access to personal data

    @classmethod
    def validate(cls) -> None:
        """Refuse to start without what production cannot do without."""
        if not cls.SECRET_KEY or len(cls.SECRET_KEY) < 32:
            raise RuntimeError("SECRET_KEY must be set to a random value of at least 32 characters in production.")
        if "DATABASE_URL" not in os.environ:
            raise RuntimeError("DATABASE_URL must be set in production.")
        if cls.OIDC_ISSUER and not (cls.OIDC_CLIENT_ID and cls.OIDC_CLIENT_SECRET):
            raise RuntimeError("OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET.")
        if not cls.LOCAL_LOGIN_ENABLED and not cls.OIDC_ISSUER:
            raise RuntimeError("LOCAL_LOGIN_ENABLED=false needs single sign-on (OIDC_ISSUER): nobody could log in.")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
