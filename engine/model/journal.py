"""Trade journal: round-trip trades from the ledger's fills, and the figures a trader reviews.

Pure: ``build_journal(fills)`` takes ``ipc.messages.Fill`` values in ledger order and returns
values; ``iter_fills`` / ``read_fills`` are the functions that touch a ledger (read-only, one snapshot).

Trades (FIFO)
-------------
Per (strategy, segment, security id), fills open *lots* and close them first-in first-out:

- A fill on the side of the position (or on a flat one) opens a lot. Consecutive fills of the
  same order (one order walking several price levels) extend that order's lot while nothing of it
  has been closed, so one entry order is one trade, not one per level.
- A fill against the position closes the oldest lots first. A lot that is closed in full is a
  **trade**: its quantity, its exact entry value (sum of qty x price of its entry fills) and exit
  value (of the exit quantities matched to it), first entry and last exit time. A fill beyond the
  open quantity (a flip) closes everything and opens a lot on the other side with the rest.
- Charges: each fill's charges are split over the quantities it opened or closed in proportion to
  quantity, with cumulative integer division (the part for the first k units of a fill of q is
  ``charges * k // q``), so the parts of a fill always add up to its charges exactly. A trade
  carries the charges of its entry and exit quantities.

Per trade: ``gross_pnl_paise`` = exit value - entry value for a long, entry - exit for a short;
``net_pnl_paise`` = gross - charges. A trade is a **win** when its net P&L is > 0, a **loss** when
< 0, and **breakeven** at 0. Lots still open are listed in ``open_lots``, never counted as trades.
Over a round trip that ends flat the trades' gross P&L adds up to the ledger's realised P&L
(average cost and FIFO differ only in how a partial close is attributed).

Figures (``Stats``), over a set of trades in the order they closed; money in integer paise,
ratios as floats:

- ``trades``, ``wins``, ``losses``, ``breakeven``; ``win_rate`` = wins / trades (0.0 without trades).
- ``gross_pnl_paise``, ``charges_paise``, ``net_pnl_paise`` (sums over the trades).
- ``profit_paise`` = sum of net P&L of wins; ``loss_paise`` = sum of net P&L of losses (<= 0).
- ``avg_win_paise`` = profit / wins and ``avg_loss_paise`` = loss / losses, rounded half-even to
  the paisa (0 without wins / losses).
- ``profit_factor`` = profit / |loss|; None when there is no loss (undefined, not infinite).
- ``expectancy_paise`` = net P&L / trades, rounded half-even (the average net result per trade).
- ``max_drawdown_paise``: the realised equity curve starts at 0 and adds each trade's net P&L in
  closing order; the drawdown is the largest fall from a running peak (the peak starts at 0), >= 0.
- ``largest_win_paise`` / ``largest_loss_paise``: the best and the worst net P&L (0 when none).

Groupings: overall, per strategy, per strategy and instrument (``"strategy NSE_EQ:2885"``), per
IST day of the exit (``"2026-11-20"``) and per strategy and day.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable, Iterator, MutableSequence, Sequence
from typing import Final, Literal

import msgspec

from engine.model.money import Rounding, div_round
from ipc.messages import SIDES, Fill
from ipc.segments import instrument_label

IST_OFFSET_NS: Final = 19_800 * 1_000_000_000
_DAY_NS: Final = 86_400 * 1_000_000_000
_EPOCH: Final = dt.date(1970, 1, 1)

Direction = Literal["LONG", "SHORT"]


class Trade(msgspec.Struct, frozen=True):
    """One closed lot (see the module docstring). Values in paise, quantities in units."""

    strategy: str
    segment: int
    security_id: int
    direction: Direction
    qty_units: int
    entry_value_paise: int
    exit_value_paise: int
    charges_paise: int
    gross_pnl_paise: int
    net_pnl_paise: int
    entry_client_order_id: str
    ts_entry_ns: int
    ts_exit_ns: int

    @property
    def instrument(self) -> str:
        return instrument_label(self.segment, self.security_id)


class OpenLot(msgspec.Struct, frozen=True):
    """The still-open part of a lot: ``open_qty_units`` of ``qty_units`` entered. The charges
    are those of its entry and of the exit quantities already matched to it."""

    strategy: str
    segment: int
    security_id: int
    direction: Direction
    qty_units: int
    open_qty_units: int
    entry_value_paise: int
    charges_paise: int
    entry_client_order_id: str
    ts_entry_ns: int


class Stats(msgspec.Struct, frozen=True):
    """Figures over a set of trades (definitions in the module docstring)."""

    trades: int
    wins: int
    losses: int
    breakeven: int
    win_rate: float
    gross_pnl_paise: int
    charges_paise: int
    net_pnl_paise: int
    profit_paise: int
    loss_paise: int
    avg_win_paise: int
    avg_loss_paise: int
    profit_factor: float | None
    expectancy_paise: int
    max_drawdown_paise: int
    largest_win_paise: int
    largest_loss_paise: int


class Journal(msgspec.Struct, frozen=True):
    trades: Sequence[Trade]  # a list; a backtest's is a compact StructTape (iterate it to encode it)
    open_lots: list[OpenLot]
    overall: Stats
    by_strategy: dict[str, Stats]
    by_instrument: dict[str, Stats]
    by_day: dict[str, Stats]
    by_strategy_day: dict[str, dict[str, Stats]]
    fills: int
    bad_fills: int  # fills with a non-positive qty / price or an unknown side: skipped, counted


def ist_day_label(ts_ns: int) -> str:
    """IST calendar date of an epoch-ns instant, ``YYYY-MM-DD``."""
    return (_EPOCH + dt.timedelta(days=(ts_ns + IST_OFFSET_NS) // _DAY_NS)).isoformat()


# --------------------------------------------------------------------------------------------
# FIFO matching
# --------------------------------------------------------------------------------------------


class _Lot:
    """A lot being matched (mutable, private to ``match_trades``)."""

    __slots__ = ("direction", "coid", "qty", "open", "entry_value", "entry_charges", "exit_value",
                 "exit_charges", "ts_entry", "ts_exit")

    def __init__(self, direction: int, coid: str, ts: int) -> None:
        self.direction = direction
        self.coid = coid
        self.qty = 0
        self.open = 0
        self.entry_value = 0
        self.entry_charges = 0
        self.exit_value = 0
        self.exit_charges = 0
        self.ts_entry = ts
        self.ts_exit = 0


def _share(total: int, done_units: int, take_units: int, of_units: int) -> int:
    """The charges of ``take_units`` more units of a fill of ``of_units`` (cumulative division)."""
    return total * (done_units + take_units) // of_units - total * done_units // of_units


def match_trades(fills: Iterable[Fill]) -> tuple[list[Trade], list[OpenLot], int]:
    """FIFO round-trip trades from fills in ledger order: (trades in closing order, open lots,
    number of bad fills skipped)."""
    matcher = _Matcher()
    trades = list(matcher.trades(fills))
    return trades, matcher.open_lots(), matcher.bad


class _Matcher:
    """FIFO matching, one fill at a time: ``trades(fills)`` yields each trade as it closes."""

    def __init__(self) -> None:
        self.books: dict[tuple[str, int, int], tuple[tuple[str, int, int], deque[_Lot]]] = {}
        self.bad = 0
        self.fills = 0

    def trades(self, fills: Iterable[Fill]) -> Iterator[Trade]:
        books = self.books
        for fill in fills:
            self.fills += 1
            if fill.qty_units <= 0 or fill.price_paise <= 0 or fill.side not in SIDES:
                self.bad += 1
                continue
            key = (fill.strategy, fill.segment, fill.security_id)
            book = books.get(key)
            if book is None:
                book = books[key] = (key, deque())
            yield from _match_fill(book[0], book[1], fill)  # the first key: one copy of its strings

    def open_lots(self) -> list[OpenLot]:
        return [
            OpenLot(strategy=key[0], segment=key[1], security_id=key[2], direction=_direction(lot.direction),
                    qty_units=lot.qty, open_qty_units=lot.open, entry_value_paise=lot.entry_value,
                    charges_paise=lot.entry_charges + lot.exit_charges, entry_client_order_id=lot.coid,
                    ts_entry_ns=lot.ts_entry)
            for key, lots in self.books.values() for lot in lots
        ]


def _match_fill(key: tuple[str, int, int], lots: deque[_Lot], fill: Fill) -> Iterator[Trade]:
    """Match one fill against the open lots of its key; yields the trades it closes."""
    direction = 1 if fill.side == "BUY" else -1
    qty, price, charges = fill.qty_units, fill.price_paise, fill.charges_paise
    done = 0
    while done < qty and lots and lots[0].direction != direction:
        lot = lots[0]
        take = min(lot.open, qty - done)
        lot.exit_value += take * price
        lot.exit_charges += _share(charges, done, take, qty)
        lot.open -= take
        lot.ts_exit = fill.ts_event_ns
        done += take
        if lot.open == 0:
            lots.popleft()
            yield _trade(key, lot)
    if done < qty:
        rest = qty - done
        last = lots[-1] if lots else None
        if last is not None and last.coid == fill.client_order_id and last.open == last.qty:
            lot = last  # the same order walking another level: one lot
        else:
            lot = _Lot(direction, fill.client_order_id, fill.ts_event_ns)
            lots.append(lot)
        lot.qty += rest
        lot.open += rest
        lot.entry_value += rest * price
        lot.entry_charges += _share(charges, done, rest, qty)


def _direction(direction: int) -> Direction:
    return "LONG" if direction > 0 else "SHORT"


def _trade(key: tuple[str, int, int], lot: _Lot) -> Trade:
    gross = (lot.exit_value - lot.entry_value) * lot.direction
    charges = lot.entry_charges + lot.exit_charges
    return Trade(
        strategy=key[0], segment=key[1], security_id=key[2], direction=_direction(lot.direction),
        qty_units=lot.qty, entry_value_paise=lot.entry_value, exit_value_paise=lot.exit_value,
        charges_paise=charges, gross_pnl_paise=gross, net_pnl_paise=gross - charges,
        entry_client_order_id=lot.coid, ts_entry_ns=lot.ts_entry, ts_exit_ns=lot.ts_exit,
    )


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def stats(trades: Iterable[Trade]) -> Stats:
    """Figures over ``trades`` taken in closing order (module docstring)."""
    figures = _Figures()
    for trade in trades:
        figures.add(trade)
    return figures.stats()


class _Figures:
    """``stats`` one trade at a time (trades in closing order), so that a journal needs no list
    of trades per group."""

    __slots__ = ("n", "wins", "losses", "breakeven", "gross", "charges", "profit", "loss", "largest_win",
                 "largest_loss", "equity", "peak", "drawdown")

    def __init__(self) -> None:
        self.n = self.wins = self.losses = self.breakeven = 0
        self.gross = self.charges = self.profit = self.loss = 0
        self.largest_win = self.largest_loss = 0
        self.equity = self.peak = self.drawdown = 0

    def add(self, trade: Trade) -> None:
        net = trade.net_pnl_paise
        self.n += 1
        self.gross += trade.gross_pnl_paise
        self.charges += trade.charges_paise
        if net > 0:
            self.wins += 1
            self.profit += net
            self.largest_win = max(self.largest_win, net)
        elif net < 0:
            self.losses += 1
            self.loss += net
            self.largest_loss = min(self.largest_loss, net)
        else:
            self.breakeven += 1
        self.equity += net
        self.peak = max(self.peak, self.equity)
        self.drawdown = max(self.drawdown, self.peak - self.equity)

    def stats(self) -> Stats:
        n, wins, losses, profit, loss = self.n, self.wins, self.losses, self.profit, self.loss
        net_total = self.gross - self.charges
        return Stats(
            trades=n, wins=wins, losses=losses, breakeven=self.breakeven, win_rate=wins / n if n else 0.0,
            gross_pnl_paise=self.gross, charges_paise=self.charges, net_pnl_paise=net_total, profit_paise=profit,
            loss_paise=loss,
            avg_win_paise=div_round(profit, wins, Rounding.HALF_EVEN) if wins else 0,
            avg_loss_paise=div_round(loss, losses, Rounding.HALF_EVEN) if losses else 0,
            profit_factor=profit / -loss if loss else None,
            expectancy_paise=div_round(net_total, n, Rounding.HALF_EVEN) if n else 0,
            max_drawdown_paise=self.drawdown, largest_win_paise=self.largest_win, largest_loss_paise=self.largest_loss,
        )


def build_journal(fills: Iterable[Fill], trades: MutableSequence[Trade] | None = None) -> Journal:
    """The whole journal from fills in ledger order, read once, one at a time.

    ``trades``: where the trades go (a list by default; a backtest passes a compact
    ``engine.backtest.ids.StructTape``). The figures are kept per group as the trades close, so
    nothing else grows with the number of trades.
    """
    out: MutableSequence[Trade] = [] if trades is None else trades
    matcher = _Matcher()
    overall = _Figures()
    by_strategy: dict[str, _Figures] = {}
    by_instrument: dict[str, _Figures] = {}
    by_day: dict[str, _Figures] = {}
    by_strategy_day: dict[str, dict[str, _Figures]] = {}
    for trade in matcher.trades(fills):
        out.append(trade)
        day = ist_day_label(trade.ts_exit_ns)
        overall.add(trade)
        _figures(by_strategy, trade.strategy).add(trade)
        _figures(by_instrument, f"{trade.strategy} {trade.instrument}").add(trade)
        _figures(by_day, day).add(trade)
        _figures(by_strategy_day.setdefault(trade.strategy, {}), day).add(trade)
    return Journal(
        trades=out, open_lots=matcher.open_lots(), overall=overall.stats(),  # type: ignore[arg-type]
        by_strategy={k: f.stats() for k, f in sorted(by_strategy.items())},
        by_instrument={k: f.stats() for k, f in sorted(by_instrument.items())},
        by_day={k: f.stats() for k, f in sorted(by_day.items())},
        by_strategy_day={s: {d: f.stats() for d, f in sorted(days.items())}
                         for s, days in sorted(by_strategy_day.items())},
        fills=matcher.fills, bad_fills=matcher.bad,
    )


def _figures(groups: dict[str, _Figures], key: str) -> _Figures:
    figures = groups.get(key)
    if figures is None:
        figures = groups[key] = _Figures()
    return figures


def iter_fills(reader: object) -> Iterator[Fill]:
    """Every fill of a ``engine.ledger.LedgerReader`` in ledger order, one at a time, from one
    snapshot (open until the iteration ends)."""
    for _seq, event in reader.iter_events():  # type: ignore[attr-defined]
        if isinstance(event, Fill):
            yield event


def read_fills(reader: object) -> list[Fill]:
    """Every fill of a ``engine.ledger.LedgerReader`` in ledger order (one snapshot)."""
    return list(iter_fills(reader))
