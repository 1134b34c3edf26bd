"""Amounts are integers of øre (1/100 DKK) in the database: never floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def kroner_to_ore(amount: Decimal | int | str) -> int:
    return int((Decimal(str(amount)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def ore_to_kroner(ore: int | None) -> Decimal:
    return (Decimal(ore or 0) / 100).quantize(Decimal("0.01"))
