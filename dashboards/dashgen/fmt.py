"""Display formats. Money is '<currency> <amount, two decimals>' and never loses its currency; the marts keep
the exact decimal(38, 9) values, rounding happens only here (half up, as a person expects)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dashgen.spec import Format

CENT = Decimal("0.01")
DASH = "\u2013"  # shown for a missing value


def money(amount: Any, currency: Any) -> str:
    if amount is None:
        return DASH
    if not currency:
        raise ValueError(f"money without a currency: {amount!r}")
    return f"{currency} {Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def value(raw: Any, kind: Format, currency: Any = None) -> str:  # noqa: PLR0911 (one return per format)
    """One cell as a person reads it."""
    if raw is None:
        return DASH
    if kind == "money":
        return money(raw, currency)
    if kind == "rate":
        return f"{Decimal(raw) * 100:.2f}%"
    if kind == "decimal":
        return f"{Decimal(raw):,.1f}"
    if kind == "int":
        return f"{int(raw):,}" if isinstance(raw, int | Decimal) else str(raw)
    if kind == "timestamp" and isinstance(raw, datetime):
        return raw.strftime("%Y-%m-%d %H:%M:%S UTC")
    if kind == "date" and isinstance(raw, date):
        return raw.isoformat()
    return str(raw)


def number(raw: Any) -> float | None:
    """Chart geometry only (bar heights): labels and tooltips show `value`, the exact figure."""
    return None if raw is None else float(raw)
