"""Which internal topics the gateway takes from the bus, given what dashboards subscribed to.

The gateway asks the engine's publishers only for what some dashboard wants (plus what the
metrics need), so with no dashboard connected the feed does not even encode a tick for it.
Pure: values in, values out.
"""

from __future__ import annotations

import collections

MAX_PUBLIC_PREFIXES = 1024  # a client subscribing to endless distinct prefixes is refused past this


def upstream_for(public_prefix: bytes, allowed: tuple[bytes, ...]) -> set[bytes]:
    """The internal prefixes that serve one dashboard subscription: its own prefix where it lies
    inside an allowed one (``tick.NSE_EQ.2885`` under ``tick.``), the allowed prefixes that lie
    inside it (everything for ``b""``), nothing for a topic that is not public."""
    out: set[bytes] = set()
    for prefix in allowed:
        if public_prefix.startswith(prefix):
            out.add(public_prefix)
        elif prefix.startswith(public_prefix):
            out.add(prefix)
    return out


def is_public(topic: bytes, allowed: tuple[bytes, ...]) -> bool:
    return any(topic.startswith(p) for p in allowed)


class SubscriptionTable:
    """Reference counts of internal prefixes, from dashboard subscriptions and fixed needs.

    ``add_public`` / ``remove_public`` / ``add_fixed`` return ``(subscribe, unsubscribe)``: the
    internal prefixes whose count went 0 -> 1 and 1 -> 0, to apply to the upstream SUB socket.
    XPUB (not verbose) reports a prefix once when its first dashboard subscribes and once when
    its last one leaves, so a set of public prefixes is enough.
    """

    def __init__(self, allowed: tuple[bytes, ...], max_public: int = MAX_PUBLIC_PREFIXES) -> None:
        self.allowed = allowed
        self.max_public = max_public
        self.public: set[bytes] = set()
        self.counts: collections.Counter[bytes] = collections.Counter()
        self.refused = 0

    def _incr(self, prefixes: set[bytes]) -> list[bytes]:
        new = []
        for p in sorted(prefixes):
            self.counts[p] += 1
            if self.counts[p] == 1:
                new.append(p)
        return new

    def _decr(self, prefixes: set[bytes]) -> list[bytes]:
        gone = []
        for p in sorted(prefixes):
            self.counts[p] -= 1
            if self.counts[p] <= 0:
                del self.counts[p]
                gone.append(p)
        return gone

    def add_fixed(self, prefixes: tuple[bytes, ...]) -> list[bytes]:
        """Prefixes always taken (the metrics' order/fill/denial/health events)."""
        return self._incr(set(prefixes))

    def add_public(self, prefix: bytes) -> tuple[list[bytes], list[bytes]]:
        if prefix in self.public:
            return [], []
        if len(self.public) >= self.max_public:
            self.refused += 1
            return [], []
        self.public.add(prefix)
        return self._incr(upstream_for(prefix, self.allowed)), []

    def remove_public(self, prefix: bytes) -> tuple[list[bytes], list[bytes]]:
        if prefix not in self.public:
            return [], []
        self.public.discard(prefix)
        return [], self._decr(upstream_for(prefix, self.allowed))

    def on_frame(self, frame: bytes) -> tuple[list[bytes], list[bytes]]:
        """An XPUB subscription frame: ``\\x01prefix`` subscribes, ``\\x00prefix`` unsubscribes;
        anything else (a client sending data on a SUB) is ignored."""
        if frame[:1] == b"\x01":
            return self.add_public(frame[1:])
        if frame[:1] == b"\x00":
            return self.remove_public(frame[1:])
        return [], []
