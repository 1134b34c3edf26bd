"""Process-local caches of data derived from rarely changed rows, safe across workers and transactions.

The rule: every write that could change what a cache holds replaces the data's version token in the **same
transaction**: a `before_flush` hook next to the models concerned notes the change (`mark_changed`), and the
token is replaced when the transaction commits (`before_commit`, after its last flush). A reader reads the
token first, then (on a miss) the data; what it computes is remembered under that token. So

- a committed change is seen by every worker on its next request: the token it reads is new, nothing is
  remembered under it yet;
- nothing computed from rows that were later rolled back is ever served: the token of a rolled-back
  transaction is random and never becomes visible to anyone else;
- data read after a newer commit than the token (the token read comes first) is newer, never older, than
  what the token stands for — the next request reads the newer token and computes again.

Tokens are random (uuid4), not counters: a counter rolled back could be reached again by a different change.
The token's row is locked only as the last step before COMMIT, after every row lock the transaction takes, so
it adds no lock-order deadlock (two coordinators editing runs wait for each other's commit at most). A session
with a noted, not yet committed change computes without the cache and remembers nothing: what it reads
includes its own uncommitted rows, under the old token.
Only data that decides nothing is cached this way (a list's filter choices, never seats or permissions).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session, scoped_session

from app.core.models import DataVersion
from app.extensions import db

T = TypeVar("T")


def token(name: str) -> str | None:
    """The current token of `name` (None before its first change on a database made without migrations)."""
    return db.session.scalar(select(DataVersion.token).where(DataVersion.name == name))


#: session.info key: the names whose data this session's transaction changed, replaced at commit.
_CHANGED = "data_versions_changed"


def mark_changed(session: Session, name: str) -> None:
    """Note, from a flush hook, that this transaction changed the data of `name`: its token is replaced when
    the transaction commits."""
    session.info.setdefault(_CHANGED, set()).add(name)


@event.listens_for(Session, "before_commit")
def _bump_changed(session: Session) -> None:
    # The commit's own flush comes after this hook: flush first, so its changes are noted too (a flush with
    # nothing to write returns at once, and the commit's flush then finds nothing left).
    session.flush()
    for name in sorted(session.info.pop(_CHANGED, ())):
        bump(session, name)


def bump(session: Session | scoped_session[Any], name: str) -> None:
    """Give `name` a new token in the session's transaction (an UPDATE of one row; the row is created the
    first time on a database made without the migration that inserts it)."""
    new = uuid.uuid4().hex
    updated = session.execute(update(DataVersion).where(DataVersion.name == name).values(token=new))
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.execute(insert(DataVersion).values(name=name, token=new))


#: session.info key: the tokens this session's transaction has read ({name: token}), forgotten when it ends.
_READ = "data_versions_read"


def _transaction_token(name: str) -> str | None:
    """`token(name)`, read once per transaction: two caches of one data version (the run list's choices and
    its filter form's HTML) share the one statement. A token read earlier in the transaction stands for data
    no newer than what the transaction reads after it, the rule above; the memo ends with the transaction
    (commit, rollback or a savepoint's end), and a session that notes a change of its own bypasses the caches
    before asking."""
    read = db.session.info.setdefault(_READ, {})
    if name not in read:
        read[name] = token(name)
    return read[name]


@event.listens_for(Session, "after_transaction_end")
def _forget_read_tokens(session: Session, transaction) -> None:
    session.info.pop(_READ, None)


class VersionedCache(Generic[T]):
    """Values computed per key, remembered for one token of one data version at a time (the newest token seen
    replaces the older entries); at most `maxsize` keys, the oldest forgotten first."""

    def __init__(self, name: str, maxsize: int = 512) -> None:
        self.name = name
        self.maxsize = maxsize
        self._token: str | None = None
        self._entries: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self.name in db.session.info.get(_CHANGED, ()):  # own uncommitted change: not for anyone else
            return compute()
        current = _transaction_token(self.name)
        if current is None:  # never changed yet (tests' create_all): nothing to key on, compute every time
            return compute()
        entry_key = (current, key)
        with self._lock:
            if entry_key in self._entries:
                return self._entries[entry_key]
        value = compute()
        with self._lock:
            if self._token != current:
                self._entries.clear()
                self._token = current
            if len(self._entries) >= self.maxsize:
                self._entries.pop(next(iter(self._entries)))
            self._entries[entry_key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._token = None
