"""The unattended week, rehearsed (issue 17 item 6): the engine's actors and the supervisor's daily
schedule in this process on a simulated clock, against the loopback fake Dhan: REST and the
order-update stream (FakeDhan), the market feed (FakeDhanFeed), the scrip master download
(MasterServer) and a local webhook for the alerts. The week spans the end of the calendar
library's data (exchange_calendars ends on 2026-12-31), so its last day trades on the fallback.

How it runs. The live venue and the Dhan feed do real I/O on loopback sockets in their own
threads; the clock moves only when the test says (``advance_to``: the actors' and the schedule's
timers fire on the way) and holds while the test serves that I/O (``pump``). Market data comes from
the fake feed over a real websocket (its frames are stamped with the simulated time at which the
feed actor reads them). The test plays the exchange: it fills at Dhan what the engine placed there.

"kill -9 of execution" is in-process (``SimEngine.kill``): the execution actor instance is dropped
without its stop handlers (no venue stop, no ledger flush), its timers, fds and sockets are no
longer served, messages for it are lost, and what the kernel would release from a killed process
(the ledger's writer lock and mapping) is released; its threads and connections are abandoned as
they are. A fresh instance then starts on the same ledger at the same simulated instant: in this
process the other actors read the ledger through its writer's environment, so no simulated time
passes while there is none (Dhan's side of the outage, the trade and the lost answer, still
happens meanwhile, in real time).

Dhan's clock is the engine's (``FakeDhan(now_s=...)``: TOTP windows, token expiries), and a login
completes at the simulated instant it was sent (``SimEngine.hold_clock_while``).

The week (Mon 2026-12-28 .. Fri 2027-01-01), started Monday 08:00 (night) on last week's master,
with credentials holding the client id, PIN and TOTP secret, no token:
- Monday: a login by TOTP at start; the 08:30 pre-open logs in again by TOTP, downloads the day's
  master, reconciles with Dhan and connects the feed; a strategy buys at 10:00, sells at 11:00
  while execution is killed with Dhan's answer in flight, buys again at 14:00; at 14:05 the token
  (short-lived on Monday) is renewed and Dhan trades the buy around the swap: its fill reaches the
  ledger once; risk squares the lot off at 15:25; the post-close summary reaches the webhook; at
  17:00 the feed disconnects for a quiet night (one alert: the calendar's daily one).
- Tuesday: a configured holiday: the master refresh and nothing else (the token renewed before
  it expires, on its own); no price, no order.
- Wednesday: trading again, and a second strategy trades the nearest NIFTY future of the day's
  master, a contract Monday's master did not list.
- Thursday: pre-open and night, untraded.
- Friday, past the library's data: the fallback calendar opens it, the operator is alerted, and
  the strategy trades.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.model.ist import ist_date
from engine.model.lookup import instruments_dir
from engine.model.master_refresh import MasterDownloadConfig, refresh_master
from engine.model.sample_master import sample_master_text
from ipc.messages import (
    BrokerSessionStatus,
    DailyTaskFinished,
    DayPhaseBegan,
    Fill,
    InstrumentMasterStatus,
    OrderState,
    RiskAction,
)
from tests.support.fake_dhan import CLIENT_ID, PIN, TOTP_SECRET, FakeDhan
from tests.support.fake_dhan_feed import FakeDhanFeed
from tests.support.master_server import MasterServer
from tests.support.sim import NS_PER_S, SimEngine, at_ist, sim_config
from tests.support.webhook import Webhook

LAST_WEEK = dt.date(2026, 12, 24)
SUNDAY = dt.date(2026, 12, 27)
MONDAY = dt.date(2026, 12, 28)
TUESDAY = MONDAY + dt.timedelta(days=1)     # configured as a holiday
WEDNESDAY = MONDAY + dt.timedelta(days=2)
THURSDAY = MONDAY + dt.timedelta(days=3)    # the calendar library's last day
FRIDAY = MONDAY + dt.timedelta(days=4)      # 2027-01-01: past the library's data (the fallback)
ACTORS = ("execution", "notify", "risk", "strategy", "feed")  # the daemon's start order
STRATEGY = "week"
ROLL = "roll"
SYMBOL = "RELIANCE"
BUY_FILL_PAISE = 98_500
SELL_FILL_PAISE = 99_000
CALENDAR_ALERT = "market calendar data ending"
DHAN_TOKEN_LIFETIME_S = 86_400.0
# Monday's pre-open token is short-lived so that its renewal (renew_before_s = 2 h before the end)
# falls inside the session, at 14:05.
MONDAY_TOKEN_LIFETIME_S = 7 * 3600 + 35 * 60

WEEK_TRADER = '''
from __future__ import annotations

from actors.strategy.api import InstrumentRef, Strategy, StrategyParams, StrategyState
from engine.model.ist import ist_date
from ipc.messages import Quote

NS_PER_MIN = 60_000_000_000
IST_OFFSET_MIN = 330
WINDOW_MIN = 30


class WeekParams(StrategyParams):
    buy_at_min: tuple[int, ...] = (600, 840)   # 10:00 and 14:00 IST
    sell_at_min: tuple[int, ...] = (660,)      # 11:00 IST: sell what is held
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    future_of: str = ""   # trade this underlying's nearest future in today's master, not the instrument


class WeekState(StrategyState):
    done: list[str] = []


class WeekTrader(Strategy):
    """By the engine's clock: on the first quote in the half hour after each time of day, one lot
    bought (or what is held sold), once a day, on the given weekdays."""

    kind = "week_trader"
    Params = WeekParams
    State = WeekState

    def on_start(self) -> None:
        self.traded = self.instrument
        if self.params.future_of:
            self.traded = self._nearest_future()

    def _nearest_future(self) -> InstrumentRef:
        # The master in use today (the actor takes a new one at the session boundary).
        table = self.ctx.table
        expiry = table.nearest_expiry(self.params.future_of, ist_date(self.ctx.now_ns()), kind="futures")
        inst = table.contract(self.params.future_of, expiry, 0, "XX")
        ref = InstrumentRef(inst.segment, inst.security_id, inst.symbol, inst.lot_size_units, inst.tick_paise)
        self.ctx.subscribe(ref)  # the feed streams it; risk and execution see its prices
        return ref

    def on_quote(self, quote: Quote) -> None:
        minutes = self.ctx.now_ns() // NS_PER_MIN + IST_OFFSET_MIN
        day, minute = divmod(minutes, 1440)
        if (day + 3) % 7 not in self.params.weekdays:  # day 0 (1970-01-01) was a Thursday
            return
        if self.params.future_of and f"{day}:roll" not in self.state.done:
            self.state.done.append(f"{day}:roll")
            self.traded = self._nearest_future()
        inst = self.traded
        for at in self.params.buy_at_min:
            if self._due(day, minute, at, "buy"):
                self.ctx.buy(inst, inst.lot_size_units, cause=quote)
        held = self.ctx.position(inst)
        for at in self.params.sell_at_min:
            if held > 0 and self._due(day, minute, at, "sell"):
                self.ctx.sell(inst, held, cause=quote)

    def _due(self, day: int, minute: int, at: int, what: str) -> bool:
        key = f"{day}:{what}:{at}"
        if at <= minute < at + WINDOW_MIN and key not in self.state.done:
            self.state.done.append(key)
            return True
        return False
'''


class Week:
    """The engine and the fakes around it, with the steps the test repeats."""

    def __init__(self, engine: SimEngine, dhan: FakeDhan, feed: FakeDhanFeed, hook: Webhook,
                 masters: MasterServer) -> None:
        self.engine = engine
        self.dhan = dhan
        self.feed = feed
        self.hook = hook
        self.masters = masters

    # The exchange ------------------------------------------------------------------------------
    def placed(self) -> list[dict[str, Any]]:
        return self.dhan.place_requests()

    def wait_placed(self, count: int, what: str) -> dict[str, Any]:
        """Serve I/O until ``count`` orders in all reached Dhan; the last one's row at Dhan."""
        self.engine.pump(lambda: len(self.placed()) >= count, what)
        assert len(self.placed()) == count, f"{what}: {self.placed()}"
        (row,) = self.dhan.order_by_correlation(self.placed()[-1]["correlationId"])
        return row

    def fill(self, row: dict[str, Any]) -> None:
        """Dhan fills the order in full (BUY and SELL at fixed prices) and the ledger records it."""
        price = BUY_FILL_PAISE if row["transactionType"] == "BUY" else SELL_FILL_PAISE
        self.dhan.trade(row["orderId"], row["quantity"], price)
        self.engine.pump(lambda: self.order_state(row["correlationId"]) is OrderState.FILLED,
                         f"order {row['correlationId']} FILLED in the ledger")

    # The ledger ----------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        return self.engine.ledger_facts()

    def order_state(self, client_order_id: str) -> OrderState | None:
        order = self.facts()["orders"].get(client_order_id)
        return order.state if order is not None else None

    def held(self, strategy: str = STRATEGY) -> int:
        return sum(p.net_qty_units for key, p in self.facts()["positions"].items() if key[0] == strategy)

    def fills_on(self, day: dt.date) -> list[Any]:
        return [f for f in self.facts()["fills"].values() if ist_date(f.ts_event_ns) == day]

    # The alerts ----------------------------------------------------------------------------------
    def alerts(self) -> list[dict[str, Any]]:
        return self.hook.messages()

    def wait_alert(self, needle: str, what: str) -> list[dict[str, Any]]:
        return self.engine.pump(lambda: self.hook.find(needle), what)

    # The schedule --------------------------------------------------------------------------------
    def tasks(self, day: dt.date) -> dict[str, tuple[str, bool]]:
        return {t.task: (t.actor, t.ok) for t in self.engine.seen(DailyTaskFinished) if t.day == day.isoformat()}

    def phases(self, day: dt.date) -> list[tuple[str, bool]]:
        return [(p.phase, p.trading_day) for p in self.engine.seen(DayPhaseBegan) if p.day == day.isoformat()]

    # Days ------------------------------------------------------------------------------------------
    def pre_open(self, day: dt.date) -> None:
        """Dhan publishes the day's scrip master; at 08:30 the schedule's pre-open downloads it, the
        venue reconciles with Dhan (the start-up gate is open) and the feed connects and subscribes."""
        self.masters.serve(sample_master_text(day).encode())
        connections, logins = self.feed.connections, len(self.logins())
        self.engine.advance_to(at_ist(day, 8, 30))
        status = self.engine.seen(InstrumentMasterStatus)[-1]
        assert status.ok and status.master_date == day.isoformat(), status
        self.engine.pump(lambda: self.tasks(day).get("reconcile") == ("execution", True)
                         and self.tasks(day).get("broker_session") == ("execution", True)
                         and self.feed.connections > connections and self.feed.subscriptions(self.feed.connections),
                         f"{day} pre-open: a token by TOTP, reconciled with Dhan, the feed connected and subscribed")
        assert self.engine.actor("execution").trading_enabled
        # The day's token, by TOTP, at 08:30 (a renewal before it, 2 h before yesterday's expired,
        # is fine), valid at Dhan.
        assert len(self.logins()) > logins and self.dhan.token_ok(self.dhan.issued[-1])
        (status,) = [s for t, s in self.engine.seen_at(BrokerSessionStatus) if t == at_ist(day, 8, 30)]
        assert status.ok and status.expires_ns > at_ist(day, 16, 0), status

    def logins(self) -> list[tuple[str, int]]:
        """Logins by TOTP that Dhan granted."""
        return [call for call in self.dhan.auth_calls if call == ("generateAccessToken", 200)]

    def round_trip(self, day: dt.date) -> None:
        """10:00 the strategy buys a lot, 11:00 it sells it; Dhan fills both."""
        before = len(self.placed())
        self.engine.advance_to(at_ist(day, 10, 0))
        buy = self.wait_placed(before + 1, f"{day} 10:00: the buy at Dhan")
        assert buy["transactionType"] == "BUY" and buy["securityId"] == str(self.engine.instrument(SYMBOL).security_id)
        self.fill(buy)
        assert self.held() == buy["quantity"]
        self.engine.advance_to(at_ist(day, 11, 0))
        sell = self.wait_placed(before + 2, f"{day} 11:00: the sell at Dhan")
        assert sell["transactionType"] == "SELL"
        self.fill(sell)
        assert self.held() == 0

    def post_close(self, day: dt.date) -> dict[str, Any]:
        """15:40 post-close: the day's summary at the webhook, its trades and charges the ledger's;
        the day's tasks done."""
        self.engine.advance_to(at_ist(day, 15, 41))
        (alert,) = self.wait_alert(f"day summary {day.isoformat()}", f"{day}: the day's summary at the webhook")
        fills = self.fills_on(day)
        charges = sum(f.charges_paise for f in fills)
        assert f"{len(fills)} trades, charges Rs {charges // 100:,}.{charges % 100:02d}" in alert["message"], alert
        self.engine.pump(lambda: {"cancel_day_orders", "summary"} <= set(self.tasks(day)),
                         f"{day}: the post-close tasks done")
        assert all(ok for _actor, ok in self.tasks(day).values()), self.tasks(day)
        return alert

    def night(self, day: dt.date) -> None:
        """17:00 the feed disconnects until the next pre-open."""
        self.engine.advance_to(at_ist(day, 17, 1))
        self.engine.pump(lambda: self.feed.open_connections() == 0, f"{day} night: the feed disconnected")


@pytest.fixture
def week(tmp_path: Path) -> Iterator[Week]:
    user_dir = tmp_path / "strategies"
    user_dir.mkdir()
    (user_dir / "week_trader.py").write_text(WEEK_TRADER)
    # No token: the client id, the PIN and the TOTP secret; the venue logs in by itself.
    credentials = tmp_path / "dhan.toml"
    credentials.write_text(f'client_id = "{CLIENT_ID}"\npin = "{PIN}"\ntotp_secret = "{TOTP_SECRET}"\n')
    os.chmod(credentials, 0o600)
    data = tmp_path / "data"
    engine: SimEngine | None = None
    start_ns = at_ist(MONDAY, 8, 0)

    def dhan_now_s() -> float:
        """Dhan's clock agrees with the engine's (TOTP windows, token expiries)."""
        return (engine.now_ns() if engine is not None else start_ns) / NS_PER_S

    with FakeDhan(now_s=dhan_now_s, token_lifetime_s=DHAN_TOKEN_LIFETIME_S) as dhan, \
            FakeDhanFeed(token_check=dhan.token_ok, client_id=CLIENT_ID, stream_interval_s=0.01) as feed, \
            Webhook() as hook, MasterServer() as masters:
        download = {"url": masters.url, "min_rows": 100}
        # The last good master, from the previous week's last trading day (a Thursday: Friday
        # 25 December is a holiday).
        masters.serve(sample_master_text(LAST_WEEK).encode())
        refresh_master(MasterDownloadConfig(**download), instruments_dir(data), at_ist(LAST_WEEK, 8, 30))
        cfg = sim_config(
            ACTORS,
            credentials={"file": str(credentials)},
            instruments={"master": "dhan", "download": download},
            calendar={"holidays": [{"date": TUESDAY.isoformat(), "name": "rehearsal holiday"}]},
            # The post-close backup verifies its copy in a child process: left out to keep this
            # test in one process (test_daily_schedule covers it).
            schedule={"backup_keep_days": 0},
            feed={"source": "dhan", "dhan": {"url": feed.url, "mode": "quote", "instruments": [SYMBOL]}},
            # A 5 s backstop poll instead of 50 ms: the venue also wakes execution through its fd.
            execution={"venue": "dhan", "dhan": {"rest_url": dhan.rest_url, "order_update_url": dhan.ws_url,
                                                 "auth_url": dhan.auth_url, "poll_interval_s": 5.0}},
            notify={"urls": [hook.url()]},
            strategy={"user_dir": str(user_dir), "instances": [
                {"name": STRATEGY, "kind": "week_trader", "instrument": SYMBOL},
                # Wednesday only, 11:30 and 12:00, on the nearest NIFTY future of the day's master.
                {"name": ROLL, "kind": "week_trader", "instrument": SYMBOL,
                 "params": {"weekdays": [2], "buy_at_min": [690], "sell_at_min": [720], "future_of": "NIFTY"}}]})
        engine = SimEngine(data, start_ns, ACTORS, cfg, schedule=True)

        def logging_in() -> bool:
            session = engine.actor("execution").venue.session if "execution" in engine.host.actors else None
            return session is not None and session.in_flight

        # Dhan checks a login's TOTP against its clock: the login completes at the simulated
        # instant it was sent, also when a timer sends it (a renewal at night or on the holiday).
        engine.hold_clock_while(logging_in, "a login at Dhan")
        try:
            yield Week(engine, dhan, feed, hook, masters)
        finally:
            engine.close()


def test_a_week_of_unattended_live_trading_on_the_simulated_clock(week: Week) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    engine, dhan, feed = week.engine, week.dhan, week.feed
    assert week.phases(SUNDAY) == [("night", False)] and feed.connections == 0  # started at night

    # Monday -------------------------------------------------------------------------------------
    # Started without a token: a login at once (nothing trades at night), and the pre-open's.
    engine.pump(lambda: week.logins(), "the login at start")
    dhan.token_lifetime_s = MONDAY_TOKEN_LIFETIME_S
    week.pre_open(MONDAY)
    dhan.token_lifetime_s = DHAN_TOKEN_LIFETIME_S
    assert not week.placed()
    # Within 30 days of the library's last date: the operator is told, once.
    (calendar_alert,) = week.wait_alert(CALENDAR_ALERT, "the calendar warning at start")
    assert "ends on 2026-12-31 (3 days left)" in calendar_alert["message"]

    engine.advance_to(at_ist(MONDAY, 10, 0))
    buy = week.wait_placed(1, "Monday 10:00: the buy at Dhan")
    week.fill(buy)
    assert week.held() == buy["quantity"] == 1

    # 11:00, kill -9 of execution while Dhan holds its answer to the sell: the order is at Dhan and
    # trades while execution is down. The fresh instance finds it by correlation id, never places
    # it twice, and records its one fill.
    dhan.hold_next_place()
    engine.advance_to(at_ist(MONDAY, 11, 0))
    engine.pump(lambda: dhan.holding, "Monday 11:00: the sell at Dhan, its answer held")
    sell = week.placed()[-1]
    assert sell["transactionType"] == "SELL"
    (row,) = dhan.order_by_correlation(sell["correlationId"])
    # Acknowledged on the order stream at most (the REST answer never comes): not filled.
    assert week.order_state(sell["correlationId"]) in (OrderState.SUBMITTED, OrderState.ACCEPTED)
    engine.kill("execution")
    dhan.trade(row["orderId"], row["quantity"], SELL_FILL_PAISE)
    dhan.release_holds()
    engine.restart("execution")
    engine.pump(lambda: week.order_state(sell["correlationId"]) is OrderState.FILLED,
                "the sell placed before the kill FILLED after the restart")
    sells = [f for f in week.facts()["fills"].values() if f.client_order_id == sell["correlationId"]]
    assert [(f.fill_id, f.qty_units, f.price_paise) for f in sells] == [
        (f"{row['orderId']}-{row['quantity']}", row["quantity"], SELL_FILL_PAISE)]
    assert len(dhan.order_by_correlation(sell["correlationId"])) == 1 and len(week.placed()) == 2
    assert week.held() == 0

    # 14:00 a lot bought; at 14:05, 2 h before its token expires, the venue renews it. Dhan trades
    # the buy the moment the new token replaced the old one (the order stream logged in with the
    # old token is closing, the new one not up yet): the fill reaches the ledger once, through the
    # reconciliation that follows the new stream.
    engine.advance_to(at_ist(MONDAY, 14, 0))
    buy = week.wait_placed(3, "Monday 14:00: the buy at Dhan")
    logins = len(week.logins())
    dhan.on_issue.append(lambda: dhan.trade(buy["orderId"], buy["quantity"], BUY_FILL_PAISE))
    engine.advance_to(at_ist(MONDAY, 14, 5))
    engine.pump(lambda: week.order_state(buy["correlationId"]) is OrderState.FILLED,
                "Monday 14:05: the token renewed, the buy traded around it FILLED in the ledger")
    dhan.on_issue.clear()
    assert len(week.logins()) == logins + 1
    renewed = [s for t, s in engine.seen_at(BrokerSessionStatus) if t >= at_ist(MONDAY, 14, 5)]
    assert renewed and renewed[-1].ok and renewed[-1].expires_ns > at_ist(TUESDAY, 14, 0)
    assert [f.qty_units for f in week.facts()["fills"].values() if f.client_order_id == buy["correlationId"]] == [1]
    assert week.held() == 1
    engine.advance_to(at_ist(MONDAY, 15, 25))
    square_off = week.wait_placed(4, "Monday 15:25: the square-off at Dhan")
    assert square_off["transactionType"] == "SELL" and square_off["quantity"] == 1
    (t, action), = [(t, a) for t, a in engine.seen_at(RiskAction) if a.action == "SQUARE_OFF"]
    assert t == at_ist(MONDAY, 15, 25) and action.strategy == STRATEGY
    week.fill(square_off)
    assert week.held() == 0

    week.post_close(MONDAY)
    assert len(week.fills_on(MONDAY)) == 4

    # A quiet night: the feed disconnected, nothing placed, nothing published about orders, one
    # alert: the calendar's daily one, after midnight.
    week.night(MONDAY)
    alerts_before, fills_before, connections = len(week.alerts()), len(engine.seen(Fill)), feed.connections
    engine.advance_to(at_ist(TUESDAY, 8, 0))
    (night,) = week.wait_alert("(2 days left)", "the calendar's alert of the new day")
    assert week.alerts()[alerts_before:] == [night]

    # Tuesday, a configured holiday: skipped (the master refreshed, nothing else; the feed stays
    # disconnected, so the strategy sees no price and nothing reaches Dhan).
    week.masters.serve(sample_master_text(TUESDAY).encode())
    engine.advance_to(at_ist(TUESDAY, 23, 0))
    assert week.phases(TUESDAY) == [("pre_open", False), ("night", False)]
    assert week.tasks(TUESDAY) == {"instrument_master": ("supervisor", True)}
    assert engine.seen(InstrumentMasterStatus)[-1].master_date == TUESDAY.isoformat()
    assert feed.connections == connections and len(week.placed()) == 4 and len(engine.seen(Fill)) == fills_before
    # Monday's renewed token expires on Tuesday at 14:05: renewed 2 h before, without a pre-open.
    renewals = [(t, s) for t, s in engine.seen_at(BrokerSessionStatus) if ist_date(t) == TUESDAY]
    assert [(t, s.ok) for t, s in renewals] == [(at_ist(TUESDAY, 12, 5), True)], renewals

    # Wednesday: trading again, on the day's master with a contract Monday's did not list ----------
    monday_table = engine.actor("risk").table
    week.pre_open(WEDNESDAY)
    week.round_trip(WEDNESDAY)
    engine.advance_to(at_ist(WEDNESDAY, 11, 30))
    roll_buy = week.wait_placed(7, "Wednesday 11:30: the roll strategy's buy of the nearest NIFTY future")
    future = engine.actor("risk").table.get(2, int(roll_buy["securityId"]))
    assert future is not None and future.symbol == "NIFTY-Jan2027-FUT", future
    assert monday_table.get(future.segment, future.security_id) is None  # new in Wednesday's master
    assert roll_buy["quantity"] == future.lot_size_units
    week.fill(roll_buy)
    engine.advance_to(at_ist(WEDNESDAY, 12, 0))
    week.fill(week.wait_placed(8, "Wednesday 12:00: the roll strategy's sell"))
    assert week.held(ROLL) == 0
    week.post_close(WEDNESDAY)
    week.night(WEDNESDAY)

    # Thursday passes untraded (the test serves no prices); Friday 2027-01-01 is past the library's
    # data: the fallback calendar opens it (a weekday, not a fixed-date holiday) and the operator is
    # told.
    week.pre_open(THURSDAY)
    week.night(THURSDAY)
    week.pre_open(FRIDAY)
    assert week.phases(FRIDAY)[0] == ("pre_open", True)
    fallback = week.wait_alert("has no data past 2026-12-31", "Friday: the fallback calendar alert")
    assert fallback[0]["type"] == "failure"
    week.round_trip(FRIDAY)
    week.post_close(FRIDAY)

    # Nothing went wrong all week: no kill switch, no failed login, no rejected order, no stall.
    for needle in ("kill switch", "token renewal failed", "order rejected", "feed stalled", "failed"):
        assert not week.hook.find(needle), week.hook.find(needle)
    facts = week.facts()
    assert week.held() == 0 and week.held(ROLL) == 0
    assert all(o.state is OrderState.FILLED for o in facts["orders"].values()), facts["orders"]
    assert engine.actor("execution").ledger.verify() == []
    print(f"the week simulated in {time.perf_counter() - started:.1f} s ({time.process_time() - cpu:.1f} s of CPU)")
