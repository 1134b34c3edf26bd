"""The database down: every page answers 503 with Retry-After and the translated errors/unavailable.html,
rendered without the database (app/errors.py) - never gunicorn's bare "Internal Server Error". And the pool
tests its connections before use (pool_pre_ping), so the first request after a database restart succeeds."""

from __future__ import annotations

import socket

import pytest

from app import create_app
from app.extensions import db
from config import ProductionConfig, TestingConfig
from tests.conftest import csrf_token_from
from tests.databases import private_database_url

DANISH = "Kursusportalen er midlertidigt utilgængelig"
ENGLISH = "Kursusportalen is temporarily unavailable"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: connections are refused


@pytest.fixture(params=["postgresql", "sqlite"])
def down(request, tmp_path):
    """A client of the app on a database that cannot be reached: PostgreSQL on a closed port, or an SQLite
    file in a folder that does not exist."""
    if request.param == "postgresql":
        url = f"postgresql+psycopg://kp@127.0.0.1:{_closed_port()}/kp"
    else:
        url = f"sqlite:///{tmp_path / 'missing' / 'kp.db'}"
    config = type("DatabaseDown", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url, "PROPAGATE_EXCEPTIONS": False})
    app = create_app(config)
    client = app.test_client()
    yield client
    with app.app_context():
        db.engine.dispose()


def _log_in(client) -> None:
    """A session as the login leaves it (the user's id, the session version, the times): the next request
    loads the user from the database."""
    from app.core import clock

    now = clock.utcnow().isoformat()
    with client.session_transaction() as session:
        session.update({"_user_id": "1", "_fresh": True, "sv": 0, "login_at": now, "seen_at": now})


def assert_unavailable_page(response, language: str = "da") -> None:
    text = response.get_data(as_text=True)
    assert response.status_code == 503, text[:300]
    # 30 s; a rate-limited form (the login) says when its window ends, if that is later (Flask-Limiter).
    assert int(response.headers["Retry-After"]) >= 30
    assert response.mimetype == "text/html"
    assert f'<html lang="{language}">' in text
    assert (DANISH if language == "da" else ENGLISH) in text
    for leak in ("Traceback", "Internal Server Error", "OperationalError", "psycopg", "sqlite3", "SELECT"):
        assert leak not in text


def test_an_anonymous_visitor_gets_the_503_page(down):
    login = down.get("/login")  # the login form itself needs no database
    assert login.status_code == 200
    response = down.post(
        "/login",
        data={"csrf_token": csrf_token_from(login.get_data(as_text=True)), "email": "a@b.dk", "password": "x"},
    )
    assert_unavailable_page(response)
    assert_unavailable_page(down.get("/calendar/" + "A" * 43 + ".ics"))


def test_a_logged_in_user_gets_the_503_page_on_every_page(down):
    _log_in(down)
    for url in ("/", "/runs", "/me/courses", "/settings", "/accessibility-statement", "/no-such-page"):
        response = down.get(url)
        assert_unavailable_page(response)
        assert response.headers["Retry-After"] == "30"
    # A form posted with an expired CSRF token: the 400 page's header needs the user, so the 503 page instead.
    assert_unavailable_page(down.post("/me/calendar-token", data={"csrf_token": "expired"}))


def test_the_503_page_speaks_english_when_asked(down):
    _log_in(down)
    assert_unavailable_page(down.get("/runs", headers={"Accept-Language": "en"}), "en")
    down.set_cookie("lang", "en")
    assert_unavailable_page(down.get("/me/courses"), "en")


def test_the_outage_is_logged_without_sql_or_values(down, caplog):
    _log_in(down)
    with caplog.at_level("ERROR", logger="app.errors"):
        down.get("/runs")
    (record,) = [r for r in caplog.records if r.name == "app.errors"]
    assert record.getMessage().startswith("database unavailable: OperationalError: ")
    assert "SELECT" not in record.getMessage() and "[parameters" not in record.getMessage()


def test_healthz_says_unavailable(down):
    response = down.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 503 and response.get_data(as_text=True) == "unavailable\n"


# --- pool_pre_ping -------------------------------------------------------------------------------------------


def _restart_database(app) -> None:
    """What a database restart does to the pool: every idle connection is dead (closed under the pool)."""
    with app.app_context():
        idle = list(db.engine.pool._pool.queue)  # QueuePool's idle connection records
        assert idle, "the pool holds the connection of the first request"
        for record in idle:
            record.dbapi_connection.close()


@pytest.mark.parametrize("engine_options, after_restart", [("as configured", 200), ("without pre-ping", 503)])
def test_the_first_request_after_a_database_restart_succeeds(tmp_path, engine_options, after_restart):
    """The control (pre-ping off) shows what the setting prevents: the first request after the restart fails."""
    options = dict(TestingConfig.SQLALCHEMY_ENGINE_OPTIONS)
    if engine_options == "without pre-ping":
        options["pool_pre_ping"] = False
    config = type(
        "Restarted",
        (TestingConfig,),
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'kp.db'}", "SQLALCHEMY_ENGINE_OPTIONS": options},
    )
    app = create_app(config)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/healthz", environ_base=local).status_code == 200
    _restart_database(app)
    assert client.get("/healthz", environ_base=local).status_code == after_restart
    assert client.get("/healthz", environ_base=local).status_code == 200  # the dead connection is gone either way
    with app.app_context():
        db.engine.dispose()


@pytest.mark.postgres_only(reason="pg_terminate_backend: PostgreSQL itself drops the app's connections")
def test_the_first_request_after_postgresql_dropped_the_connections_succeeds():
    import psycopg
    from sqlalchemy.engine import make_url

    url = private_database_url("_restart")
    app = create_app(type("Restarted", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    with app.app_context():
        db.create_all()
    client = app.test_client()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    try:
        assert client.get("/healthz", environ_base=local).status_code == 200
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        assert dropped >= 1, "the app's pooled connection was dropped"
        assert client.get("/healthz", environ_base=local).status_code == 200
    finally:
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def test_every_configuration_pings_pooled_connections():
    assert TestingConfig.SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is True
    assert ProductionConfig.SQLALCHEMY_ENGINE_OPTIONS == {"pool_pre_ping": True, "hide_parameters": True}
