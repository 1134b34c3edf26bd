"""Use cases for providers (udbydere), and the reads their pages need.

Providers are never deleted: course runs and budget allocations refer to them, so a provider that
no longer delivers courses is deactivated instead. Services flush but never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.audit.services import record, record_update, snapshot
from app.core.db import Page, paginate, totals_per_item
from app.core.exceptions import Conflict
from app.core.unique import name_taken, unique_guard
from app.extensions import db
from app.programmes.models import BudgetAllocation, Programme
from app.providers.models import Provider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderData:
    """What the coordinator types for a provider (service input for create and update)."""

    name: str
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    notes: str | None = None
    active: bool = True


@dataclass(frozen=True)
class ProviderSummary:
    """One row of the provider list: the provider and how many users log in on its behalf."""

    provider: Provider
    user_count: int


def _name_message(name: str) -> str:
    return _("Der findes allerede en udbyder med navnet %(name)s.", name=name)


PROVIDER_FIELDS = ("name", "contact_name", "contact_email", "contact_phone", "notes", "active")


def _apply(provider: Provider, data: ProviderData) -> None:
    provider.name = data.name
    provider.contact_name = data.contact_name
    provider.contact_email = data.contact_email.lower() if data.contact_email else None
    provider.contact_phone = data.contact_phone
    provider.notes = data.notes
    provider.active = data.active


def create_provider(data: ProviderData, *, actor=None) -> Provider:
    """Create a provider (coordinator).

    :raises Conflict: the name is taken (field ``name``).
    """
    if name_taken(Provider, data.name):
        raise Conflict(_name_message(data.name), field="name")
    provider = Provider()
    with unique_guard(_name_message(data.name), "name"):
        _apply(provider, data)
        db.session.add(provider)
    record("provider.create", actor=actor, object_type="provider", object_id=provider.id)
    logger.info("provider created by %s: %r", actor, provider)
    return provider


def update_provider(provider: Provider, data: ProviderData, *, actor=None) -> Provider:
    """Change a provider's name, contact details, notes or active flag (coordinator).

    :raises Conflict: the name belongs to another provider (field ``name``).
    """
    if name_taken(Provider, data.name, provider.id):
        raise Conflict(_name_message(data.name), field="name")
    before = snapshot(provider, PROVIDER_FIELDS)
    with unique_guard(_name_message(data.name), "name"):
        _apply(provider, data)
    record_update("provider.update", provider, before, actor=actor, object_type="provider")
    logger.info("provider updated by %s: %r (active=%s)", actor, provider, provider.active)
    return provider


def list_providers(page: int = 1, per_page: int = 25) -> Page:
    """A page of providers by name, active first, each with its user count (one aggregate query per page)."""
    stmt = select(Provider).order_by(Provider.active.desc(), Provider.name, Provider.id)
    result = paginate(db.session, stmt, page, per_page)
    counts = totals_per_item(db.session, result, User.provider_id, func.count(User.id))
    result.items = [ProviderSummary(p, counts.get(p.id, 0)) for p in result.items]
    return result


def list_active_providers() -> list[Provider]:
    """Providers that can receive new budget allocations and course runs, by name."""
    return list(db.session.scalars(select(Provider).where(Provider.active.is_(True)).order_by(Provider.name)))


def list_provider_allocations(provider: Provider) -> list[BudgetAllocation]:
    """The provider's budget allocations across programmes: newest year first, then programme name."""
    return list(
        db.session.scalars(
            select(BudgetAllocation)
            .join(BudgetAllocation.programme)
            .where(BudgetAllocation.provider_id == provider.id)
            .options(joinedload(BudgetAllocation.programme))
            .order_by(BudgetAllocation.year.desc(), Programme.name, BudgetAllocation.id)
        )
    )


def list_provider_users(provider: Provider) -> list[User]:
    """The users who log in on behalf of the provider, by name."""
    return list(db.session.scalars(select(User).where(User.provider_id == provider.id).order_by(User.name, User.id)))
