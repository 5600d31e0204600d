"""Exact conversions between protobuf Money (units + nanos) and Decimal / decimal strings.

Money never passes through float: amounts are integers of nanos until they become
a decimal string in bronze and a DECIMAL column in the warehouse.
"""

from __future__ import annotations

from decimal import Decimal

from sportscards.common.v1.money_pb2 import Money

NANOS_PER_UNIT = 1_000_000_000
MAX_NANOS = NANOS_PER_UNIT - 1


def money_to_str(units: int, nanos: int) -> str:
    """Render units + nanos as a plain decimal string without trailing zeros ("12.34", "-0.5", "7")."""
    total = units * NANOS_PER_UNIT + nanos
    whole, frac = divmod(abs(total), NANOS_PER_UNIT)
    text = str(whole) if frac == 0 else f"{whole}.{frac:09d}".rstrip("0")
    return f"-{text}" if total < 0 else text


def money_to_decimal(money: Money) -> Decimal:
    return Decimal(money_to_str(money.units, money.nanos))


def decimal_to_money(amount: Decimal | str, currency_code: str) -> Money:
    """Build a Money from an exact decimal; refuses amounts finer than a nano instead of rounding."""
    value = Decimal(amount)
    nanos_total = value * NANOS_PER_UNIT
    if nanos_total != nanos_total.to_integral_value():
        raise ValueError(f"{amount} has more than 9 decimal places and cannot be represented exactly")
    total = int(nanos_total)
    sign = -1 if total < 0 else 1
    units, nanos = divmod(abs(total), NANOS_PER_UNIT)
    return Money(currency_code=currency_code, units=sign * units, nanos=sign * nanos)


def money_problem(units: int, nanos: int, currency_code: str) -> str | None:
    """Why a Money value is invalid, or None when it is well formed."""
    if len(currency_code) != 3 or not currency_code.isascii() or not currency_code.isupper():
        return f"currency_code {currency_code!r} is not an ISO 4217 code"
    if not -MAX_NANOS <= nanos <= MAX_NANOS:
        return f"nanos {nanos} is outside [-{MAX_NANOS}, {MAX_NANOS}]"
    if (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
        return "units and nanos have different signs"
    return None
