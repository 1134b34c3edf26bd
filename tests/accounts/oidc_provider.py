"""A tiny but real OpenID Connect provider for the SSO tests, served on 127.0.0.1 by werkzeug in a thread.

It does what the app relies on and no more: discovery, a JWKS, an authorization endpoint that "signs in"
whoever the test put in `provider.user` and redirects back with a code, and a token endpoint that checks the
client's credentials, the redirect URI and PKCE (S256) before it issues an RS256-signed ID token (joserfc).
`provider.tamper` lets a test spoil the next ID token: other claims, a foreign signing key, or no signature.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.datastructures import Authorization
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

KID = "test-key-1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # keep the test output clean
        pass


@dataclass
class Tamper:
    #: Claims to set (or, with value None, to remove) in the ID token after the real ones.
    claims: dict[str, Any] = field(default_factory=dict)
    #: Sign with a different key that carries the provider's key id (a forged token).
    foreign_key: bool = False
    #: Send the token with "alg": "none" and no signature.
    unsigned: bool = False
    #: Leave the ID token out of the token response.
    no_id_token: bool = False


class OidcTestProvider:
    def __init__(
        self,
        key: RSAKey,
        foreign_key: RSAKey,
        *,
        client_id: str = "kursusportalen",
        client_secret: str = "s3cret",  # noqa: S107 (the test client's)
        tenant_path: str = "/tenant-1/v2.0",
    ):
        self.key = key
        self.foreign_key = foreign_key
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant_path = tenant_path
        self.user: dict[str, Any] = {}
        self.tamper = Tamper()
        #: What discovery says the issuer is (None: the real one); a test can make it lie.
        self.advertised_issuer: str | None = None
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests = 0
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.base_url + self.tenant_path
        # serve_forever checks for shutdown() every poll_interval (0.5 s by default: each test's stop waited that long).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> OidcTestProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- the endpoints -------------------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        path = request.path
        prefix = self.tenant_path
        routes = {
            f"{prefix}/.well-known/openid-configuration": self._discovery,
            f"{prefix}/keys": self._jwks,
            f"{prefix}/authorize": self._authorize,
            f"{prefix}/token": self._token,
        }
        handler = routes.get(path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    @staticmethod
    def _json(data: dict, status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/json")

    def _discovery(self, request: Request) -> Response:
        return self._json(
            {
                "issuer": self.advertised_issuer or self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/keys",
                "response_types_supported": ["code"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    def _jwks(self, request: Request) -> Response:
        return self._json(KeySet([self.key]).as_dict(private=False))

    def _authorize(self, request: Request) -> Response:
        args = request.args.to_dict()
        self.authorize_requests.append(args)
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            return self._json({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "user": dict(self.user),
            "nonce": args.get("nonce"),
            "redirect_uri": args.get("redirect_uri"),
            "code_challenge": args.get("code_challenge"),
            "code_challenge_method": args.get("code_challenge_method"),
        }
        query = {"code": code}
        if "state" in args:
            query["state"] = args["state"]
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{urlencode(query)}"})

    def _client_ok(self, request: Request) -> bool:
        auth: Authorization | None = request.authorization
        if auth is not None and auth.type == "basic":
            return auth.username == self.client_id and auth.password == self.client_secret
        return (request.form.get("client_id"), request.form.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        if request.method != "POST" or not self._client_ok(request):
            return self._json({"error": "invalid_client"}, 401)
        form = request.form
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if form.get("grant_type") != "authorization_code" or grant is None:
            return self._json({"error": "invalid_grant"}, 400)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self._json({"error": "invalid_grant", "error_description": "redirect_uri"}, 400)
        verifier = form.get("code_verifier", "")
        if (
            grant["code_challenge_method"] != "S256"
            or _b64(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]
        ):
            return self._json({"error": "invalid_grant", "error_description": "pkce"}, 400)
        access_token = secrets.token_urlsafe(24)
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600}
        if not self.tamper.no_id_token:
            body["id_token"] = self.id_token(grant["user"], nonce=grant["nonce"])
        return self._json(body)

    # --- tokens --------------------------------------------------------------------------------------------

    def id_token(self, user: dict[str, Any], *, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 600}
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(user)
        for name, value in self.tamper.claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        if self.tamper.unsigned:
            header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{header}.{_b64(json.dumps(claims).encode())}."
        key = self.foreign_key if self.tamper.foreign_key else self.key
        return jwt.encode({"alg": "RS256", "kid": KID, "typ": "JWT"}, claims, key)


def make_keys() -> tuple[RSAKey, RSAKey]:
    """The provider's signing key and a forger's key with the same key id."""
    return (
        RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"}),
        RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"}),
    )
