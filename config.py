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
    #: Personal data of a run's participants is anonymised by the retention job this many years after the
    #: run's last course day (the follow-up day included); see docs/privacy.md.
    PERSONAL_DATA_RETENTION_YEARS = int(os.environ.get("PERSONAL_DATA_RETENTION_YEARS", "5"))
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
    #: The retention job (anonymise_expired_runs): daily.
    SCHEDULER_RETENTION_SECONDS = os.environ.get("SCHEDULER_RETENTION_SECONDS", 86400)
    #: How often the active scheduler checks it still holds the leadership lock.
    SCHEDULER_HEARTBEAT_SECONDS = os.environ.get("SCHEDULER_HEARTBEAT_SECONDS", 10)
    #: How often a standby scheduler tries to take the leadership lock.
    SCHEDULER_STANDBY_SECONDS = os.environ.get("SCHEDULER_STANDBY_SECONDS", 10)
    #: How late (seconds) a periodic job may still start, e.g. after the host was suspended.
    SCHEDULER_MISFIRE_GRACE_SECONDS = os.environ.get("SCHEDULER_MISFIRE_GRACE_SECONDS", 300)
    #: SQLite only: the leadership lock file (default: next to the database file, or in the instance folder).
    SCHEDULER_LOCK_FILE = os.environ.get("SCHEDULER_LOCK_FILE") or None


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY") or _instance_secret_key()
    SCHEDULER = os.environ.get("SCHEDULER", "embedded")  # `make run` / `flask run` fire the jobs themselves
    #: The demo's 2008-2009 programme keeps its participants in development (it is the demo); set 5 to
    #: watch the retention job anonymise them.
    PERSONAL_DATA_RETENTION_YEARS = int(os.environ.get("PERSONAL_DATA_RETENTION_YEARS", "25"))


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


class ProductionConfig(Config):
    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    SCHEDULER = os.environ.get("SCHEDULER", "external")  # exactly one `python -m scheduler` beside gunicorn

    @classmethod
    def validate(cls) -> None:
        """Refuse to start without what production cannot do without."""
        if not cls.SECRET_KEY or len(cls.SECRET_KEY) < 32:
            raise RuntimeError("SECRET_KEY must be set to a random value of at least 32 characters in production.")
        if "DATABASE_URL" not in os.environ:
            raise RuntimeError("DATABASE_URL must be set in production.")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
