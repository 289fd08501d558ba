"""The execution actor: the OMS and the ledger's only writer.

Write-ahead: an order is in the ledger (SUBMITTED, with its client order id from the ledger's
persisted counter) before it reaches the venue; a fill is in the ledger before it is published.
An intent re-sent after a crash is recognised by its intent id and never becomes a second order.

Restart: the ledger gives back every order, fill, position and the cash. The paper venue lives in
this process, so a crash loses its resting orders: every order the ledger still holds open is
handed to the fresh venue again (same client order id, fills kept), which is what "ask the venue
for what it missed" means for paper. It is handed over on the first depth update of its
instrument (a fresh venue has no book and would reject it); a cancel recorded but unanswered
before the crash is asked again then.

Order groups (``SubmitGroup``; state machine in ``groups.py``): each step is a ``GroupEvent`` in
the ledger before the orders it calls for are placed; legs and flatten orders take the ordinary
order path above. Positions published carry unrealised P&L marked to the venue's book
(``marks.py``), after fills and once a second. DAY orders expire at their segment's session close
(``expiry.py``), never on the synthetic market's always-open calendar. Positions in contracts that
expired are settled (``expiry_settlement.py``).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Sequence

import msgspec

from actors.base import Actor, ActorConfigError, ActorContext
from actors.execution import groups as grp
from actors.execution import orders as fsm
from actors.execution.charges import CHARGE_PROFILES
from actors.execution.conversions import Conversions
from actors.execution.commit_stats import CommitStats
from actors.execution.daily_tasks import DailyTasks
from actors.execution.config import LIVE_VENUES, PaperVenueConfig
from actors.execution.expiry import day_order_expiry_ns
from actors.execution.expiry_settlement import ExpirySettlement
from actors.execution.live import LiveTrading
from actors.execution.protection import ProtectiveStops
from actors.execution.reconcile import is_external
from actors.execution.venue_status import remove_venue_status
from actors.execution.marks import mark_x2_paise, unrealised_pnl_paise
from actors.replay.batch import D_ASK_PX, D_ASK_QTY, D_BID_PX, D_BID_QTY, Q_VOLUME, MarketBatch
from actors.execution.paper_venue import PaperVenue
from actors.execution.paper_wallet import PaperWallet
from actors.execution.venue import Accepted, Canceled, CancelRefused, Expired, Filled, ModifyRefused, VenueEvent
from engine.ledger import (
    AuditRecord,
    CashMovement,
    Ledger,
    LedgerError,
    StrategyStateSaved,
    TokenIssued,
    TradingStateChanged,
    UserAdded,
    UserRevoked,
    ledger_dir,
)
from engine.model.calendar import CALENDAR_REFRESH_S, CalendarError, CalendarSource, SessionCalendar, market_hours
from engine.model.ist import NS_PER_S, day_date, ist_date, ist_day
from engine.model.lookup import open_instruments
from ipc.messages import TERMINAL_ORDER_STATES
from ipc import topics
from ipc.messages import (
    AddUser,
    DenialRecorded,
    CancelAllOrders,
    CancelOrder,
    Depth,
    EngageKillSwitch,
    Fill,
    IntentResent,
    ModifyOrder,
    OrderDenied,
    OrderEvent,
    OrderState,
    Position,
    PositionKey,
    Quote,
    RecordAudit,
    RevokeUser,
    RiskStateChanged,
    SaveStrategyState,
    SubmitOrder,
    Tick,
    TradingState,
    position_key,
)
from ipc.messages import CancelGroup, GroupState, SubmitGroup, slice_intent_id
from ipc.reasons import RejectReason
from ipc.segments import instrument_label

GROUP_RESUME_DELAY_S = 1.0  # after a restart, before a group's unrecorded orders are sent again
FRESH_VENUE_WAIT_NS = 10 * NS_PER_S  # after a start, orders wait this long at most for a first book
TERMINAL = TERMINAL_ORDER_STATES
RISK = "risk"
# Recent intent ids with a denial (or a re-send naming its order) in the audit: each is recorded
# once however often it comes, also across a restart (read back from the newest audit rows).
AUDITED_IDS_REMEMBERED = 20_000
LEDGER_STATS_INTERVAL_S = 5.0  # how often the commit-latency histogram goes out for the metrics


class ExecutionActor(DailyTasks, ExpirySettlement, ProtectiveStops, LiveTrading, Conversions, Actor):
    subscriptions = (topics.DEPTH, topics.TICK, topics.QUOTE, topics.SCHEDULE, topics.INSTRUMENTS_STATUS)

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.orders: dict[str, fsm.OrderSnapshot] = {}   # open orders by client order id
        self.illegal = 0
        self._instruments: dict[tuple[int, int], Any] = {}  # the master's rows, looked up once
        self.commit_stats = CommitStats()
        self._rehearsal: OrderEvent | None = None  # see warm_hot_path
        self._extensions_init()
        self._stops_init()

    # Start-up -----------------------------------------------------------------------------------
    def on_start(self) -> None:
        cfg = self.ctx.config
        now = self.ctx.now_ns()
        self.table = open_instruments(cfg.instruments.master, self.ctx.data_dir, ist_date(now))
        # A new ledger's order id prefix is drawn from the clock: unique live, the same for the same
        # simulated start (a backtest's ids are reproducible).
        self.ledger = Ledger.open(ledger_dir(self.ctx.data_dir), cfg.ledger, id_seed=now)
        self.live = cfg.execution.venue in LIVE_VENUES
        self.trading_enabled = not self.live  # live: after the first reconciliation (live.py)
        self._conversions_init()
        if self.live:
            self.venue = self._open_kite_venue(cfg) if cfg.execution.venue == "kite" else self._open_dhan_venue(cfg)
            self._live_init()
            self._live_start(now)
        else:
            remove_venue_status(self.ctx.run_dir)
            if self.ledger.wallet() is None:
                self.ledger.append([CashMovement(kind="DEPOSIT", amount_paise=cfg.execution.starting_cash_paise,
                                                 account="main", note="paper starting cash", ts_ns=now)])
        wallet = self.ledger.wallet()
        assert wallet is not None
        if not self.live:
            charges = CHARGE_PROFILES[cfg.execution.paper.charges_profile]
            self.venue = PaperVenue(PaperVenueConfig(ack_latency_us=cfg.execution.ack_latency_us, charges=charges),
                                    PaperWallet(wallet.cash_paise))
        # The venue mirrors the account's net per instrument (every strategy and product together).
        held: dict[tuple[int, int], tuple[int, int]] = {}
        for pos in self.ledger.positions().values():
            units, cost = held.get((pos.segment, pos.security_id), (0, 0))
            held[(pos.segment, pos.security_id)] = (units + pos.net_qty_units, cost + pos.open_cost_paise)
        for (segment, security_id), (units, cost) in held.items():
            if units:
                kind = self._instrument_type(segment, security_id)
                mark = abs(cost) // abs(units)
                self.venue.set_position(segment, security_id, units, mark, instrument_type=kind)
        # The fills of the open orders that have some (their ids guard against a fill counted
        # twice): one scan of the fills table, and none when no open order is part filled.
        open_orders = self.ledger.open_orders().values()
        part_filled = {event.client_order_id for event in open_orders if event.filled_qty_units}
        fills_by_order: dict[str, list[tuple[str, int, int]]] = {}
        if part_filled:
            for coid, fills in self.ledger.fills_of(part_filled).items():
                fills_by_order[coid] = [(f.fill_id, f.qty_units, f.price_paise) for f in fills]
        resent = 0
        modifies = self._stops_modifies_asked(open_orders)
        for event in sorted(open_orders, key=self._stops_restore_order):
            if is_external(event.client_order_id):
                continue  # not ours to work: reconciliation keeps it up to date
            fills = fills_by_order.get(event.client_order_id, [])
            order = fsm.restore(event, [fid for fid, _q, _p in fills], modifies.get(event.client_order_id, 0))
            coid = order.client_order_id
            self.orders[coid] = order
            self._instrument_type(order.spec.segment, order.spec.security_id)
            if self._stops_restore(order):
                continue  # an exit that was waiting for its position's stop waits again (OCO)
            if self.live:
                # Looked up at Dhan (each child of a sliced order too), never re-placed blindly; a
                # cancel whose answer died with the old process is asked again.
                self._handle(self.venue.restore(order, now, fills=fills), now)
                if order.state is OrderState.PENDING_CANCEL and coid in self.orders:
                    self._handle(self.venue.cancel(coid, now), now)
            else:
                self._restore_to_venue(order)  # once the fresh paper venue has the instrument's book
            resent += 1
        # Just after a start the paper venue may have no books yet: our subscription to the feed
        # can lag the strategy's (a slow joiner), and after a restart every book was lost. For a
        # short while an order then waits for its instrument's first depth update instead of
        # being rejected for a lack of data the market does have.
        self._restarted = not self.live and bool(self.ledger.orders())
        self._any_depth_seen = False
        self._fresh_until_ns = 0 if self.live else now + FRESH_VENUE_WAIT_NS
        if not self.live:
            self.ctx.call_later(FRESH_VENUE_WAIT_NS / NS_PER_S, self._end_fresh_wait)
        self._denials_recorded, self._resends_recorded = self._recently_audited()
        self.ledger.start_background_sync()
        if cfg.execution.ack_latency_us > 0:
            self.ctx.every(max(0.0005, cfg.execution.ack_latency_us / 2e6), self._poll_venue)
        self._extensions_start(now)
        self._stops_start()
        self.log.info("execution_ready", venue=cfg.execution.venue, cash_paise=wallet.cash_paise,
                      open_orders=len(self.orders), resent_to_venue=resent, last_seq=self.ledger.last_seq(),
                      trading_enabled=self.trading_enabled)

    def _instrument(self, segment: int, security_id: int) -> Any:
        key = (segment, security_id)
        inst = self._instruments.get(key)
        if inst is None:
            inst = self.table.get(segment, security_id)
            if inst is not None:
                self._instruments[key] = inst
                self.venue.set_instrument_type(segment, security_id, inst.instrument)
                if self.live:
                    self.venue.set_instrument_limits(segment, security_id, inst.lot_size_units,
                                                     inst.freeze_qty_units)
        return inst

    def _instrument_type(self, segment: int, security_id: int) -> str:
        inst = self._instrument(segment, security_id)
        return inst.instrument if inst is not None else ""

    def _open_dhan_venue(self, cfg: Any) -> Any:
        from actors.execution.dhan_session import BrokerSession
        from actors.execution.dhan_venue import DhanVenue
        from engine.credentials import CredentialsError, load_credentials

        try:
            credentials = load_credentials(cfg.credentials.file or None)
        except CredentialsError as exc:
            raise ActorConfigError(f"execution.venue = \"dhan\": {exc}") from None
        # The venue owns the broker session: the cached token when it is newer, renewals, logins.
        session = BrokerSession(cfg.execution.dhan, credentials, self.ctx.data_dir, self.ctx.now_ns(), log=self.log)
        venue = DhanVenue(cfg.execution.dhan, credentials, on_fatal=self._venue_fatal, log=self.log, session=session)
        venue.start()
        self.ctx.watch_fd(venue.wake_fd, self._poll_venue)
        self.ctx.every(cfg.execution.dhan.poll_interval_s, self._poll_venue)
        return venue

    def _open_kite_venue(self, cfg: Any) -> Any:
        """The Kite venue with its session (the cached login) and the instrument table's symbols."""
        from actors.execution.kite_broker_session import KiteBrokerSession
        from actors.execution.kite_venue import KiteVenue
        from engine.credentials import CredentialsError, load_kite_app

        try:
            app = load_kite_app(cfg.credentials.file or None, need_secret=False)  # the secret is for logging in
        except CredentialsError as exc:
            raise ActorConfigError(f"execution.venue = \"kite\": {exc}") from None
        session = KiteBrokerSession(cfg.execution.kite, app.api_key, self.ctx.data_dir, self.ctx.now_ns(), log=self.log)
        self._amo_calendar: SessionCalendar | None = None  # None: always in session (a synthetic market)
        if market_hours(cfg) == "exchange":
            try:
                self._amo_calendar = CalendarSource(cfg.calendar, self.ctx.data_dir).calendar
            except CalendarError as exc:
                raise ActorConfigError(f"the market calendar's overrides do not apply: {exc}") from None
        venue = KiteVenue(cfg.execution.kite, session, _TableSymbols(lambda: self.table), in_session=self._segment_in_session,
                          on_fatal=self._venue_fatal, log=self.log)
        venue.start()
        self.ctx.watch_fd(venue.wake_fd, self._poll_venue)
        self.ctx.every(cfg.execution.kite.poll_interval_s, self._poll_venue)
        return venue

    def _segment_in_session(self, segment: int, now_ns: int) -> bool:
        """Whether ``segment``'s session is open now (the Kite venue sends an AMO outside it)."""
        if self._amo_calendar is None:
            return True
        bounds = self._amo_calendar.session_bounds(day_date(ist_day(now_ns)), segment)
        return bounds is not None and bounds[0] <= now_ns < bounds[1]

    def _venue_fatal(self, fatal: Any) -> None:
        """The broker refused us for good (token expired, no API access, IP not whitelisted)."""
        now = self.ctx.now_ns()
        self.log.error("venue_fatal", code=str(fatal.code), message=fatal.message)
        self.ctx.send("supervisor", EngageKillSwitch(f"venue-fatal-{now}", f"execution: {fatal.message}",
                                                     "execution", now))

    def on_stop(self) -> None:
        if self.live:
            self.venue.stop()
        self.ledger.sync()
        self.ledger.close()

    # Orders in ----------------------------------------------------------------------------------
    def on_submit_order(self, msg: SubmitOrder, refuse: tuple[RejectReason, str] | None = None) -> None:
        """``refuse``: (code, text) to record the intent REJECTED without sending it."""
        # hot path: write ahead, hand to the venue
        intent = msg.intent
        spec = intent.spec
        now = self.ctx.now_ns()
        if self.ledger.client_order_id_for(intent.intent_id) is not None:
            # A re-send (risk missed our acknowledgement, or lost what it approved in a restart):
            # never a second order.
            self._record_resend(intent.intent_id, intent.strategy, spec.segment, spec.security_id, now)
            return
        if refuse is None and not self.trading_enabled and self._live_hold(intent.intent_id, msg):
            return
        inst = self._instrument(spec.segment, spec.security_id)
        if refuse is None and inst is None:
            where = instrument_label(spec.segment, spec.security_id)
            refuse = RejectReason.UNKNOWN_INSTRUMENT, f"instrument {where} is not in the master"
        # The ledger hands out the id; the order is stored under it in the same transaction.
        coid = self.ledger.next_client_order_id()
        first = OrderEvent(client_order_id=coid, intent_id=intent.intent_id, strategy=intent.strategy, spec=spec,
                           state=OrderState.SUBMITTED if refuse is None else OrderState.REJECTED,
                           filled_qty_units=0, filled_value_paise=0, venue_order_id="",
                           reason_code="" if refuse is None else refuse[0].value,
                           reason="" if refuse is None else refuse[1], ts_event_ns=now, ts_init_ns=intent.ts_init_ns,
                           ts_created_ns=intent.ts_created_ns,
                           ts_approved_ns=msg.ts_approved_ns)  # ts_sent_ns 0: not yet at the venue
        recorded = self.ledger.record_new_order(first)
        if refuse is None:
            self._rehearsal = first
        if recorded.issue is not None or recorded.duplicate:
            self.log.error("order_not_recorded", intent_id=intent.intent_id,
                           issue=str(recorded.issue) if recorded.issue else "duplicate")
            return
        order_topic = topics.strategy_topic(topics.ORDER, intent.strategy)
        if refuse is not None:
            self.ctx.publish(order_topic, first)
            self.log.info("order_rejected", client_order_id=coid, reason=refuse[0].value, detail=refuse[1])
            return
        sent = self.ctx.now_ns()  # after the write-ahead: this is when the venue gets it
        order = fsm.apply(fsm.new_order(spec, client_order_id=coid, intent_id=intent.intent_id, strategy=intent.strategy,
                                        ts_created_ns=intent.ts_created_ns, ts_approved_ns=msg.ts_approved_ns),
                          fsm.Submit(ts_sent_ns=sent))
        assert not isinstance(order, fsm.IllegalTransition)
        self.orders[coid] = order
        if self._stop_orders and self._stops_hold(order, intent.reduce_only):
            self.ctx.publish(order_topic, first)  # OCO: it goes once its position's stop has shrunk
            return
        book = self.venue.book(spec.segment, spec.security_id) if sent < self._fresh_until_ns else None
        if (sent < self._fresh_until_ns and (book is None or (spec.order_type == "MARKET" and not book.has_depth))
                and (self._restarted or not self._any_depth_seen)):
            # A just-restarted paper venue has no book yet, or only a last price from a tick or a
            # quote (a MARKET order needs depth): wait for the first depth update, as the restored
            # orders do, rather than reject an order the market has data for.
            self.ctx.publish(order_topic, first)
            self._restore_to_venue(order)
            return
        # The venue first, the news after: encoding and sending the SUBMITTED event to remote
        # subscribers (dashboards, the gateway) must not delay the order. Subscribers still see
        # SUBMITTED before anything the venue answered, which _handle publishes.
        answer = self.venue.submit(order, sent)
        self.ctx.publish(order_topic, first)
        self._handle(answer, sent)

    def warm_hot_path(self) -> None:
        """The last order's ledger write again, the write rolled back."""
        if self._rehearsal is not None:
            self.ledger.rehearse_new_order(self._rehearsal)

    def on_cancel_order(self, msg: CancelOrder) -> None:
        self._stops_cancelled_by_operator(msg.client_order_id, msg.by)
        self._cancel(msg.client_order_id, msg.by)

    def on_cancel_all_orders(self, msg: CancelAllOrders) -> None:
        # A protective stop stays while its position does (it goes with the position): "cancel
        # all" is about the orders that open or close risk, not the position's protection.
        for coid, order in list(self.orders.items()):
            if (not msg.strategy or order.strategy == msg.strategy) and not self._stops_is_stop(coid):
                self._cancel(coid, msg.by)

    def _cancel(self, coid: str, by: str) -> None:
        if self._awaiting_book and self._cancel_awaiting(coid, by):
            return
        order = self.orders.get(coid)
        if order is None:
            self.log.warning("cancel_unknown_order", client_order_id=coid, by=by)
            return
        now = self.ctx.now_ns()
        pending = fsm.apply(order, fsm.RequestCancel())
        if isinstance(pending, fsm.IllegalTransition):
            self.log.warning("cancel_refused", client_order_id=coid, reason=pending.reason)
            return
        self._record([], [pending], now)
        self.orders[coid] = pending
        self._handle(self.venue.cancel(coid, now), now)

    def on_modify_order(self, msg: ModifyOrder) -> None:
        order = self.orders.get(msg.client_order_id)
        if order is None:
            self.log.warning("modify_unknown_order", client_order_id=msg.client_order_id, by=msg.by)
            return
        now = self.ctx.now_ns()
        request = fsm.RequestModify(qty_units=msg.qty_units, price_paise=msg.price_paise,
                                    trigger_price_paise=msg.trigger_price_paise)
        pending = fsm.apply(order, request)
        if isinstance(pending, fsm.IllegalTransition):
            self.log.warning("modify_refused", client_order_id=msg.client_order_id, reason=pending.reason)
            return
        self._record([], [pending], now)
        self.orders[msg.client_order_id] = pending
        self._handle(self.venue.modify(msg.client_order_id, msg.qty_units, msg.price_paise,
                                       msg.trigger_price_paise, now), now)

    # Market data for the paper venue --------------------------------------------------------------
    def on_depth(self, msg: Depth) -> None:
        # hot path: O(1) when nothing rests on this instrument
        self._any_depth_seen = True
        events = self.venue.on_depth(msg, self.ctx.now_ns())
        if events:
            self._handle(events, self.ctx.now_ns())
        if self._awaiting_book:
            self._resubmit_awaiting(msg.segment, msg.security_id)

    def on_tick(self, msg: Tick) -> None:
        events = self.venue.on_tick(msg, self.ctx.now_ns())
        if events:
            self._handle(events, self.ctx.now_ns())

    def on_quote(self, msg: Quote) -> None:
        events = self.venue.on_quote(msg, self.ctx.now_ns())
        if events:
            self._handle(events, self.ctx.now_ns())

    # Replay batches: rows of instruments where nothing rests only move the paper venue's books ----
    def market_batch_horizon(self, batch: MarketBatch, start: int, stop: int) -> int:
        if self.live or self._awaiting_book:
            return start
        for j in batch.instruments_in(start, stop):
            if not self.venue.is_quiet(*batch.keys[j]):
                rows = batch.rows_of(j, start, stop)
                stop = min(stop, int(rows[0]))
        return stop

    def on_market_batch(self, batch: MarketBatch, start: int, stop: int) -> None:
        # Here, not at the top: only a replay in blocks runs (and imports) numba kernels; the feed
        # that publishes the batches compiled them before the host was ready.
        from actors.replay.kernels import last_trades

        last_full, last_ltp, last_volume, bad = last_trades(batch.instrument, batch.kind, batch.ltp_paise, start, stop,
                                                            len(batch.keys))
        if bad:
            self.venue.count_bad_prices(int(bad))
        for j in batch.instruments_in(start, stop):
            segment, security_id = batch.keys[j]
            t, v, f = int(last_ltp[j]), int(last_volume[j]), int(last_full[j])
            depth = None
            if f >= 0:
                d = batch.depth[f]
                depth = (d[D_BID_PX].tolist(), d[D_BID_QTY].tolist(), d[D_ASK_PX].tolist(), d[D_ASK_QTY].tolist())
                self._any_depth_seen = True
            self.venue.on_quiet_market(segment, security_id, ltp_paise=int(batch.ltp_paise[t]) if t >= 0 else 0,
                                       volume_units=int(batch.quote[v, Q_VOLUME]) if v >= 0 else -1, depth=depth)

    def _poll_venue(self) -> None:
        now = self.ctx.now_ns()
        events = self.venue.poll(now)
        if events:
            self._handle(events, now)
        if self.live:
            self._live_after_poll()

    # Venue events -> state machine -> ledger -> bus ------------------------------------------------
    def _handle(self, events: Sequence[VenueEvent], now: int) -> None:
        fills: list[Fill] = []
        updated: list[fsm.OrderSnapshot] = []
        for ev in events:
            if self._session_expiring and isinstance(ev, Canceled) and ev.client_order_id in self._session_expiring:
                ev = Expired(client_order_id=ev.client_order_id, ts_event_ns=ev.ts_event_ns)  # see _expire_day_orders
            order = self.orders.get(ev.client_order_id)
            if order is None:
                self.log.warning("venue_event_unknown_order", client_order_id=ev.client_order_id,
                                 event=type(ev).__name__)
                continue
            if isinstance(ev, Accepted) and order.state is not OrderState.SUBMITTED:
                continue  # a restored order handed to the fresh venue again: already accepted
            new = fsm.apply(order, ev)
            if isinstance(new, fsm.IllegalTransition):
                self.illegal += 1
                self.log.error("illegal_transition", client_order_id=ev.client_order_id, code=new.code.value,
                               reason=new.reason)
                continue
            if isinstance(ev, Filled):
                fills.append(fsm.fill_message(ev, new, ts_init_ns=now))
            elif self._stop_orders and isinstance(ev, (ModifyRefused, CancelRefused)):
                self._stops_refused(ev)  # a protective stop the venue would not move or cancel
            updated.append(new)
            self.orders[ev.client_order_id] = new
        if updated:
            self._record(fills, updated, now)

    def _record(self, fills: list[Fill], updated: list[fsm.OrderSnapshot], now: int) -> None:
        """One ledger transaction for the batch, then publish (a fill is stored before it is seen)."""
        order_events = [fsm.to_order_event(o, ts_event_ns=now, ts_init_ns=now) for o in updated]
        latest: dict[str, OrderEvent] = {e.client_order_id: e for e in order_events}
        batch: list[Any] = [*fills, *latest.values()]
        started = time.perf_counter_ns()  # the commit's real duration, for the metrics (never a rule)
        try:
            seqs = self.ledger.append(batch)
        except LedgerError as exc:
            # Nothing may be published that is not in the ledger; the supervisor restarts us and
            # the orders come back from the ledger.
            self.log.error("ledger_write_failed", error=str(exc))
            raise
        if self.live and fills:
            self._live_note_fills([f for f, seq in zip(fills, seqs) if seq])
        self.commit_stats.observe(time.perf_counter_ns() - started)
        for fill in fills:
            self.ctx.publish(topics.strategy_topic(topics.FILL, fill.strategy), fill)
        for event in latest.values():
            self.ctx.publish(topics.strategy_topic(topics.ORDER, event.strategy), event)
            if event.state in TERMINAL:
                self.orders.pop(event.client_order_id, None)
        if fills:
            wallet = self.ledger.wallet()
            if wallet is not None and self.venue.wallet is not None:  # the live venue has none
                self.venue.wallet.set_cash(wallet.cash_paise)
            for key in {position_key(f) for f in fills}:
                pos = self.ledger.position(*key)
                if pos is not None:
                    self.ctx.publish(topics.strategy_topic(topics.POSITION, key[0]), self._marked(pos, now))
        if self._group_links:
            self._groups_on_orders(latest.values(), now)
        self._stops_note(fills, latest.values())

    # Restored orders wait for the fresh paper venue to see their instrument's book -----------------
    def _restore_to_venue(self, order: fsm.OrderSnapshot) -> None:
        """A restarted paper venue has no market data: an order handed to it at once would be
        rejected (NO_MARKET_DATA) while the ledger holds it open. It is handed over on the first
        depth update of its instrument instead (``_resubmit_awaiting``)."""
        key = (order.spec.segment, order.spec.security_id)
        self._awaiting_book.setdefault(key, []).append(order.client_order_id)

    def _end_fresh_wait(self) -> None:
        """Whatever still waits for a book is handed to the venue now (which rejects a MARKET
        order it has no data for): nothing waits forever."""
        for segment, security_id in list(self._awaiting_book):
            self._resubmit_awaiting(segment, security_id)

    def _resubmit_awaiting(self, segment: int, security_id: int) -> None:
        coids = self._awaiting_book.pop((segment, security_id), None)
        if not coids:
            return
        now = self.ctx.now_ns()
        for coid in coids:
            order = self.orders.get(coid)
            if order is None:
                continue
            events = list(self.venue.submit(order, now))
            if order.state is OrderState.PENDING_CANCEL:
                # The cancel was recorded but its answer died with the old process: ask again.
                events.extend(self.venue.cancel(coid, now))
            self._handle(events, now)
            if self._stop_orders:
                self._stops_back_at_venue(order)  # a stop waited for the book: its position is worked again

    def _awaiting_forget(self, coid: str) -> bool:
        for key, coids in self._awaiting_book.items():
            if coid in coids:
                coids.remove(coid)
                if not coids:
                    del self._awaiting_book[key]
                return True
        return False

    def _cancel_awaiting(self, coid: str, by: str) -> bool:
        """A cancel for an order not yet back at the venue: it is cancelled here (nothing is
        working anywhere). False when ``coid`` is not awaiting."""
        order = self.orders.get(coid)
        if order is None or not self._awaiting_forget(coid):
            return False
        now = self.ctx.now_ns()
        pending = order if order.state is OrderState.PENDING_CANCEL else fsm.apply(order, fsm.RequestCancel())
        cancel = Canceled(client_order_id=coid, ts_event_ns=now, reason_code=RejectReason.CANCEL_REQUESTED,
                          reason=f"cancelled by {by} before the restarted paper venue had the order")
        done = (fsm.apply(pending, cancel)
                if not isinstance(pending, fsm.IllegalTransition) else pending)
        if isinstance(done, fsm.IllegalTransition):
            self.log.warning("cancel_refused", client_order_id=coid, reason=done.reason)
            self._restore_to_venue(order)
            return True
        self._record([], [done], now)
        return True

    # Order groups, marks, session end: state and start-up ------------------------------------------
    def _extensions_init(self) -> None:
        self.groups: dict[str, grp.Group] = {}  # open groups by id
        self.group_policy = grp.DEFAULT_POLICY
        self._group_links: dict[str, tuple[str, int, bool]] = {}  # coid -> (group id, leg, is flatten)
        self._group_inbox: deque[tuple[str, grp.GroupInput]] = deque()
        self._group_busy = False
        self._group_drain_due = False
        self._group_timers: dict[str, tuple[int, Any]] = {}  # group id -> (wake ns, timer)
        self._calendar: SessionCalendar | None = None  # None: the market never closes
        self._day_expiry: dict[str, int | None] = {}  # coid -> when the DAY order expires
        self._session_expiring: set[str] = set()
        self._marks: dict[PositionKey, int] = {}  # position key -> last published unrealised
        self._awaiting_book: dict[tuple[int, int], list[str]] = {}  # restored orders, by instrument
        self._settlement_init()

    def _extensions_start(self, now: int) -> None:
        cfg = self.ctx.config
        if market_hours(cfg) == "exchange" and not self.live:  # Dhan expires DAY orders itself
            try:
                self._calendar_source = CalendarSource(cfg.calendar, self.ctx.data_dir)
            except CalendarError as exc:
                raise ActorConfigError(f"the market calendar's overrides do not apply: {exc}") from None
            self._calendar = self._calendar_source.calendar
            self.ctx.every(1.0, lambda: self._check_session_end(self.ctx.now_ns()))
            self.ctx.every(CALENDAR_REFRESH_S, self._refresh_calendar)
        self.ctx.every(1.0, lambda: self._publish_marks(self.ctx.now_ns()))
        self.ctx.every(LEDGER_STATS_INTERVAL_S, self._publish_ledger_stats)
        self._groups_resume(now)
        self._settlement_start(now)  # positions in contracts that expired (expiry_settlement.py)

    def _refresh_calendar(self) -> None:
        """An edited overrides file (``shikra calendar``): DAY orders' expiries are worked out again."""
        try:
            if self._calendar_source.refresh():
                self._day_expiry.clear()
        except CalendarError as exc:
            self.log.warning("calendar_overrides_refused", error=str(exc))  # risk reports it as an error

    # Order groups (the state machine is actors/execution/groups.py) ---------------------------------
    def on_submit_group(self, msg: SubmitGroup) -> None:
        now = self.ctx.now_ns()
        known = self.ledger.group(msg.group_id)
        if known is not None:
            # A re-send: never a second group; say again where it stands.
            self.log.info("duplicate_group", group_id=msg.group_id, state=known.state.value)
            self.ctx.publish(topics.strategy_topic(grp.GROUP_TOPIC, known.strategy), known)
            return
        if not self.trading_enabled and self._live_hold(msg.group_id, msg):
            return
        group = grp.new_group(msg)
        refusal = self._group_refusal(group)
        if refusal is not None:
            refused = grp.rejected(group, *refusal)
            self._group_record(refused, grp.GroupStep.REJECTED, now)
            self.log.info("group_rejected", group_id=group.group_id, reason=refusal[0].value, detail=refusal[1])
            return
        self.groups[group.group_id] = group
        self._group_input(group.group_id, grp.Start(now_ns=now), drain=True)

    def on_cancel_group(self, msg: CancelGroup) -> None:
        if msg.group_id not in self.groups:
            self.log.warning("cancel_unknown_group", group_id=msg.group_id, by=msg.by)
            return
        self._group_input(msg.group_id, grp.Abort(now_ns=self.ctx.now_ns(), detail=f"cancelled by {msg.by}"),
                          drain=True)

    def _group_refusal(self, group: grp.Group) -> tuple[grp.GroupReason, str] | None:
        """What the OMS knows and the pure core does not: the kill switch, the instruments, and
        intents that are already orders. Checked for every leg before any leg is sent (each leg's
        fields were checked where the group was made)."""
        trading = self.ledger.trading_state()
        if self.ctx.kill_switch_engaged or trading.state != TradingState.ACTIVE:
            state = "HALTED (kill switch)" if self.ctx.kill_switch_engaged else trading.state
            return grp.GroupReason.KILL_SWITCH, f"group {group.group_id}: trading is {state}; a group opens new risk"
        problem = grp.group_problem(group, self.group_policy)
        if problem is not None:
            return problem
        for i, leg in enumerate(group.legs):
            intent = leg.intent
            spec = intent.spec
            label = instrument_label(spec.segment, spec.security_id)
            if self.ledger.client_order_id_for(intent.intent_id) is not None:
                return grp.GroupReason.DUPLICATE_LEG_INTENT, f"leg {i} intent {intent.intent_id} is already an order"
            if self._instrument(spec.segment, spec.security_id) is None:
                return grp.GroupReason.LEG_INVALID, f"leg {i}: instrument {label} is not in the master"
        return None

    def _group_input(self, group_id: str, event: grp.GroupInput, drain: bool = False) -> None:
        """Queue an input for a group. ``drain``: we are at the top of a handler or timer, so the
        queue is worked off now; otherwise (inside ``_record``) on the next loop turn, so that a
        group's orders are never placed from inside another order's bookkeeping."""
        self._group_inbox.append((group_id, event))
        if drain:
            self._group_drain()
        elif not self._group_drain_due:
            self._group_drain_due = True
            self.ctx.call_later(0.0, self._group_drain)

    def _group_drain(self) -> None:
        self._group_drain_due = False
        if self._group_busy:
            return  # the loop further up the stack takes what was queued
        self._group_busy = True
        try:
            while self._group_inbox:
                group_id, event = self._group_inbox.popleft()
                group = self.groups.get(group_id)
                if group is not None:
                    self._group_apply(group, event)
        finally:
            self._group_busy = False

    def _group_apply(self, group: grp.Group, event: grp.GroupInput) -> None:
        result = grp.step(group, event, self.group_policy)
        if result.ignored:
            self.log.debug("group_input_ignored", group_id=group.group_id, input=type(event).__name__,
                           why=result.ignored)
            return
        after = result.group
        if after != group:
            self._group_record(after, result.step, event.now_ns)  # write-ahead: before any command
        if after.state in grp.FINISHED:
            self.groups.pop(after.group_id, None)
            for leg in after.legs:
                self._group_links.pop(leg.client_order_id, None)
                self._group_links.pop(leg.flatten_client_order_id, None)
            self.log.info("group_finished", group_id=after.group_id, state=after.state.value,
                          reason=after.reason_code, detail=after.detail)
        else:
            self.groups[after.group_id] = after
        for command in result.commands:
            self._group_command(after.group_id, command)
        self._group_schedule(after)

    def _group_record(self, group: grp.Group, step: grp.GroupStep, now: int) -> None:
        event = grp.to_group_event(group, step, ts_event_ns=now, ts_init_ns=now)
        report = self.ledger.append_report([event])
        if report.issues:
            self.log.error("group_not_recorded", group_id=group.group_id, step=step.value,
                           issue=report.issues[0][1].detail)
            if group.state is not GroupState.REJECTED:
                return
            # A refusal whose id cannot be a ledger key (empty, too long): nothing was done, so
            # the sender is still told.
        self.ctx.publish(topics.strategy_topic(grp.GROUP_TOPIC, group.strategy), event)

    def _group_command(self, group_id: str, command: grp.Command) -> None:
        if not self.trading_enabled and not isinstance(command, grp.CancelLeg):
            # Live, before the first reconciliation: sent once it succeeds (LiveTrading).
            self._deferred_group_commands.append((group_id, command))
            return
        if isinstance(command, grp.CancelLeg):
            if command.client_order_id in self.orders:
                self._cancel(command.client_order_id, f"group:{group_id}")
            return
        assert isinstance(command, (grp.SendLeg, grp.SendFlatten)), command
        is_flatten = isinstance(command, grp.SendFlatten)
        intent = command.intent
        now = self.ctx.now_ns()
        # The ordinary order path: validation, write-ahead, intent dedup (a resumed group's
        # re-send is recognised), venue. Then read back what became of it.
        self.on_submit_order(SubmitOrder(intent, now))
        coid = self.ledger.client_order_id_for(intent.intent_id)
        order = self.ledger.order(coid) if coid is not None else None
        if coid is None or order is None:
            update = self._group_update(command.leg_index, is_flatten, "", OrderState.REJECTED, 0, 0, now)
        else:
            self._group_links[coid] = (group_id, command.leg_index, is_flatten)
            update = self._group_update(command.leg_index, is_flatten, coid, order.state, order.filled_qty_units,
                                        order.filled_value_paise, now)
        self._group_input(group_id, update)

    @staticmethod
    def _group_update(leg_index: int, is_flatten: bool, coid: str, state: OrderState, filled_qty_units: int,
                      filled_value_paise: int, now: int) -> grp.GroupInput:
        if is_flatten:
            return grp.FlattenUpdate(now_ns=now, leg_index=leg_index, client_order_id=coid, state=state,
                                     filled_qty_units=filled_qty_units)
        return grp.LegUpdate(now_ns=now, leg_index=leg_index, client_order_id=coid, state=state,
                             filled_qty_units=filled_qty_units, filled_value_paise=filled_value_paise)

    def _groups_on_orders(self, events: Any, now: int) -> None:
        """Called by ``_record`` after it published: order events of group legs and flattens."""
        for event in events:
            link = self._group_links.get(event.client_order_id)
            if link is not None:
                group_id, leg_index, is_flatten = link
                self._group_input(group_id, self._group_update(
                    leg_index, is_flatten, event.client_order_id, event.state, event.filled_qty_units,
                    event.filled_value_paise, now))

    def _group_schedule(self, group: grp.Group) -> None:
        """Keep one timer per group at its next wake-up (deadline or flatten retry)."""
        group_id = group.group_id
        wake = grp.next_wake_ns(group) if group.state not in grp.FINISHED else None
        current = self._group_timers.get(group_id)
        if current is not None and (wake is None or current[0] != wake):
            current[1].cancel()
            del self._group_timers[group_id]
        if wake is not None and (current is None or current[0] != wake):
            delay_s = max(0.0, (wake - self.ctx.now_ns()) / NS_PER_S)
            timer = self.ctx.call_later(delay_s, lambda: self._group_wake(group_id, self.ctx.now_ns()))
            self._group_timers[group_id] = (wake, timer)

    def _group_wake(self, group_id: str, now_ns: int) -> None:
        """A group's timer fired (the deadline, or a flatten retry is due)."""
        self._group_timers.pop(group_id, None)
        self._group_input(group_id, grp.Wake(now_ns=now_ns), drain=True)
        group = self.groups.get(group_id)
        if group is not None:
            self._group_schedule(group)  # a timer that fired a hair early is set again

    def _groups_resume(self, now: int) -> None:
        """After a restart: open groups come back from the ledger, learn what their orders did
        while we were down, and carry on (a deadline that passed rolls them back)."""
        for event in self.ledger.open_groups().values():
            group = grp.group_from_event(event)
            self.groups[group.group_id] = group
            for i, leg in enumerate(group.legs):
                for coid, is_flatten in ((leg.client_order_id, False), (leg.flatten_client_order_id, True)):
                    if coid:
                        self._group_links[coid] = (group.group_id, i, is_flatten)
        for coid, (group_id, leg_index, is_flatten) in list(self._group_links.items()):
            order = self.ledger.order(coid)
            if order is not None:
                self._group_inbox.append((group_id, self._group_update(
                    leg_index, is_flatten, coid, order.state, order.filled_qty_units, order.filled_value_paise, now)))
        if self.groups:
            self.log.info("groups_resumed", groups=len(self.groups))
        self._group_drain()
        for group in list(self.groups.values()):
            self._group_schedule(group)
        if self.groups:
            # What the groups say was sent but the ledger has no order for goes out again once
            # the fresh venue has seen the market (an order now would find no book).
            self.ctx.call_later(GROUP_RESUME_DELAY_S, self._groups_resend)

    def _groups_resend(self) -> None:
        now = self.ctx.now_ns()
        for group_id in list(self.groups):
            self._group_inbox.append((group_id, grp.Resume(now_ns=now)))
        self._group_drain()

    # Unrealised P&L marked to the paper venue's book (actors/execution/marks.py) -------------------
    def _marked(self, pos: Position, now: int) -> Position:
        """``pos`` with ``unrealised_pnl_paise`` at the venue's mark (LTP, else mid)."""
        mark_x2 = mark_x2_paise(self.venue.book(pos.segment, pos.security_id)) if pos.net_qty_units else 0
        unrealised = unrealised_pnl_paise(pos.net_qty_units, pos.open_cost_paise, mark_x2)
        self._marks[position_key(pos)] = unrealised
        return msgspec.structs.replace(pos, unrealised_pnl_paise=unrealised, ts_event_ns=now, ts_init_ns=now)

    def _publish_ledger_stats(self) -> None:
        self.ctx.publish(topics.LEDGER_STATS.encode(), self.commit_stats.snapshot(self.ctx.name, self.ctx.now_ns()))

    def _publish_marks(self, now: int) -> None:
        """Once a second: open positions whose unrealised P&L moved are published again."""
        for key, pos in self.ledger.positions().items():
            if not pos.net_qty_units:
                continue
            previous = self._marks.get(key)
            marked = self._marked(pos, now)
            if marked.unrealised_pnl_paise != previous:
                self.ctx.publish(topics.strategy_topic(topics.POSITION, key[0]), marked)

    # DAY orders expire at their segment's session close (actors/execution/expiry.py) ---------------
    def _check_session_end(self, now_ns: int) -> int:
        """Expire every open DAY order whose segment's session has closed since it was placed;
        returns how many. Never with the always-open calendar of the synthetic market."""
        calendar = self._calendar
        if calendar is None:
            return 0
        for coid in [c for c in self._day_expiry if c not in self.orders]:
            del self._day_expiry[coid]
        due: list[str] = []
        for coid, order in self.orders.items():
            if order.spec.validity != "DAY":
                continue
            if coid not in self._day_expiry:
                placed = order.ts_created_ns or order.ts_sent_ns or now_ns
                self._day_expiry[coid] = day_order_expiry_ns(calendar, order.spec.segment, placed)
            expiry = self._day_expiry[coid]
            if expiry is not None and now_ns >= expiry:
                due.append(coid)
        if due:
            self._expire_day_orders(due, now_ns)
        return len(due)

    def _expire_day_orders(self, due: list[str], now_ns: int) -> None:
        """The venue's ``end_of_session`` when every open order is due; otherwise (another
        segment still trades) the due orders are cancelled at the venue and recorded EXPIRED
        (``_handle`` turns their Canceled into Expired)."""
        self.log.info("session_end_expiry", orders=len(due), open_orders=len(self.orders))
        local = [coid for coid in due if self._awaiting_forget(coid)]  # not at the venue: expire here
        if local:
            expired = [fsm.apply(self.orders[coid], Expired(client_order_id=coid, ts_event_ns=now_ns)) for coid in local]
            self._record([], [o for o in expired if not isinstance(o, fsm.IllegalTransition)], now_ns)
            due = [coid for coid in due if coid not in local]
        if not due:
            return
        if len(due) == len(self.orders) - sum(len(c) for c in self._awaiting_book.values()):
            events = self.venue.end_of_session(now_ns)
        else:
            self._session_expiring.update(due)
            events = []
            for coid in due:
                events.extend(self.venue.cancel(coid, now_ns))
        if events:
            self._handle(events, now_ns)
        self._session_expiring.intersection_update(self.orders)

    # Records for others -------------------------------------------------------------------------
    def on_order_denied(self, msg: OrderDenied) -> None:
        """Write risk's denial to the audit once, and say so: risk re-sends a denial until this
        acknowledgement arrives, so the same one can come twice (also across our restart)."""
        if msg.intent_id in self._denials_recorded:
            self.ctx.send(RISK, DenialRecorded(msg.intent_id, self.ctx.now_ns()))
            return
        self._record_denial(msg)
        _remember(self._denials_recorded, msg.intent_id)
        self.ctx.send(RISK, DenialRecorded(msg.intent_id, self.ctx.now_ns()))

    def on_intent_resent(self, msg: IntentResent) -> None:
        self._record_resend(msg.intent_id, msg.strategy, msg.segment, msg.security_id, msg.ts_event_ns)

    def _record_resend(self, intent_id: str, strategy: str, segment: int, security_id: int, ts_ns: int) -> None:
        """An intent approved before came again: a ``resend_intent`` audit row naming the order it
        became, once per intent however often it comes (none yet: risk's approval is still on its
        way here, and a later re-send names the order); the order's state is published again every
        time, which answers the sender so it stops re-sending."""
        orders = self._orders_of_intent(intent_id)
        coids = ",".join(order.client_order_id for order in orders)
        self.log.info("intent_resent", intent_id=intent_id, client_order_id=coids)
        for order in orders:
            self.ctx.publish(topics.strategy_topic(topics.ORDER, order.strategy), order)
        if intent_id in self._resends_recorded:
            return
        if orders:
            result = "already " + ", ".join(f"{o.client_order_id} ({o.state.value})" for o in orders)
            _remember(self._resends_recorded, intent_id)
        else:
            result = "approved, not yet an order: risk sends it here until it is recorded"
        self.ledger.append([AuditRecord(who="risk", action="resend_intent",
                                        args={"intent_id": intent_id, "strategy": strategy,
                                              "instrument": instrument_label(segment, security_id),
                                              "client_order_id": coids},
                                        result=result, ts_ns=ts_ns)])

    def _orders_of_intent(self, intent_id: str) -> list[OrderEvent]:
        """The order an intent became, or its slices' orders (split at the freeze quantity)."""
        coid = self.ledger.client_order_id_for(intent_id)
        if coid is not None:
            coids = [coid]
        else:
            coids = []
            while (coid := self.ledger.client_order_id_for(slice_intent_id(intent_id, len(coids) + 1))) is not None:
                coids.append(coid)
        return [order for order in map(self.ledger.order, coids) if order is not None]

    def _recently_audited(self) -> tuple[dict[str, None], dict[str, None]]:
        """Intent ids of the denials, and of the re-sends that named their order, among the newest
        audit rows (insertion-ordered, oldest first): what a repeat is checked against after a restart."""
        with self.ledger.reader().snapshot() as snap:
            top = snap.last_audit_seq()
            rows = snap.audit(max(1, top - AUDITED_IDS_REMEMBERED + 1), AUDITED_IDS_REMEMBERED)
        denials: dict[str, None] = {}
        resends: dict[str, None] = {}
        for _seq, row in rows:
            if row.action == "deny_intent" and "intent_id" in row.args:
                denials[row.args["intent_id"]] = None
            elif row.action == "resend_intent" and row.args.get("client_order_id"):
                resends[row.args["intent_id"]] = None
        return denials, resends

    def _record_denial(self, msg: OrderDenied) -> None:
        self.ledger.append([AuditRecord(who="risk", action="deny_intent",
                                        args={"intent_id": msg.intent_id, "strategy": msg.strategy,
                                              "instrument": instrument_label(msg.segment, msg.security_id),
                                              "reason_code": msg.reason_code},
                                        result=msg.message, ts_ns=msg.ts_event_ns)])

    def on_save_strategy_state(self, msg: SaveStrategyState) -> None:
        self.ledger.append([StrategyStateSaved(strategy=msg.strategy, state=msg.state, ts_ns=msg.ts_ns)])

    def on_risk_state_changed(self, msg: RiskStateChanged) -> None:
        self.ledger.append([TradingStateChanged(state=msg.state, reason_code=msg.reason_code, detail=msg.detail,
                                                by=msg.by, ts_ns=msg.ts_event_ns)])

    def on_kill_switch(self, engaged: bool, reason: str) -> None:
        if engaged:
            for coid in list(self.orders):
                if not self._stops_is_stop(coid):  # the protection of what is still held stays
                    self._cancel(coid, "kill_switch")

    def on_position(self, msg: Position) -> None:
        """Positions are ours; one routed back in-process is ignored."""

    # Control plane: users and audit rows from the control actor (we are the ledger's writer) ------
    def on_record_audit(self, msg: RecordAudit) -> None:
        self.ledger.append([AuditRecord(who=msg.who, action=msg.action, args=dict(msg.args), result=msg.result,
                                        ts_ns=msg.ts_ns)])

    def on_add_user(self, msg: AddUser) -> None:
        # One transaction: a user never exists without the token it was created for. A re-sent
        # command finds its token hash recorded and changes nothing.
        report = self.ledger.append_report(
            [UserAdded(name=msg.name, role=msg.role, by=msg.by, ts_ns=msg.ts_ns),
             TokenIssued(token_sha256=msg.token_sha256, token_id=msg.token_id, name=msg.name, by=msg.by,
                         ts_ns=msg.ts_ns)],
            all_or_nothing=True)
        for _index, issue in report.issues:
            self.log.warning("add_user_refused", name=msg.name, code=issue.code.value, detail=issue.detail)

    def on_revoke_user(self, msg: RevokeUser) -> None:
        report = self.ledger.append_report([UserRevoked(name=msg.name, by=msg.by, ts_ns=msg.ts_ns)])
        for _index, issue in report.issues:
            self.log.warning("revoke_user_refused", name=msg.name, code=issue.code.value, detail=issue.detail)


def _remember(ids: dict[str, None], intent_id: str) -> None:
    """Add ``intent_id`` to an insertion-ordered set of at most AUDITED_IDS_REMEMBERED (oldest out)."""
    ids[intent_id] = None
    if len(ids) > AUDITED_IDS_REMEMBERED:
        del ids[next(iter(ids))]


class _TableSymbols:
    """The instrument table as the Kite venue's ``SymbolResolver`` (Kite's master: its symbols are
    Kite's trading symbols). ``table()`` is the actor's current one (a new master replaces it)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def symbol(self, segment: int, security_id: int) -> str | None:
        inst = self._table().get(segment, security_id)
        return inst.symbol if inst is not None else None

    def instrument(self, segment: int, symbol: str) -> int | None:
        inst = self._table().by_symbol(symbol, segment)
        return inst.security_id if inst is not None else None
