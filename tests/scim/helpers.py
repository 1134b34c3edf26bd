"""A test client that calls /scim/v2 as Entra ID does: a bearer token of a client with the scope "scim"."""

from __future__ import annotations

from app.core.clock import utcnow
from app.extensions import db
from app.integrations import services

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class ScimClient:
    """get/post/put/patch/delete with the token and SCIM's content type; `client_row` is the integration client."""

    def __init__(self, app, client_row, token: str):
        self.http = app.test_client()
        self.client_row = client_row
        self.token = token

    def _call(self, method: str, url: str, json=None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        if json is not None:
            headers["Content-Type"] = "application/scim+json"
            import json as _json

            kwargs["data"] = _json.dumps(json)
        return getattr(self.http, method)(url, headers=headers, **kwargs)

    def get(self, url, **kw):
        return self._call("get", url, **kw)

    def post(self, url, json=None, **kw):
        return self._call("post", url, json, **kw)

    def put(self, url, json=None, **kw):
        return self._call("put", url, json, **kw)

    def patch(self, url, json=None, **kw):
        return self._call("patch", url, json, **kw)

    def delete(self, url, **kw):
        return self._call("delete", url, **kw)


def scim_client(app, coordinator, name: str = "Entra ID", scopes=("scim",)) -> ScimClient:
    row, token = services.create_client(actor=coordinator, name=name, scopes=scopes, now=utcnow())
    db.session.commit()
    return ScimClient(app, row, token)
