"""The ledger: every order event, fill, cash movement and audit record, in LMDB.

One writer (the execution actor) appends events; derived tables (orders, fills, positions,
wallets, strategy state, audit, intents, counters, trading state) are folded from them by
``engine.ledger.fold`` in the same transaction. Readers in other processes take consistent
snapshots without locks.
"""

from engine.ledger.export import (
    export_entries,
    export_trades,
    format_rupees,
    iso_time,
    write_entries_csv,
    write_trades_csv,
)
from engine.ledger.fold import (
    FoldIssue,
    FoldIssueCode,
    FoldResult,
    Tables,
    apply_fill,
    fill_cash_delta_paise,
    fold,
    fold_events,
    is_open_order,
)
from engine.ledger.records import (
    TRADING_ACCOUNT,
    AuditRecord,
    CashMovement,
    Counters,
    IntentRecorded,
    LedgerEvent,
    PositionConverted,
    PositionSettled,
    StrategyStateSaved,
    Token,
    TokenIssued,
    TradingStateChanged,
    UnreadableRecord,
    User,
    UserAdded,
    UserRevoked,
    Wallet,
    event_kind,
    event_time_ns,
)
from engine.ledger.config import LedgerConfig
from engine.ledger.errors import LedgerError, LedgerErrorCode
from engine.ledger.reader import LedgerReader, LedgerSnapshot
from engine.ledger.schema import ledger_dir
from engine.ledger.writer import (
    REHEARSAL_INTENT_ID,
    AppendResult,
    Ledger,
    LedgerStats,
    NewOrder,
    RebuildReport,
)

__all__ = [
    "TRADING_ACCOUNT",
    "AppendResult",
    "AuditRecord",
    "CashMovement",
    "Counters",
    "FoldIssue",
    "FoldIssueCode",
    "FoldResult",
    "IntentRecorded",
    "Ledger",
    "LedgerConfig",
    "LedgerError",
    "LedgerErrorCode",
    "LedgerEvent",
    "LedgerReader",
    "LedgerSnapshot",
    "LedgerStats",
    "NewOrder",
    "PositionConverted",
    "PositionSettled",
    "REHEARSAL_INTENT_ID",
    "RebuildReport",
    "StrategyStateSaved",
    "Tables",
    "Token",
    "TokenIssued",
    "TradingStateChanged",
    "UnreadableRecord",
    "User",
    "UserAdded",
    "UserRevoked",
    "Wallet",
    "apply_fill",
    "event_kind",
    "event_time_ns",
    "export_entries",
    "export_trades",
    "fill_cash_delta_paise",
    "fold",
    "fold_events",
    "format_rupees",
    "is_open_order",
    "iso_time",
    "ledger_dir",
    "write_entries_csv",
    "write_trades_csv",
]
