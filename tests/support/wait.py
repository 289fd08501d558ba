"""The one way a test waits for something another process or thread does: poll a condition until it holds.

A test never sleeps to let time pass (time rules run on the simulated clock); it waits for an
observable fact (a ledger row, a message, a file) and fails with what it last saw when the fact
does not come within a generous bound. The bound is a hang guard, not a speed assertion.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.05


class Hopeless(AssertionError):
    """Raised by a probe when the fact can no longer come (the daemon exited): ``eventually``
    lets it through at once instead of waiting out its bound."""


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = 60.0,
               describe: Callable[[], str] | None = None, poll_s: float = POLL_S) -> T:
    """Call ``probe`` until it returns something truthy and return that. An exception from the
    probe counts as "not yet" (a ledger being created, a file half-written), except ``Hopeless``.
    ``poll_s`` is the pause between calls (0 when the probe itself blocks, e.g. on a socket).
    On timeout raise an AssertionError naming ``what``, the last value or exception, and
    ``describe()`` (e.g. a log tail)."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Hopeless:
            raise
        except Exception as exc:  # noqa: BLE001 - not ready yet; reported if it never gets ready
            last = exc
        if time.monotonic() >= deadline:
            detail = f"\n{describe()}" if describe is not None else ""
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s (last: {last!r}){detail}")
        if poll_s:
            time.sleep(poll_s)


def stepping(step: Callable[[], object], done: Callable[[], T | None]) -> Callable[[], T | None]:
    """A probe for ``eventually`` that drives the code under test itself: ``done()`` if it already
    holds, else run ``step`` once (a loop turn, a venue poll) and ask ``done()`` again. An exception
    from ``step`` fails at once: it is the code under test failing, not a fact not there yet."""
    def probe() -> T | None:
        found = done()
        if found:
            return found
        try:
            step()
        except Exception as exc:
            raise Hopeless(f"{type(exc).__name__}: {exc}") from exc
        return done()
    return probe
