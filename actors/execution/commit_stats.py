"""Commit latency of the ledger writer, kept as a fixed-bucket histogram (no allocation per commit)
and published now and then as a LedgerStats message for the metrics endpoint."""

from __future__ import annotations

import bisect
from typing import Final

from ipc.messages import LedgerStats

# ns: from a no-fsync LMDB commit (a few µs) to a stalled disk.
BUCKET_UPPER_NS: Final = (2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
                          2_500_000, 5_000_000, 10_000_000, 50_000_000)


class CommitStats:
    __slots__ = ("counts", "commits", "sum_ns")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKET_UPPER_NS) + 1)  # the last: above every bound
        self.commits = 0
        self.sum_ns = 0

    def observe(self, elapsed_ns: int) -> None:
        # hot path: once per ledger transaction
        self.counts[bisect.bisect_left(BUCKET_UPPER_NS, elapsed_ns)] += 1
        self.commits += 1
        self.sum_ns += elapsed_ns

    def snapshot(self, actor: str, now_ns: int) -> LedgerStats:
        return LedgerStats(actor, self.commits, self.sum_ns, list(BUCKET_UPPER_NS), list(self.counts), now_ns)
