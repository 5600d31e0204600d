"""Capped exponential backoff with jitter: the one delay rule every retry loop here uses."""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float) -> float:
    """Delay before retry `attempt` (1-based): "equal jitter", half fixed and half random, so that many
    clients cut off by one server restart do not all come back at the same instant."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))
