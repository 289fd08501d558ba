"""An operator's feed subscriptions (``shikra subscribe | unsubscribe``): the rules and the file.

Kept in ``<data_dir>/feed_subscriptions.json`` (written atomically), next to the ledger, by the
feed actor, which owns its subscriptions: a restarted feed streams them again. The config's
``feed.<source>.instruments`` stay the baseline; these sit on top. Every change is also in the
ledger's audit table through the control API.

Unsubscribing is all-or-nothing and only removes what an operator subscribed. Refused, naming
the first instrument concerned:

- ``NOT_SUBSCRIBED``: not an operator subscription (one in the config is removed in the config);
- ``NEEDED_BY_STRATEGY``: a strategy streams it (its own instrument or one it picked at run time);
- ``HELD``: a position or an open order is in it (its marks and stops need the data).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import msgspec

from engine.files import replace_file
from ipc.segments import instrument_label

SUBSCRIPTIONS_FILE = "feed_subscriptions.json"
Key = tuple[int, int]  # (segment, security id)


class OperatorSubscription(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    segment: int
    security_id: int
    by: str
    ts_ns: int


class SubscriptionsFileError(Exception):
    """The file exists but cannot be read or parsed; the message names the file and the problem."""


def load_subscriptions(data_dir: Path) -> list[OperatorSubscription]:
    path = Path(data_dir) / SUBSCRIPTIONS_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SubscriptionsFileError(f"{path}: {exc.strerror}") from None
    try:
        return msgspec.json.decode(raw, type=list[OperatorSubscription])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SubscriptionsFileError(f"{path}: {exc}") from None


def save_subscriptions(data_dir: Path, subscriptions: Sequence[OperatorSubscription]) -> None:
    """Replace the file atomically; a crash leaves the old or the new file, never half of one."""
    replace_file(Path(data_dir) / SUBSCRIPTIONS_FILE,
                 msgspec.json.format(msgspec.json.encode(list(subscriptions)), indent=2))


class Change(msgspec.Struct, frozen=True):
    """The subscriptions after a change and the keys it changed; or a refusal (``code`` set)
    that changes nothing."""

    subscriptions: list[OperatorSubscription]
    changed: list[Key]
    code: str = ""
    detail: str = ""


def subscribe(current: Sequence[OperatorSubscription], keys: Sequence[Key], configured: Collection[Key], by: str,
              ts_ns: int) -> Change:
    """``keys`` added (in order, once each); those already subscribed, by an operator or in the
    config, are left as they are (a configured one stays the config's)."""
    have = {(s.segment, s.security_id) for s in current}
    new = [k for k in dict.fromkeys(keys) if k not in have and k not in configured]
    return Change([*current, *(OperatorSubscription(k[0], k[1], by, ts_ns) for k in new)], new)


def unsubscribe(current: Sequence[OperatorSubscription], keys: Sequence[Key], configured: Collection[Key],
                strategies: Collection[Key], held: Collection[Key]) -> Change:
    """``keys`` removed, or a refusal (module docstring) that removes none of them."""
    have = {(s.segment, s.security_id) for s in current}
    wanted = list(dict.fromkeys(keys))
    for key in wanted:
        label = instrument_label(*key)
        if key not in have:
            where = " (it is in the config's feed instruments: remove it there)" if key in configured else ""
            return Change(list(current), [], "NOT_SUBSCRIBED", f"{label} is not an operator subscription{where}; "
                                                               "nothing was unsubscribed")
        if key in strategies:
            return Change(list(current), [], "NEEDED_BY_STRATEGY", f"{label} is streamed for a strategy (stop or "
                                                                   "remove it first); nothing was unsubscribed")
        if key in held:
            return Change(list(current), [], "HELD", f"{label} has a position or an open order (its marks and stops "
                                                     "need the data); nothing was unsubscribed")
    gone = set(wanted)
    return Change([s for s in current if (s.segment, s.security_id) not in gone], wanted)
