"""How the ledger is stored: the writer's configuration (``[ledger]`` in the config file)."""

from __future__ import annotations

from typing import Final, Literal

import msgspec

_MIB: Final = 1024 * 1024

Durability = Literal["sync", "group", "os"]


class LedgerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the ledger is stored. Sizes in bytes, intervals in milliseconds.

    ``grow_at_percent``: the map doubles before a write that would take usage above this
    percentage of the map (LMDB cannot write past its map; a MapFullError is also caught, the map
    grown and the whole transaction retried).

    ``writemap``: write through a shared writable map instead of ``write()`` calls. Commits cost
    less (no system call) and a process crash is survived the same way, but LMDB's fsync becomes
    an ``msync`` of the whole map and the data file is sized to the map (sparse). ``None``
    (default) picks True for ``group`` and ``os``, False for ``sync`` (bench/test_ledger_bench.py).

    ``verify_on_open``: before any unit starts, ``shikra run`` checks the ledger's pages and event
    checksums; with this on it also replays the events and compares every derived table (and the
    writer does at its open). ``background_verify_interval_s``: the same full check, on a read
    snapshot, this often while the daemon runs.

    ``map_release_bytes``: after this many bytes of events written, the writer remaps the file
    (when no snapshot is open in its process), which drops the pages it has touched from its
    address space. They stay in the OS page cache (nothing is read or written again); without
    this every page ever written since the last map growth counts in the process's resident
    memory. 0 = never.
    """

    durability: Durability = "group"
    group_fsync_ms: int = 50
    initial_map_size_bytes: int = 64 * _MIB
    max_map_size_bytes: int = 1024 * 1024 * _MIB
    grow_at_percent: int = 50
    max_readers: int = 126
    writemap: bool | None = None
    # Off by default: replaying 1 M events takes ~9 s, over the 5 s start budget (the quick check
    # of pages and checksums that always runs at start takes ~3 s; bench/test_ledger_bench.py).
    verify_on_open: bool = False
    map_release_bytes: int = 1 * _MIB
    # The full check (replay and compare) runs in the background this often while the daemon
    # runs, on a read snapshot; a damaged ledger engages the kill switch. 0 = never.
    background_verify_interval_s: int = 24 * 3600

    def __post_init__(self) -> None:
        if self.durability not in ("sync", "group", "os"):
            raise ValueError(f"durability {self.durability!r} is not sync, group or os")
        if self.group_fsync_ms <= 0:
            raise ValueError(f"group_fsync_ms {self.group_fsync_ms} must be > 0")
        if self.initial_map_size_bytes < 256 * 1024:
            raise ValueError(f"initial_map_size_bytes {self.initial_map_size_bytes} is below 262144")
        if self.max_map_size_bytes < self.initial_map_size_bytes:
            raise ValueError(
                f"max_map_size_bytes {self.max_map_size_bytes} is below initial_map_size_bytes "
                f"{self.initial_map_size_bytes}"
            )
        if not 10 <= self.grow_at_percent <= 100:
            raise ValueError(f"grow_at_percent {self.grow_at_percent} is not within 10..100")
        if self.max_readers < 1:
            raise ValueError(f"max_readers {self.max_readers} must be >= 1")
        if self.background_verify_interval_s < 0:
            raise ValueError(f"background_verify_interval_s {self.background_verify_interval_s} must be >= 0")
        if self.map_release_bytes < 0:
            raise ValueError(f"map_release_bytes {self.map_release_bytes} must be >= 0")
