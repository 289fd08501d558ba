"""The live Kite venue: the ``Venue`` interface over Kite Connect's REST API (``kiteconnect`` in
worker threads) and its order postbacks (the ticker websocket's text frames, ``kite_stream``).

It is ``DhanVenue`` with Kite's side of each broker hook (``dhan_venue`` module docstring has the
rules they share: one request per order at a time, cancels first, the order-API rate windows and
``max_queue_wait_s``, the modification cap, a lost place looked up before anything is sent again,
slicing above the freeze quantity, order-book polling while the stream is down, reconciliation
snapshots, the statuses and fill ids). What differs:

- Orders are named by exchange and trading symbol (``kite_wire``; the instrument table gives them:
  ``[instruments] master = "kite"``); our client order id goes as the ``tag`` (``kite_wire.kite_tag``:
  deterministic, reversible, at most 20 characters). Kite has no lookup by tag: a lookup reads the
  day's order book and finds the tag in it; Kite answering without it means the order never
  arrived.
- Variety: ``regular`` in the segment's session, ``amo`` outside it (``amo_outside_session``);
  modify and cancel use the variety the order went with (learned from the order book after a
  restart).
- Products MIS/CNC/NRML are our INTRADAY/CNC/MARGIN; order types MARKET/LIMIT/SL/SL-M.
- Margin check: POST /margins/orders gives what the order needs; Kite's answer has no balance, so it
  is compared with the last GET /user/margins the venue read (``funds_refresh_s``); before one was
  read, or when the margins call fails, the order is placed and Kite's RMS decides.
- Limits (``[execution.kite.rate_limits]``): 10 orders a second, 400 a minute, 5000 a day;
  25 modifications per order (docs/KITE_PROTOCOL.md section C).
- The session (``kite_broker_session``): no login from here. Without a token nothing is sent:
  reconciliation fails with the reason (so intents wait at the start-up gate, then are refused
  ``NOT_RECONCILED``), and an order that waits longer than ``token_wait_s`` for a token is
  refused ``AUTH_FAILED``. A ``TokenException`` drops the token; requests wait for
  ``shikra kite login``, and trading stops (``SESSION_EXPIRED``, kill switch) only if none comes
  within ``token_wait_s``.
- Errors: Kite's exception names on ``RejectReason`` (``kite_rest``).

The request kinds and per-order state (``_Live``, ``_Request``, ``_PLACE`` ...) are the base
class's own: this module is its one subclass and imports them from it.

Secrets: the API key and token are registered log secrets; text from the SDK is scrubbed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Final

from msgspec.structs import replace

from actors.execution.config import KiteVenueConfig
from actors.execution.dhan_rest import DhanFatal, RestOutcome
from actors.execution.dhan_venue import (
    _ACCOUNT_KINDS,
    _BOOK,
    _CANCEL,
    _CONVERT,
    _FUNDS,
    _LOOKUP,
    _MARGIN,
    _MODIFY,
    _ORDERS,
    _PLACE,
    _POSITIONS,
    _TRADES,
    DhanVenue,
    _Live,
    _Request,
)
from actors.execution.dhan_wire import FundLimits, MarginQuote, OrderUpdate, fill_id, parse_rows
from actors.execution.kite_broker_session import KiteBrokerSession
from actors.execution.kite_rest import TOKEN_EXCEPTION, KiteOutcome, KiteRestClient
from actors.execution.kite_stream import postback_thread
from actors.execution.kite_wire import (
    KiteOrderUpdate,
    SymbolResolver,
    convert_params,
    fill_price_paise,
    kite_tag,
    margin_params,
    modify_params,
    parse_fund_limits,
    parse_order_margin,
    parse_order_row,
    parse_position_row,
    parse_trade_row,
    parse_update,
    place_params,
    position_rows,
)
from actors.execution.orders import OrderSnapshot
from actors.execution.reconcile import SnapshotFailed
from actors.execution.venue import CancelRefused, ModifyRefused, VenueEvent
from actors.websocket_thread import WebSocketThread
from engine.logs import Log, get_logger, scrub
from engine.model.ist import NS_PER_S
from ipc.reasons import RejectReason

REGULAR: Final = "regular"
AMO: Final = "amo"


def _always_open(segment: int, now_ns: int) -> bool:
    return True


class _KiteEvents(Log):
    """``log`` with the shared machinery's ``dhan_*`` event names read as ``kite_*`` (the operator
    greps for the broker the venue trades on)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Log) -> None:  # no logger of its own: every line goes through ``inner``
        self._inner = inner

    def _log(self, level: int, event: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if event.startswith("dhan_"):
            event = "kite_" + event.removeprefix("dhan_")
        self._inner._log(level, event, fields, exc_info)


class KiteVenue(DhanVenue):
    """The live Kite venue (module docstring). ``start()`` before use, ``stop()`` at the end.

    ``resolver`` names instruments both ways (the instrument table); ``in_session(segment,
    now_ns)`` says whether the segment's session is open (for the variety); ``on_fatal`` as for
    ``DhanVenue``."""

    rest_client = KiteRestClient
    auth_codes = frozenset({TOKEN_EXCEPTION})
    broker_label = "Kite"

    def __init__(self, config: KiteVenueConfig, session: KiteBrokerSession, resolver: SymbolResolver, *,
                 in_session: Callable[[int, int], bool] = _always_open,
                 on_fatal: Callable[[DhanFatal], None] | None = None, log: Log | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__(config, session.credentials, on_fatal=on_fatal,  # type: ignore[arg-type]
                         log=_KiteEvents(log or get_logger("execution.kite")), rng=rng,
                         session=session)  # type: ignore[arg-type]
        self.config: KiteVenueConfig = config  # type: ignore[assignment]
        self._kite_session = session
        self._resolver = resolver
        self._in_session = in_session
        self._varieties: dict[str, str] = {}  # client order id (a sliced order's parent) -> variety
        self._available_paise: int | None = None  # the last margins read (for the margin check)
        self._waiting_since: dict[int, int] = {}  # id(request waiting for a token) -> since ns

    # Orders in ----------------------------------------------------------------------------------
    def submit(self, order: OrderSnapshot, now_ns: int, *, instrument_type: str = "") -> Sequence[VenueEvent]:
        cid = order.client_order_id
        if cid not in self._varieties:
            amo = self.config.amo_outside_session and not self._in_session(order.spec.segment, now_ns)
            self._varieties[cid] = AMO if amo else REGULAR
        return super().submit(order, now_ns, instrument_type=instrument_type)

    def request_snapshot(self, now_ns: int, *, with_funds: bool = False) -> bool:
        """As ``DhanVenue``'s; without a token the first reconciliation fails with the reason (the
        start-up gate says why nothing is sent) and later ones are not asked for (False): overnight
        the token expires, and a failure every ``reconcile_interval_s`` until the login says nothing new."""
        if not self._kite_session.has_token:
            if self._n["snapshots"]:
                return False
            self._n["snapshot_failures"] += 1
            self._updates.append(SnapshotFailed(f"{self._kite_session.last_reason}: {self._kite_session.last_detail}",
                                                now_ns))
            return True
        return super().request_snapshot(now_ns, with_funds=with_funds)

    def request_funds(self, now_ns: int) -> bool:
        if not self._kite_session.has_token:
            return False
        return super().request_funds(now_ns)

    def fetch_funds_paise(self) -> int:
        """The available margin from GET /user/margins, in paise (blocking: for tools). Raises
        RuntimeError with the reason when Kite does not answer with one."""
        client = KiteRestClient(self._creds, self.config.rest_url, self.config.rest_timeout_s)  # type: ignore[arg-type]
        outcome = client.call(lambda c: c.margins(), self._creds)  # type: ignore[arg-type]
        if outcome.kind != "ok":
            raise RuntimeError(f"margins: {outcome.kind} {outcome.describe()}")
        try:
            return parse_fund_limits(outcome.data).available_paise
        except ValueError as exc:
            raise RuntimeError(str(exc)) from None

    def poll(self, now_ns: int) -> Sequence[VenueEvent]:
        events = super().poll(now_ns)
        late = self._refuse_long_waiting(now_ns)
        return [*events, *self._parentize(late, now_ns)] if late else events

    # Broker hooks -------------------------------------------------------------------------------
    def _new_stream(self, on_state: Callable[[bool], None]) -> WebSocketThread:
        return postback_thread(self.config, self._creds, self._log, self._rng,  # type: ignore[arg-type]
                               on_state=on_state, on_update=self._stream_update)

    def _check_order(self, order: OrderSnapshot) -> None:
        place_params(order, self._symbol(order.spec.segment, order.spec.security_id), REGULAR)

    def _symbol(self, segment: int, security_id: int) -> str:
        symbol = self._resolver.symbol(segment, security_id)
        if not symbol:
            raise ValueError(f"instrument {segment}:{security_id} has no Kite trading symbol in the master "
                             "([instruments] master = \"kite\")")
        return symbol

    def _variety(self, o: _Live) -> str:
        return self._varieties.get(o.parent or o.cid, REGULAR)

    def _dispatch(self, r: _Request, o: _Live | None) -> None:
        """Nothing goes to Kite without a token: requests wait for one (``_requeue_awaiting``)."""
        if self._kite_session.has_token:
            super()._dispatch(r, o)
        elif r.kind == _BOOK:
            self._book_inflight = False  # polled again once a token exists
        else:
            self._awaiting_token.append(r)

    def _sdk_call(self, r: _Request, o: _Live | None) -> Callable[[Any], Any]:
        if r.kind == _PLACE:
            assert o is not None
            spec = o.order.spec
            working = replace(o.order, spec=replace(spec, qty_units=o.qty, price_paise=o.price,
                                                    trigger_price_paise=o.trigger))
            params = place_params(working, self._symbol(spec.segment, spec.security_id), self._variety(o))
            return lambda c: {"order_id": c.place_order(**params)}
        if r.kind in (_LOOKUP, _BOOK, _ORDERS):
            return lambda c: c.orders()
        if r.kind == _CANCEL:
            assert o is not None
            variety, vid = self._variety(o), o.venue_order_id
            return lambda c: c.cancel_order(variety, vid)
        if r.kind == _MODIFY:
            assert o is not None
            qty, price, trigger = r.args
            params = modify_params(o.order.spec, self._variety(o), o.venue_order_id, qty, price, trigger)
            return lambda c: c.modify_order(**params)
        if r.kind == _MARGIN:
            first = self._orders[r.args[0][0]]
            spec = first.order.spec
            qty = sum(self._orders[c].qty for c in r.args[0])
            body = margin_params(spec, self._symbol(spec.segment, spec.security_id), self._variety(first), qty,
                                 first.price, first.trigger)
            return lambda c: c.order_margins(body)
        if r.kind == _TRADES:
            return lambda c: c.trades()
        if r.kind == _POSITIONS:
            return lambda c: c.positions()
        if r.kind == _CONVERT:
            command, long = r.args
            body = convert_params(command.segment, self._symbol(command.segment, command.security_id), long,
                                  command.qty_units, command.from_product, command.to_product)
            return lambda c: c.convert_position(**body)
        assert r.kind == _FUNDS, r.kind
        return lambda c: c.margins()

    def _parse_update(self, data: dict[str, Any]) -> OrderUpdate:
        return parse_update(data)

    def _fill(self, o: _Live, u: OrderUpdate, now_ns: int, out: list[VenueEvent]) -> None:
        if not isinstance(u, KiteOrderUpdate):  # a reconciliation's order-book row: its rounded average
            super()._fill(o, u, now_ns, out)
            return
        self._record_fill(o, fill_id(o.venue_order_id, u.traded_qty_units), u.traded_qty_units - o.filled,
                          fill_price_paise(o.filled, o.filled_value, u), now_ns, out)

    def _has_status(self, data: dict[str, Any]) -> bool:
        return isinstance(data.get("status"), str)

    def _venue_id_of(self, data: dict[str, Any]) -> str:
        return str(data.get("order_id") or "")

    def _maybe_sent(self, res: RestOutcome) -> bool:
        return isinstance(res, KiteOutcome) and res.maybe_sent

    def _lookup_row(self, o: _Live, res: RestOutcome) -> dict[str, Any] | None:
        """``o``'s row in the day's order book, by its tag (the newest, should Kite list two)."""
        if not isinstance(res.data, list):
            return None
        tag = kite_tag(o.cid)
        rows = [row for row in res.data if isinstance(row, dict) and (row.get("tag") == tag or tag in (row.get("tags") or ()))]
        if not rows:
            return None
        row = rows[-1]
        variety = str(row.get("variety") or "")
        if variety in (REGULAR, AMO) and not o.parent:
            self._varieties[o.cid] = variety
        return row

    def _answered_not_found(self, res: RestOutcome) -> bool:
        return False  # a lookup reads the order book: "ok" without the tag is the answer

    def _parse_funds(self, data: Any) -> FundLimits:
        funds = parse_fund_limits(data)
        self._available_paise = funds.available_paise
        return funds

    def _parse_margin(self, data: Any) -> MarginQuote:
        if self._available_paise is None:
            raise ValueError("the available margin is not known yet (GET /user/margins)")
        return parse_order_margin(data, self._available_paise)

    def _parse_snapshot(self, parts: dict[str, RestOutcome]) -> tuple[list[Any], list[Any], list[Any], list[str]]:
        resolver = self._resolver
        errors: list[str] = []
        orders, bad = parse_rows(parts[_ORDERS].data, lambda d: parse_order_row(d, resolver))
        errors += [f"orders: {e}" for e in bad]
        trades, bad = parse_rows(parts[_TRADES].data, lambda d: parse_trade_row(d, resolver))
        errors += [f"trades: {e}" for e in bad]
        positions, bad = parse_rows(position_rows(parts[_POSITIONS].data), lambda d: parse_position_row(d, resolver))
        errors += [f"positions: {e}" for e in bad]
        return orders, trades, positions, errors

    def _fatal_message(self, code: str, detail: str, open_orders: int) -> str:
        if code == "SESSION_EXPIRED":
            what = (f"Kite refused the access token and no new login came within {self.config.token_wait_s:g}s "
                    f"({detail}). Run `shikra kite login`, then release the kill switch and restart")
        elif code == TOKEN_EXCEPTION:
            what = f"Kite refused the access token ({detail}): run `shikra kite login`, then restart"
        else:
            what = (f"Kite refused API access ({code}: {detail}): check the app's permissions and the account on "
                    "developers.kite.trade, then restart")
        return (f"{what}. Live trading stopped; {open_orders} order(s) may still be working at Kite: check them on "
                "kite.zerodha.com.")

    def _redact(self, text: str) -> str:
        return scrub(text)

    # Waiting for a token ------------------------------------------------------------------------
    def _refuse_long_waiting(self, now_ns: int) -> list[VenueEvent]:
        """Order requests that waited ``token_wait_s`` for a token (none came) are refused; a
        refused token's wait ends in the session's halt instead (``SESSION_EXPIRED``)."""
        waiting = self._awaiting_token
        if not waiting:
            self._waiting_since.clear()
            return []
        limit_ns = int(self.config.token_wait_s * NS_PER_S)
        kept: list[_Request] = []
        out: list[VenueEvent] = []
        live = {id(r) for r in waiting}
        self._waiting_since = {k: v for k, v in self._waiting_since.items() if k in live}
        for r in waiting:
            since = self._waiting_since.setdefault(id(r), now_ns)
            if now_ns - since < limit_ns or (r.kind in _ACCOUNT_KINDS and r.kind != _MARGIN):
                kept.append(r)
                continue
            text = (f"no Kite access token for {self.config.token_wait_s:g}s: run `shikra kite login` "
                    f"({self._kite_session.last_reason})")
            if r.kind == _MARGIN:
                self._awaiting_margin -= len(r.args[0])
                for child in r.args[0]:
                    if not self._orders[child].closed:
                        self._close_rejected(self._orders[child], RejectReason.AUTH_FAILED, text, now_ns, out)
                continue
            o = self._orders.get(r.cid)
            if o is None or o.closed:
                continue
            if r.kind == _PLACE:  # never reached Kite (no token, or refused for it before anything else)
                self._close_rejected(o, RejectReason.AUTH_FAILED, text, now_ns, out)
            elif r.kind == _CANCEL:
                o.cancel_asked = False
                out.append(CancelRefused(client_order_id=o.cid, ts_event_ns=now_ns,
                                         reason_code=RejectReason.AUTH_FAILED, reason=text))
            elif r.kind == _MODIFY:
                out.append(ModifyRefused(client_order_id=o.cid, ts_event_ns=now_ns,
                                         reason_code=RejectReason.AUTH_FAILED, reason=text))
            else:
                kept.append(r)  # a lookup: the order may be at Kite, never given up
        self._awaiting_token = kept
        return out

