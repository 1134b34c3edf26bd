"""Unit leaders (nærmeste ledere): who leads which unit, and the coordinator's changes to it.

The rule, in one place (`Leadership`): a unit's leaders are the users set on it (table `unit_leaders`); a unit
without leaders of its own is led by the leaders of its nearest ancestor that has some. So a leader of a unit
leads its sub-units, except a sub-unit with its own leaders (and everything below that one, unless it too is
overridden further down). A leader is an ordinary staff user: leading is not an access level but rows in
`unit_leaders`; the pages that grant leaders more (the competence overview) ask `Leadership`.

Two queries (the units, the leader rows) answer both directions for the whole tree: the tree is small (tens
to a few hundred units), and the walk is done here in Python, safe against a cycle in the data.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import delete, insert, select

from app.accounts.models import Unit, User, unit_leaders
from app.audit.services import record
from app.core.access import AccessLevel
from app.core.exceptions import ValidationFailed
from app.extensions import db

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Leadership:
    """The unit tree with its leaders: `parent` unit id -> parent id, `own` unit id -> its own leaders,
    `names` unit id -> name."""

    parent: dict[int, int | None]
    own: dict[int, frozenset[int]]
    names: dict[int, str]

    def leaders_of(self, unit_id: int) -> frozenset[int]:
        """The user ids who lead `unit_id`: its own leaders, else those of its nearest ancestor that has some."""
        seen: set[int] = set()
        current: int | None = unit_id
        while current is not None and current not in seen:
            seen.add(current)
            if self.own.get(current):
                return self.own[current]
            current = self.parent.get(current)
        return frozenset()

    def units_led_by(self, user_id: int) -> set[int]:
        """The unit ids `user_id` leads: those they are set on, and below them every unit whose leaders they
        are by inheritance (a sub-unit with leaders of its own, and its subtree, is not theirs)."""
        return {unit_id for unit_id in self.parent if user_id in self.leaders_of(unit_id)}

    def path(self, unit_id: int) -> str:
        """'Socialcenter Amager › Familieteam Amager' (the unit and its ancestors, top first)."""
        parts: list[str] = []
        seen: set[int] = set()
        current: int | None = unit_id
        while current is not None and current not in seen and current in self.names:
            seen.add(current)
            parts.append(self.names[current])
            current = self.parent.get(current)
        return " › ".join(reversed(parts))

    def subtree(self, unit_id: int) -> set[int]:
        """`unit_id` and every unit below it."""
        children: dict[int | None, list[int]] = defaultdict(list)
        for child, parent in self.parent.items():
            children[parent].append(child)
        found: set[int] = set()
        todo = [unit_id]
        while todo:
            current = todo.pop()
            if current not in found and current in self.parent:
                found.add(current)
                todo.extend(children.get(current, []))
        return found


def load_leadership() -> Leadership:
    """The whole tree's leadership (two queries)."""
    parent: dict[int, int | None] = {}
    names: dict[int, str] = {}
    for unit_id, parent_id, name in db.session.execute(select(Unit.id, Unit.parent_id, Unit.name)):
        parent[unit_id], names[unit_id] = parent_id, name
    own: dict[int, set[int]] = defaultdict(set)
    for leader_row in db.session.execute(select(unit_leaders.c.unit_id, unit_leaders.c.user_id)):
        own[int(leader_row.unit_id)].add(int(leader_row.user_id))
    return Leadership(parent=parent, own={unit: frozenset(users) for unit, users in own.items()}, names=names)


def units_led_by(user_id: int) -> set[int]:
    """Which units does this user lead (see the module docstring for the inheritance rule)."""
    return load_leadership().units_led_by(user_id)


def leaders_of(unit_id: int) -> frozenset[int]:
    """Who leads this unit: user ids (see the module docstring for the inheritance rule)."""
    return load_leadership().leaders_of(unit_id)


def own_leaders(unit: Unit) -> list[User]:
    """The users set as leaders on `unit` itself, by name (the unit page's list)."""
    return list(
        db.session.scalars(
            select(User)
            .join(unit_leaders, unit_leaders.c.user_id == User.id)
            .where(unit_leaders.c.unit_id == unit.id)
            .order_by(User.name, User.id)
        )
    )


def inherited_leaders(unit: Unit) -> tuple[Unit | None, list[User]]:
    """For a unit without leaders of its own: the nearest ancestor that has some, and its leaders."""
    leadership = load_leadership()
    if leadership.own.get(unit.id):
        return None, []
    current = unit.parent_id
    seen: set[int] = {unit.id}
    while current is not None and current not in seen:
        seen.add(current)
        if leadership.own.get(current):
            ancestor = db.session.get(Unit, current)
            users = db.session.scalars(
                select(User).where(User.id.in_(leadership.own[current])).order_by(User.name, User.id)
            )
            return ancestor, list(users)
        current = leadership.parent.get(current)
    return None, []


def directory_leader_ids(unit: Unit) -> set[int]:
    """The unit's own leaders that the directory set (SCIM's `manager`): shown as such, not removable here."""
    return set(
        db.session.scalars(
            select(unit_leaders.c.user_id).where(
                unit_leaders.c.unit_id == unit.id, unit_leaders.c.source == "directory"
            )
        )
    )


def _is_own_leader(unit_id: int, user_id: int) -> bool:
    return (
        db.session.scalar(
            select(unit_leaders.c.user_id).where(unit_leaders.c.unit_id == unit_id, unit_leaders.c.user_id == user_id)
        )
        is not None
    )


def add_leader(unit: Unit, user_id: int, *, actor: User | None) -> User:
    """Make an active staff member a leader of `unit` (coordinator). :raises ValidationFailed: not such a
    person, or already a leader of this unit."""
    person = db.session.get(User, user_id)
    if (
        person is None
        or person.access_level != AccessLevel.STAFF
        or not person.active
        or person.anonymised_at is not None
    ):
        raise ValidationFailed({"user_id": [_("Vælg en aktiv medarbejder fra søgningen.")]})
    if _is_own_leader(unit.id, person.id):
        raise ValidationFailed({"user_id": [_("%(name)s er allerede leder af enheden.", name=person.name)]})
    db.session.execute(insert(unit_leaders).values(unit_id=unit.id, user_id=person.id))
    record("unit.leader_add", actor=actor, subject=person.id, object_type="unit", object_id=unit.id)
    db.session.expire(person, ["is_leader"])
    logger.info("unit %s: leader %s added by %s", unit.id, person.id, actor.id if actor else "system")
    return person


def remove_leader(unit: Unit, user_id: int, *, actor: User | None) -> User:
    """Remove a leader from `unit` (coordinator). :raises ValidationFailed: not a leader of this unit."""
    person = db.session.get(User, user_id)
    if person is None or not _is_own_leader(unit.id, person.id):
        raise ValidationFailed({"user_id": [_("Personen er ikke leder af enheden.")]})
    if person.id in directory_leader_ids(unit):
        raise ValidationFailed(
            {
                "user_id": [
                    _(
                        "%(name)s er leder ifølge kataloget (Microsoft Entra ID). Ret lederen i kataloget.",
                        name=person.name,
                    )
                ]
            }
        )
    db.session.execute(
        delete(unit_leaders).where(unit_leaders.c.unit_id == unit.id, unit_leaders.c.user_id == person.id)
    )
    record("unit.leader_remove", actor=actor, subject=person.id, object_type="unit", object_id=unit.id)
    db.session.expire(person, ["is_leader"])
    logger.info("unit %s: leader %s removed by %s", unit.id, person.id, actor.id if actor else "system")
    return person
