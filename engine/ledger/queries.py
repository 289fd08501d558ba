"""The questions every view of the ledger answers, written once.

Three views answer them: the writer (``Ledger``: its in-memory tables, and LMDB for the rows it
does not keep), a snapshot (``LedgerSnapshot``: one read transaction) and a reader
(``LedgerReader``: a snapshot per call). Each implements the few primitives below; the queries
are built on them here, so every view gives the same answer in the same shape.

Each query calls exactly one primitive once: a ``LedgerReader``, whose primitives each take
their own snapshot, answers every query from one commit. Keep it so (a query that needs two
reads belongs on ``LedgerSnapshot``).
"""

from __future__ import annotations

import abc
from collections.abc import Container, Iterator, Mapping
from typing import Any, Final

from engine.ledger.fold import (
    FILLS,
    FIRST_ORDER_NO,
    GROUPS,
    INTENTS,
    META,
    META_COUNTERS,
    META_TRADING,
    ORDERS,
    POSITIONS,
    STRATEGY_STATE,
    TOKENS,
    USERS,
    WALLETS,
)
from engine.ledger.records import (
    DEFAULT_TRADING_STATE,
    TRADING_ACCOUNT,
    StrategyStateSaved,
    Token,
    TradingStateChanged,
    User,
    Wallet,
)
from ipc.messages import Fill, GroupEvent, OrderEvent, Position, PositionKey, Product

# A token is looked up by its SHA-256 hex digest (64 chars); anything much longer is not one, and
# LMDB keys are limited to 511 bytes.
_MAX_TOKEN_KEY_CHARS: Final = 200


class LedgerQueries(abc.ABC):
    """Order, fill, position, wallet, state, user and group queries over five primitives.

    Returned rows are decoded messages; mappings are keyed as the tables are (see
    ``engine.ledger.schema``). ``open_orders``/``open_groups`` are fresh dicts the caller owns;
    what the other whole-table queries return depends on the view (see its ``_all``).
    """

    __slots__ = ()

    # -- primitives ------------------------------------------------------------------------

    @abc.abstractmethod
    def _get(self, table: str, key: Any) -> Any:
        """The row of ``table`` at ``key``, None if there is none."""

    @abc.abstractmethod
    def _all(self, table: str) -> Mapping[Any, Any]:
        """Every row of ``table`` by key."""

    @abc.abstractmethod
    def _open(self, table: str) -> dict[Any, Any]:
        """The rows of ``table`` (orders or groups) that are not finished, by key."""

    @abc.abstractmethod
    def _values(self, table: str) -> Iterator[Any]:
        """Every row of ``table`` in key order, decoded one (or a chunk) at a time."""

    @abc.abstractmethod
    def last_seq(self) -> int:
        """Sequence of the newest event, 0 for an empty ledger."""

    # -- orders and fills ------------------------------------------------------------------

    def order(self, client_order_id: str) -> OrderEvent | None:
        return self._get(ORDERS, client_order_id)  # order path (the writer's lookups)

    def orders(self) -> Mapping[str, OrderEvent]:
        return self._all(ORDERS)

    def open_orders(self) -> dict[str, OrderEvent]:
        """Orders not in a terminal state, by client order id."""
        return self._open(ORDERS)

    def client_order_id_for(self, intent_id: str) -> str | None:
        intent = self._get(INTENTS, intent_id)
        return intent.client_order_id if intent is not None else None

    def next_order_no(self) -> int:
        counters = self._get(META, META_COUNTERS)
        return counters.next_order_no if counters is not None else FIRST_ORDER_NO

    def fill(self, fill_id: str) -> Fill | None:
        return self._get(FILLS, fill_id)

    def fills(self) -> Mapping[str, Fill]:
        return self._all(FILLS)

    def fills_of(self, client_order_ids: Container[str]) -> dict[str, list[Fill]]:
        """The fills of the given orders (fill id order): a scan of the fills table that keeps
        only these orders' fills in memory."""
        out: dict[str, list[Fill]] = {}
        for fill in self._values(FILLS):
            if fill.client_order_id in client_order_ids:
                out.setdefault(fill.client_order_id, []).append(fill)
        return out

    # -- positions, cash, state ------------------------------------------------------------

    def position(self, strategy: str, segment: int, security_id: int, product: Product = "INTRADAY"
                 ) -> Position | None:
        return self._get(POSITIONS, (strategy, segment, security_id, product))

    def positions(self) -> Mapping[PositionKey, Position]:
        return self._all(POSITIONS)

    def wallet(self, account: str = TRADING_ACCOUNT) -> Wallet | None:
        return self._get(WALLETS, account)

    def wallets(self) -> Mapping[str, Wallet]:
        return self._all(WALLETS)

    def strategy_state(self, strategy: str) -> StrategyStateSaved | None:
        return self._get(STRATEGY_STATE, strategy)

    def strategy_states(self) -> Mapping[str, StrategyStateSaved]:
        return self._all(STRATEGY_STATE)

    def trading_state(self) -> TradingStateChanged:
        return self._get(META, META_TRADING) or DEFAULT_TRADING_STATE

    # -- control API users -----------------------------------------------------------------

    def user(self, name: str) -> User | None:
        return self._get(USERS, name)

    def users(self) -> Mapping[str, User]:
        return self._all(USERS)

    def token(self, token_sha256: str) -> Token | None:
        """The token row for a SHA-256 hex digest (one lookup), or None."""
        if not token_sha256 or len(token_sha256) > _MAX_TOKEN_KEY_CHARS:
            return None
        return self._get(TOKENS, token_sha256)

    def tokens(self) -> Mapping[str, Token]:
        return self._all(TOKENS)

    # -- order groups (actors/execution/groups.py) -----------------------------------------

    def group(self, group_id: str) -> GroupEvent | None:
        return self._get(GROUPS, group_id)

    def groups(self) -> Mapping[str, GroupEvent]:
        return self._all(GROUPS)

    def open_groups(self) -> dict[str, GroupEvent]:
        """Groups not yet COMPLETE, ROLLED_BACK, ROLLBACK_FAILED or REJECTED, by group id."""
        return self._open(GROUPS)
