"""Small helpers shared by the accounts tests."""

from __future__ import annotations

from tests.conftest import csrf_token_from


def csrf_token(client, url: str = "/accessibility-statement") -> str:
    """A valid CSRF token for the client's session, read from a page with a form (the language switch)."""
    return csrf_token_from(client.get(url).get_data(as_text=True))


def is_logged_in(client) -> bool:
    """The home page sends a logged-in user on to the course runs and anybody else to the login."""
    response = client.get("/")
    return response.status_code == 302 and not response.location.startswith("/login")


def outbox_rows(kind: str | None = None):
    """The queued mails, oldest first (optionally of one kind)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.notifications.models import OutboxMessage

    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind is not None:
        stmt = stmt.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(stmt))


def link_in(row, path_prefix: str) -> str:
    """The path of the first link starting with `path_prefix` in a queued mail's text part."""
    import re
    from email import message_from_bytes, policy

    msg = message_from_bytes(row.message, policy=policy.default)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"[^\s]+)", text)
    assert match, f"no {path_prefix} link in the mail"
    return match.group(1)


def mail_text(row) -> str:
    from email import message_from_bytes, policy

    msg = message_from_bytes(row.message, policy=policy.default)
    return msg.get_body(preferencelist=("plain",)).get_content()


def audit_actions(action_prefix: str = "auth."):
    from sqlalchemy import select

    from app.audit.models import AuditEntry
    from app.extensions import db

    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith(action_prefix)).order_by(AuditEntry.id)
        )
    )
