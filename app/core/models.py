"""DataVersion: a token per set of rarely changed rows, replaced in the same transaction as any write to them
(app.core.data_versions)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model


class DataVersion(Model):
    """One row per versioned set of data; `token` is a fresh random value after every change to it."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
