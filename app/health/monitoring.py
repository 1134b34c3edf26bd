"""Who may read `/healthz`'s details (outbox backlog, scheduler heartbeat): a monitor, not the public.

Everyone gets up or down (200 "ok" / 503 "unavailable"). The details (JSON) go to a request that

- carries the monitoring token: `Authorization: Bearer <HEALTHZ_TOKEN>` (compared in constant time; production
  refuses a weak or published token like any other secret, config.py), or
- was sent from this host straight to gunicorn: the TCP peer is a loopback address and the request carries no
  X-Forwarded-For / Forwarded / X-Real-IP header.

The peer is the connection's own address, never one a proxy reported: behind nginx, ProxyFix replaces
REMOTE_ADDR with the client's address from X-Forwarded-For (which a client can write into), so the address
gunicorn saw is read from what ProxyFix kept (`werkzeug.proxy_fix.orig`). That address is nginx's own -
loopback - for every request from the internet, which is why a request that came through a proxy (nginx always
adds X-Forwarded-For, deploy/nginx-kursusportalen.conf) never counts as local, whatever its addresses say.
"""

from __future__ import annotations

import hmac
import ipaddress

from werkzeug.wrappers import Request

#: Headers that a proxy adds: their presence means the request did not come straight from this host.
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def may_see_details(request: Request, token: str | None) -> bool:
    """True when `request` may read the health details (see the module docstring)."""
    return _has_token(request, token) or _from_this_host(request)


def _has_token(request: Request, token: str | None) -> bool:
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _from_this_host(request: Request) -> bool:
    environ = request.environ
    if any(environ.get(header) for header in _PROXY_HEADERS):
        return False
    peer = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR", environ.get("REMOTE_ADDR"))
    try:
        return ipaddress.ip_address(peer or "").is_loopback
    except ValueError:  # a Unix socket ("") or nothing: not provably this host
        return False
