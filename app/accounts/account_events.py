"""What happens to an account, in one shape: its audit entry, and the mail that tells its holder.

Used by the sign-in, password, invitation, MFA and SSO use cases. Like the services: explicit `now`, added to
the caller's transaction, never committed here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import current_app

from app.accounts.models import User
from app.audit.services import record
from app.notifications.models import OutboxMessage
from app.notifications.outbox import queue_notice


def audit_account(
    action: str,
    user: User | int,
    *,
    actor: User | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """One audit entry about `user`'s account (`user` may be just the id, so nothing loads the user)."""
    user_id = user.id if isinstance(user, User) else user
    record(action, actor=actor, object_type="user", object_id=user_id, subject=user_id, details=details, now=now)


def mail_link(path: str) -> str:
    """An absolute link for a mail, built on BASE_URL (mails may be queued outside any request, where
    url_for can't build; the paths are those of accounts.password_reset and accounts.accept_invitation)."""
    return current_app.config["BASE_URL"].rstrip("/") + path


def mail_account_holder(
    user: User,
    *,
    kind: str,
    now: datetime,
    path: str,
    link_text: Callable[[], str],
    subject: Callable[[], str],
    paragraphs: Callable[[], list[str]],
) -> OutboxMessage | None:
    """Queue a mail to `user` about their account, with one link (`path` on BASE_URL). Each such mail is its
    own: its dedupe key never matches an earlier one's. Texts are callables, rendered in the user's language."""
    return queue_notice(
        user,
        kind=kind,
        dedupe_key=f"{kind}:{user.id}:{now.timestamp():.0f}:{secrets.token_hex(4)}",
        now=now,
        link=mail_link(path),
        link_text=link_text,
        subject=subject,
        paragraphs=paragraphs,
    )
