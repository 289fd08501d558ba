"""Exponential backoff: the one rule for how long to wait before trying again.

Used for reconnects (Dhan feed and order-update stream), retried requests, reconciliation retries,
actor restarts and polls. Pure: the caller counts attempts and owns the random generator (seeded
in tests).
"""

from __future__ import annotations

import math
import random

# Past this many doublings every realistic cap has long been reached; it keeps 2**n a float.
_MAX_DOUBLINGS = 64


def backoff_s(attempt: int, initial_s: float, max_s: float = math.inf, rng: random.Random | None = None) -> float:
    """Seconds to wait before try number ``attempt`` (0-based; a negative one counts as 0):
    ``initial_s * 2**attempt`` capped at ``max_s``. With ``rng``, a uniform draw from the upper
    half of that instead (at least half the wait, so it still grows; jitter spreads clients that
    failed together apart)."""
    base = min(max_s, initial_s * 2.0 ** min(max(attempt, 0), _MAX_DOUBLINGS))
    return base if rng is None else rng.uniform(base / 2, base)
