"""scim2-tester (an independent SCIM 2.0 conformance checker, PyPI) against the running application.

The app is served by werkzeug on 127.0.0.1 in a thread, on a database of its own (as the browser tests' live
server, without its demo data), and every check goes over real HTTP with a real bearer token. scim2-client's
network engine needs the `httpx2` package, which we don't install; its WSGI engine is given a small WSGI app
that forwards each request with httpx to the server, so the requests still cross the network stack.

Every check must succeed; skipped checks are only those scim2-tester skips for features the
ServiceProviderConfig says are absent (bulk, sort, ETags, password changes).
"""

from __future__ import annotations

import threading

import httpx
import pytest
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import CheckResult, Status, check_server
from werkzeug.serving import make_server

from app import create_app
from app.core.clock import utcnow
from app.extensions import db
from app.integrations import services
from config import TestingConfig
from tests import factories
from tests.browser.harness import QuietHandler
from tests.databases import private_database_url

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length"}


@pytest.fixture(scope="module")
def running_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scim")
    database_url = private_database_url("_scim", workdir / "scim.db")

    class ScimServerConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(ScimServerConfig)
    with app.app_context():
        db.drop_all()
        db.create_all()
        coordinator = factories.make_user("coordinator", email="koordinator@test.dk")
        _, token = services.create_client(actor=coordinator, name="scim2-tester", scopes=["scim"], now=utcnow())
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="scim-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", token
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            if db.engine.dialect.name != "sqlite":
                db.drop_all()
            db.engine.dispose()


def forwarding_app(base_url: str, http: httpx.Client):
    """A WSGI app that sends each request on to `base_url` over HTTP and answers with what came back."""

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        headers.pop("HOST", None)
        query = environ.get("QUERY_STRING")
        url = base_url + environ["PATH_INFO"] + (f"?{query}" if query else "")
        response = http.request(environ["REQUEST_METHOD"], url, content=body, headers=headers)
        start_response(
            f"{response.status_code} {response.reason_phrase}",
            [(k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP],
        )
        return [response.content]

    return app


def describe(results: list[CheckResult]) -> str:
    return "\n".join(f"{r.status.name} {r.title}: {r.reason} {str(r.data)[:1500]}" for r in results)


def test_scim2_tester_finds_nothing(running_server):
    base_url, token = running_server
    with httpx.Client(timeout=30) as http:
        client = WSGISCIMClient(
            forwarding_app(base_url, http),
            base_url="http://127.0.0.1/scim/v2",
            headers={"Authorization": f"Bearer {token}"},
        )
        results = check_server(client, raise_exceptions=False)
    assert results, "scim2-tester ran no check"
    failed = [r for r in results if r.status not in (Status.SUCCESS, Status.SKIPPED)]
    assert not failed, describe(failed)
    assert sum(r.status == Status.SUCCESS for r in results) >= 50, describe(results)
