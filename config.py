"""Configuration classes, read from the environment (Flask docs' config-class pattern).

`create_app()` picks one by name (`development`, `testing`, `production`) or takes a class/object.
Secrets and locations come from the environment; domain constants live here too.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

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


#: No inline script or style, nothing from another origin, no framing, no <base>, no plugins (app.core.security).
DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def _database_url(default: str) -> str:
    url = os.environ.get("DATABASE_URL", default)
    # Heroku-style URLs and plain "postgresql://" both mean psycopg 3 here.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _url_password(url: str | None) -> str | None:
    """The password in a URL like smtp://user:password@host (None when there is none)."""
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class Config:
    """Shared defaults; safe for development."""

    ENV_NAME = "base"
    SECRET_KEY: str | None = None  # filled in by subclasses
    SQLALCHEMY_DATABASE_URI = _database_url(f"sqlite:///{INSTANCE_DIR / 'kursusportalen.db'}")
    #: pool_pre_ping: each pooled connection is tested with a round trip as it is taken from the pool, and
    #: replaced if the database dropped it, so the first request after a database restart does not fail.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
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
    # Cookies: never readable by scripts, not sent on cross-site POSTs; Secure in ProductionConfig.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: Flask-Login's "remember me" cookie (the login form does not offer it; set the same flags anyway).
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # Accounts and sessions (app/accounts/signin/passwords.py, sessions.py, throttling.py, tokens.py).
    #: Shortest password accepted when one is set (never checked at login). The longest is 128.
    PASSWORD_MIN_LENGTH = int(os.environ.get("PASSWORD_MIN_LENGTH", "12"))
    #: Lowest zxcvbn strength score (0-4) accepted for a new password; 3 = "safely unguessable".
    PASSWORD_MIN_SCORE = int(os.environ.get("PASSWORD_MIN_SCORE", "3"))
    #: A session with no request for this many minutes is ended (the user is asked to log in again).
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "60"))
    #: A session is ended this many hours after the login, however active.
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))
    #: How long a password-reset link works (it also stops working once used).
    PASSWORD_RESET_HOURS = int(os.environ.get("PASSWORD_RESET_HOURS", "1"))
    #: How long an invitation link for imported staff to set their password works.
    INVITATION_DAYS = int(os.environ.get("INVITATION_DAYS", "14"))
    # Throttling with Flask-Limiter (limits syntax: "<n> per <count> <unit>"). Failed logins only count, in three
    # counters; a breached one refuses even the right password. Why these numbers: docs/security.md "Login throttling".
    #: Failed logins for one email address (known or not) from one IP address: the hard stop for one guesser. It
    #: locks the account from that address only, so nobody can lock a colleague out from their own machine.
    LOGIN_LIMIT_PER_ACCOUNT_AND_IP = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT_AND_IP", "5 per 15 minutes")
    #: Failed logins for one email address from all IP addresses together: the ceiling for guessing spread over
    #: many addresses. Keep it above what one address may do under the limit above (5 per 15 minutes = 20 an
    #: hour), or one address alone could lock the account for everybody. A password reset clears it.
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "50 per hour")
    #: Failed logins from one IP address, all accounts together: bounds one address trying many accounts, and
    #: leaves room for a whole town hall behind one NAT address on a Monday morning.
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "100 per 15 minutes")
    #: Password-reset requests from one IP address, and for one email address.
    PASSWORD_RESET_LIMIT_PER_IP = os.environ.get("PASSWORD_RESET_LIMIT_PER_IP", "10 per hour")
    PASSWORD_RESET_LIMIT_PER_ACCOUNT = os.environ.get("PASSWORD_RESET_LIMIT_PER_ACCOUNT", "3 per hour")
    #: Wrong current passwords on the account page's password change, per user.
    PASSWORD_CHANGE_LIMIT = os.environ.get("PASSWORD_CHANGE_LIMIT", "5 per 15 minutes")
    #: Calls per integration client (a bearer token on /scim/v2 or /api/v1), every call counted
    #: (app.integrations.auth). Entra ID's provisioning sends a few calls per changed user; a full first cycle of
    #: a large municipality stays well under this.
    INTEGRATION_RATE_LIMIT = os.environ.get("INTEGRATION_RATE_LIMIT", "1200 per minute")
    #: Searches for people (the coordinator's enrol-on-behalf search asks as they type), per user.
    PERSON_SEARCH_LIMIT = os.environ.get("PERSON_SEARCH_LIMIT", "120 per minute")
    #: Failed certificate checks (an unknown or malformed code) on the public verification page, per IP address:
    #: guessing a 12-character code is hopeless anyway (app.certificates.services); this stops the trying.
    CERTIFICATE_VERIFY_LIMIT = os.environ.get("CERTIFICATE_VERIFY_LIMIT", "20 per hour")
    #: Where the counters live. "memory://" is per process: each gunicorn worker (and host) would count alone,
    #: so 4 workers allow 4 x 5 wrong passwords. Production needs a shared store, "redis://host:6379/0"
    #: (ProductionConfig refuses memory://, see docs/security.md "Login throttling").
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    #: Redis answers on loopback in a millisecond: a second's wait means it is gone, and a request must not hang
    #: on it (passed to redis.from_url; the seconds from RATELIMIT_REDIS_TIMEOUT).
    RATELIMIT_STORAGE_OPTIONS = (
        {
            "socket_connect_timeout": float(os.environ.get("RATELIMIT_REDIS_TIMEOUT", "0.5")),
            "socket_timeout": float(os.environ.get("RATELIMIT_REDIS_TIMEOUT", "0.5")),
        }
        if RATELIMIT_STORAGE_URI.startswith(("redis://", "rediss://", "redis+unix://"))
        else {}
    )
    #: Redis down: each worker counts in its own memory until Redis answers again (checked with growing pauses)
    #: - degraded (the limits multiply by the number of workers) but still limited, and logins keep working.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = _env_bool("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    #: The counters' keys start with this (a Redis shared with other applications).
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "kursusportalen")
    #: "moving-window": N failures within any window, not just within a clock-aligned one.
    RATELIMIT_STRATEGY = os.environ.get("RATELIMIT_STRATEGY", "moving-window")
    #: Send Retry-After (and X-RateLimit-*) headers with limited responses.
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    #: Security headers (app.core.security): the Content-Security-Policy of every response, and HSTS max-age
    #: (0: no Strict-Transport-Security header; production sends a year unless told otherwise).
    CONTENT_SECURITY_POLICY = os.environ.get("CONTENT_SECURITY_POLICY") or DEFAULT_CONTENT_SECURITY_POLICY
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "0"))
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
    #: Mails delivered per batch (one SMTP connection, one query choosing the rows).
    MAIL_BATCH_SIZE = 100
    #: Batches one run of the delivery job may deliver back to back while mail is due (a burst of
    #: invitations drains at once instead of MAIL_BATCH_SIZE per tick); bounds one run to 5,000 mails.
    MAIL_MAX_BATCHES = int(os.environ.get("MAIL_MAX_BATCHES", "50"))
    MAIL_DIR = os.environ.get("MAIL_DIR", str(INSTANCE_DIR / "mail"))
    CALENDAR_ORGANIZER_EMAIL = os.environ.get("CALENDAR_ORGANIZER_EMAIL", "kursusportalen@kursusportalen.local")
    CALENDAR_ORGANIZER_NAME = os.environ.get("CALENDAR_ORGANIZER_NAME", "Kursusportalen")
    RUNS_PER_PAGE = 25
    #: Audit entries older than this many days are deleted by the retention job (default five years).
    AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "1825"))
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
    #: The audit-log retention job (purge_audit_log): daily.
    SCHEDULER_AUDIT_RETENTION_SECONDS = os.environ.get("SCHEDULER_AUDIT_RETENTION_SECONDS", 86400)
    #: The retention job (anonymise_expired_runs): daily.
    SCHEDULER_RETENTION_SECONDS = os.environ.get("SCHEDULER_RETENTION_SECONDS", 86400)
    #: How often the active scheduler checks it still holds the leadership lock.
    SCHEDULER_HEARTBEAT_SECONDS = os.environ.get("SCHEDULER_HEARTBEAT_SECONDS", 10)
    #: How often the active scheduler writes the heartbeat row that `/healthz` reads.
    SCHEDULER_BEAT_SECONDS = os.environ.get("SCHEDULER_BEAT_SECONDS", 60)
    #: `/healthz` answers 503 when the scheduler's last heartbeat is older than this (SCHEDULER not "off").
    HEALTH_HEARTBEAT_MAX_AGE_SECONDS = int(os.environ.get("HEALTH_HEARTBEAT_MAX_AGE_SECONDS", "300"))
    #: The monitoring token: `/healthz` shows its details (outbox, scheduler) to a request with
    #: `Authorization: Bearer <HEALTHZ_TOKEN>`, or sent from this host straight to gunicorn; everyone else
    #: gets up/down only (app/health/monitoring.py). Unset: from this host only.
    HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN") or None
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
    #: Wrong second-factor codes are also counted per account, across logins, until a right one (ASVS 6.3.1,
    #: 6.6.3; docs/authentication.md "Limits of the second step"). After MFA_SLOWDOWN_AFTER of them each further
    #: code is checked only MFA_SLOWDOWN_SECONDS after the last wrong one, doubling with every failure, at most
    #: MFA_SLOWDOWN_MAX_SECONDS; at MFA_LOCK_AFTER the account's TOTP codes are refused until a recovery code or
    #: a coordinator unlocks it.
    MFA_SLOWDOWN_AFTER = int(os.environ.get("MFA_SLOWDOWN_AFTER", "5"))
    MFA_SLOWDOWN_SECONDS = int(os.environ.get("MFA_SLOWDOWN_SECONDS", "30"))
    MFA_SLOWDOWN_MAX_SECONDS = int(os.environ.get("MFA_SLOWDOWN_MAX_SECONDS", "300"))
    MFA_LOCK_AFTER = int(os.environ.get("MFA_LOCK_AFTER", "10"))
    #: The name authenticator apps show beside the account.
    MFA_ISSUER_NAME = os.environ.get("MFA_ISSUER_NAME", "Kursusportalen")
    #: werkzeug hash method for recovery codes (the tests use a cheap one).
    MFA_RECOVERY_HASH_METHOD = "scrypt"
    #: werkzeug hash method for passwords, and for the stand-in hash an unknown address is checked against (so
    #: both cost the same). Not read from the environment: only the tests choose a cheaper one.
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 (a hash method, not a password)
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

    #: "text" (one readable line) or "json" (one JSON object a line, with the request id; production).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
    #: Proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted (werkzeug ProxyFix); 0: none.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))


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
    MFA_REQUIRED = False  # the MFA tests switch it on themselves
    MFA_RECOVERY_HASH_METHOD = "pbkdf2:sha256:1000"
    #: A failed login for an unknown address checks a stand-in hash: at scrypt's ~80 ms a try, the throttling
    #: tests' hundreds of failures were most of their time.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 (a hash method, not a password)
    OIDC_ISSUER = OIDC_CLIENT_ID = OIDC_CLIENT_SECRET = None  # the SSO tests start their own provider
    LOCAL_LOGIN_ENABLED = True


class ProductionConfig(Config):
    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Cookies only over HTTPS (HttpOnly and SameSite=Lax come from Config), and with the `__Host-` prefix: a
    # browser then accepts the cookie only if it is Secure, has Path=/ and no Domain, so neither a subdomain
    # nor a plain-HTTP page of the same host can set or overwrite it (session fixation; ASVS 5.0 V3, cookie setup).
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"
    SESSION_COOKIE_PATH = "/"
    SESSION_COOKIE_DOMAIN = None
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_NAME = "__Host-remember_token"
    REMEMBER_COOKIE_PATH = "/"
    REMEMBER_COOKIE_DOMAIN = None
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))
    #: hide_parameters: a database error's text (logged with its traceback) never carries the statement's
    #: values - names, email addresses, tokens.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {**Config.SQLALCHEMY_ENGINE_OPTIONS, "hide_parameters": True}
    SCHEDULER = os.environ.get("SCHEDULER", "external")  # exactly one `python -m scheduler` beside gunicorn
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "1"))  # nginx in front (deploy/nginx-kursusportalen.conf)
    #: SQLite in production only when asked for (a single-process trial installation).
    ALLOW_SQLITE = _env_bool("ALLOW_SQLITE_IN_PRODUCTION")
    MFA_REQUIRED = _env_bool("MFA_REQUIRED", True)  # ASVS 6.3.3: no password-only access to personal data
    #: Rate-limit counters in each process's memory only when asked for, with one gunicorn worker on one host
    #: (a single-process trial); otherwise RATELIMIT_STORAGE_URI must name a shared store (Redis).
    ALLOW_MEMORY_RATELIMITS = _env_bool("ALLOW_MEMORY_RATELIMITS_IN_PRODUCTION")

    @classmethod
    def validate(cls) -> None:
        """Refuse to start without what production cannot do without."""
        from app.core import secret_strength

        public = secret_strength.public_texts(BASE_DIR)
        if not cls.SECRET_KEY or len(cls.SECRET_KEY) < 32:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production. "
                f"Generate one with: {secret_strength.GENERATE_HINT}"
            )
        problem = secret_strength.key_problem("SECRET_KEY", cls.SECRET_KEY, public)
        if problem:
            raise RuntimeError(problem)
        if "DATABASE_URL" not in os.environ:
            raise RuntimeError("DATABASE_URL must be set in production.")
        urls = {"DATABASE_URL": os.environ["DATABASE_URL"], "SMTP_URL": cls.SMTP_URL}
        urls["RATELIMIT_STORAGE_URI"] = cls.RATELIMIT_STORAGE_URI
        for name, url in urls.items():
            problem = secret_strength.password_problem(name, _url_password(url), public)
            if problem:
                raise RuntimeError(problem)
        if cls.HEALTHZ_TOKEN:
            problem = secret_strength.key_problem("HEALTHZ_TOKEN", cls.HEALTHZ_TOKEN, public)
            if problem:
                raise RuntimeError(problem)
        if cls.OIDC_CLIENT_SECRET:
            hint = "Use the client secret your identity provider issued for this application."
            problem = secret_strength.key_problem("OIDC_CLIENT_SECRET", cls.OIDC_CLIENT_SECRET, public, hint)
            if problem:
                raise RuntimeError(problem)
        cls._validate_rate_limit_storage()
        if cls.SQLALCHEMY_DATABASE_URI.startswith("sqlite") and not cls.ALLOW_SQLITE:
            raise RuntimeError(
                "DATABASE_URL points to SQLite; production runs on PostgreSQL "
                "(set ALLOW_SQLITE_IN_PRODUCTION=1 for a single-process trial)."
            )
        if not cls.SMTP_URL:
            raise RuntimeError("SMTP_URL must be set in production: invitations are delivered by mail.")
        if cls.OIDC_ISSUER and not (cls.OIDC_CLIENT_ID and cls.OIDC_CLIENT_SECRET):
            raise RuntimeError("OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET.")
        if not cls.LOCAL_LOGIN_ENABLED and not cls.OIDC_ISSUER:
            raise RuntimeError("LOCAL_LOGIN_ENABLED=false needs single sign-on (OIDC_ISSUER): nobody could log in.")

    @classmethod
    def _validate_rate_limit_storage(cls) -> None:
        """The login limits must hold across every worker and host: counters in a shared store."""
        uri = cls.RATELIMIT_STORAGE_URI or ""
        if not cls.RATELIMIT_ENABLED:
            raise RuntimeError("RATELIMIT_ENABLED=false: production never runs without login throttling.")
        if uri.startswith(("redis://", "rediss://", "redis+unix://", "redis+sentinel://", "redis+cluster://")):
            return
        if uri.startswith("memory://"):
            if cls.ALLOW_MEMORY_RATELIMITS and os.environ.get("WEB_CONCURRENCY") == "1":
                return
            raise RuntimeError(
                "RATELIMIT_STORAGE_URI is memory:// (or unset): every gunicorn worker would count failed logins "
                "on its own, multiplying the limits. Set RATELIMIT_STORAGE_URI=redis://localhost:6379/0 "
                "(apt-get install redis-server; see deploy/README.md). Only a single-process trial may set "
                "ALLOW_MEMORY_RATELIMITS_IN_PRODUCTION=1 together with WEB_CONCURRENCY=1."
            )
        raise RuntimeError(
            f"RATELIMIT_STORAGE_URI must be a redis:// URL in production (got the scheme {uri.split(':')[0]!r})."
        )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
