"""The daemon on the live Dhan venue, against a loopback fake Dhan driven through the real dhanhq
SDK: funds come from fundlimit, orders go out with our client order id as correlationId, fills
arrive on the order-update stream and land in the ledger; the token never reaches the log; a
protective stop resting at Dhan survives the daemon's death and is adopted after the restart; the
broker session renews itself mid-session without a missed fill."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import msgspec

from actors.execution.config import DhanVenueConfig
from actors.execution.config import ExecutionConfig
from actors.risk.config import RiskConfig
from actors.feed.config import DhanFeedConfig, FeedConfig
from actors.strategy.config import StrategyConfig, StrategyInstanceConfig
from engine.config import Config, CredentialsConfig
from engine.credentials import CLIENT_ID_ENV_VAR, PIN_ENV_VAR, TOKEN_ENV_VAR, TOTP_SECRET_ENV_VAR
from ipc.messages import OrderState, is_protective_stop
from tests.support.config import daemon_config, engine_section, strategy_instance, synthetic_feed, unlimited_limits
from tests.support.daemon import Daemon, short_tmpdir
from tests.support.fake_dhan import CLIENT_ID, PIN, TOKEN, TOTP_SECRET, FakeDhan
from tests.support.fake_dhan_feed import FakeDhanFeed
from tests.support.ledger import ledger_facts, read_ledger, wait_for_fills
from tests.support.wait import eventually

ENV = {"SHIKRA_DHAN_CLIENT_ID": CLIENT_ID, "SHIKRA_DHAN_ACCESS_TOKEN": TOKEN}
NO_ENV_CREDENTIALS = {CLIENT_ID_ENV_VAR: "", TOKEN_ENV_VAR: "", PIN_ENV_VAR: "", TOTP_SECRET_ENV_VAR: ""}


def _config(fake: FakeDhan, every_n_ticks: int = 40) -> Config:
    return daemon_config(
        feed=synthetic_feed(["RELIANCE"], rate_per_s=200),
        risk=RiskConfig(market_hours="always", limits=unlimited_limits()),
        execution=ExecutionConfig(venue="dhan", dhan=DhanVenueConfig(
            rest_url=fake.rest_url, order_update_url=fake.ws_url, order_book_poll_s=0.2)),
        strategy=StrategyConfig(instances=[
            strategy_instance("probe", "probe", "RELIANCE", every_n_ticks=every_n_ticks)]))


def test_live_venue_places_through_dhanhq_and_fills_come_from_the_order_stream():
    root = short_tmpdir()
    try:
        with FakeDhan() as fake:
            d = Daemon(root, _config(fake), env=ENV).start()
            try:
                d.wait_running()
                traded: set[str] = set()

                def trade_what_arrived() -> bool:  # Dhan fills every order placed so far, until three
                    for body in fake.place_requests():
                        for row in fake.order_by_correlation(body["correlationId"]):
                            if row["orderId"] not in traded and row["orderStatus"] in ("PENDING", "TRANSIT"):
                                fake.trade(row["orderId"], row["quantity"], 150050)
                                traded.add(row["orderId"])
                    return len(traded) >= 3

                d.eventually(trade_what_arrived, "three orders at Dhan to fill", 30.0)
                wait_for_fills(d, 3)
                shown = subprocess.run([sys.executable, "-m", "engine.cli", "status", "--config", str(d.config_path),
                                        "--data-dir", str(d.data_dir)], capture_output=True, text=True, timeout=30)
                assert "venue dhan: trading enabled; reconciled" in shown.stdout, shown.stdout + shown.stderr
                assert d.stop() == 0
            finally:
                d.reap()
            facts = ledger_facts(d.data_dir)
            fills = facts["fills"]
            assert len(fills) >= 3
            correlation_ids = {body["correlationId"] for body in fake.place_requests()}
            assert {f.client_order_id for f in fills.values()} <= correlation_ids  # our id is the correlationId
            assert all(f.price_paise == 150050 for f in fills.values())
            # Cash started from the broker's balance: the books balance from there to the paisa.
            start = 25_000_055
            cash = start + sum((-1 if f.side == "BUY" else 1) * f.qty_units * f.price_paise - f.charges_paise
                               for f in fills.values())
            assert facts["wallet"].cash_paise == cash
            assert facts["verify"] == []
            assert TOKEN not in d.log() and CLIENT_ID not in d.log()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_execution_killed_mid_order_finds_it_at_dhan_on_restart_never_twice_never_lost():
    """kill -9 of execution while Dhan holds the answer to a place: the order is at Dhan, the
    ledger has it SUBMITTED with no Dhan order id, and it traded in full while execution was
    down. The restarted actor looks it up by correlation id and reconciles: one order at Dhan,
    one fill in the ledger, every order at Dhan one of ours."""
    root = short_tmpdir()
    try:
        with FakeDhan() as fake:
            fake.hold_next_place()
            d = Daemon(root, _config(fake, every_n_ticks=200), env=ENV).start()
            try:
                d.wait_running()
                d.eventually(lambda: fake.holding, "the first place held at Dhan", 30.0)
                held = fake.place_requests()[0]["correlationId"]

                def orders_now() -> dict:
                    return read_ledger(d.data_dir, lambda snap: snap.orders())

                (row,) = fake.order_by_correlation(held)
                victim = d.actor("execution").pid
                os.kill(victim, signal.SIGKILL)
                fake.trade(row["orderId"], row["quantity"], 150050)  # while execution is down
                fake.release_holds()
                d.wait_for(lambda s: next(a for a in s.actors if a.name == "execution").pid not in (0, victim)
                           and next(a for a in s.actors if a.name == "execution").state == "ready",
                           what="execution back")
                d.eventually(lambda: orders_now()[held].state is OrderState.FILLED, "the held order FILLED", 30.0)
                # The restarted execution trades on: two more orders reach Dhan and the ledger.
                after = len(orders_now())
                d.eventually(lambda: len(orders_now()) >= after + 2, "two more orders after the restart", 30.0)
                assert d.stop() == 0
            finally:
                d.reap()
            facts = ledger_facts(d.data_dir)
            orders, fills = facts["orders"], facts["fills"]
            assert [b for b in fake.place_requests() if b["correlationId"] == held] == [fake.place_requests()[0]]
            assert len(fake.order_by_correlation(held)) == 1
            held_fills = [f for f in fills.values() if f.client_order_id == held]  # type: ignore[attr-defined]
            assert [(f.fill_id, f.qty_units, f.price_paise) for f in held_fills] == [
                (f"{row['orderId']}-{row['quantity']}", row["quantity"], 150050)]
            at_dhan = [o["correlationId"] for o in fake.orders.values()]
            assert set(at_dhan) <= set(orders)  # type: ignore[arg-type]  # nothing at Dhan the ledger lost
            assert len(at_dhan) == len(set(at_dhan))  # nothing at Dhan twice
            assert not [c for c in orders if c.startswith("EXT-")]  # type: ignore[attr-defined]
            assert facts["verify"] == []
            log = d.log()
            assert '"illegal_transition"' not in log  # a venue answer the order state machine refused
            assert TOKEN not in log
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _protected_probe_config(fake: FakeDhan, stop_loss_paise: int) -> Config:
    """One long lot of RELIANCE from the probe, protected by a stop resting at Dhan."""
    probe = StrategyInstanceConfig(name="probe", kind="probe", instrument="RELIANCE", protective_stop="venue",
                                   stop_step_paise=5, params={"every_n_ticks": 20, "max_orders": 1,
                                                              "stop_loss_paise": stop_loss_paise})
    return msgspec.structs.replace(_config(fake), strategy=StrategyConfig(instances=[probe]))


def _stop_places(fake: FakeDhan) -> list[dict]:
    return [b for b in fake.place_requests() if b["orderType"] == "STOP_LOSS_MARKET"]


def test_a_daemon_killed_with_a_protected_position_leaves_the_stop_at_dhan_and_the_restart_adopts_it():
    """kill -9 of the whole daemon with an open long protected by a venue stop: the stop keeps
    resting at Dhan; the restarted daemon adopts it (no second stop placed, one stop order in the
    ledger), moves it when the strategy's stop moves (restarted with a wider stop distance) and
    books its fill when Dhan triggers it: the position closes once."""
    root = short_tmpdir()
    try:
        with FakeDhan() as fake:
            d = Daemon(root, _protected_probe_config(fake, stop_loss_paise=20_00), env=ENV).start()
            try:
                d.wait_running()
                (entry,) = d.eventually(lambda: [b for b in fake.place_requests() if b["orderType"] == "MARKET"],
                                        "the probe's entry at Dhan", 30.0)
                (row,) = fake.order_by_correlation(entry["correlationId"])
                fake.trade(row["orderId"], row["quantity"], 150050)
                (stop,) = d.eventually(fake.resting_stops, "the protective stop resting at Dhan", 30.0)
            finally:
                d.reap()  # kill -9 of the supervisor and every actor
            (at_kill,) = fake.resting_stops()
            assert at_kill["orderId"] == stop["orderId"]  # still protected
            puts = f"/v2/orders/{stop['orderId']}"
            moved_before = len(fake.requests_of("PUT", puts))  # the first daemon trailed it already
            assert (stop["transactionType"], stop["productType"], stop["quantity"]) == ("SELL", "INTRADAY",
                                                                                       row["quantity"])
            d = Daemon(root, _protected_probe_config(fake, stop_loss_paise=30_00), env=ENV).start()
            try:
                d.wait_running()
                moved = d.eventually(lambda: fake.requests_of("PUT", puts)[moved_before:],
                                     "the adopted stop moved to the wider distance", 60.0)
                assert moved[0]["triggerPrice"] < at_kill["triggerPrice"]

                def recorded_where_it_rests() -> dict | None:
                    # Dhan applied the move; trigger it only once the engine has booked the move's
                    # answer too (a fill that overtakes the answer leaves the ledger's last
                    # confirmed trigger, which is right but not what this test compares).
                    (resting,) = fake.resting_stops()
                    order = read_ledger(d.data_dir, lambda snap: snap.orders())[stop["correlationId"]]
                    return resting if order.spec.trigger_price_paise == round(resting["triggerPrice"] * 100) else None
                resting = d.eventually(recorded_where_it_rests, "the adopted stop's move booked in the ledger", 30.0)
                assert resting["orderId"] == stop["orderId"]
                # The stop trails on while the test looks: Dhan trades it below wherever it rests now.
                fill_paise = round(resting["triggerPrice"] * 100) - 100
                assert fake.trigger_stops(fill_paise) == [stop["orderId"]]

                def stop_filled() -> bool:
                    orders = read_ledger(d.data_dir, lambda snap: snap.orders())
                    return orders[stop["correlationId"]].state is OrderState.FILLED
                d.eventually(stop_filled, "the stop's fill in the ledger", 30.0)
                assert d.stop() == 0
            finally:
                d.reap()
            facts = ledger_facts(d.data_dir)
            assert len(_stop_places(fake)) == 1  # adopted, never placed twice
            stops = [o for o in facts["orders"].values() if is_protective_stop(o.intent_id)]
            assert [(o.client_order_id, o.state, o.spec.trigger_price_paise) for o in stops] == [
                (stop["correlationId"], OrderState.FILLED, round(fake.orders[stop["orderId"]]["triggerPrice"] * 100))]
            assert sorted((f.side, f.qty_units, f.price_paise) for f in facts["fills"].values()) == [
                ("BUY", row["quantity"], 150050), ("SELL", row["quantity"], fill_paise)]
            assert all(p.net_qty_units == 0 for p in facts["positions"].values())
            assert len(fake.orders) == 2 and not fake.resting_stops()
            assert facts["verify"] == []
            assert '"illegal_transition"' not in d.log()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_token_renewed_mid_session_reaches_rest_stream_and_feed_without_a_missed_fill(root) -> None:
    """The credentials file holds the PIN and TOTP secret and a token that expires in 45 s; with
    renew_before_s 30 the venue logs in by TOTP mid-session. The fake replaces the token (the old
    one's order stream is closed) and a pending order trades at that moment, while no stream of
    ours listens: the fill still reaches the ledger once (the reconciliation after the new stream is
    up reads the trade book). The feed reconnects with the new token; trading goes on with it; the
    kill switch stays released; no token in the log."""
    with FakeDhan() as fake:
        with FakeDhanFeed(client_id=CLIENT_ID, token_check=fake.token_ok, stream_interval_s=0.05) as feed:
            first = fake.issue_token(lifetime_s=45)
            secrets = root / "dhan.toml"
            secrets.write_text(f'client_id = "{CLIENT_ID}"\naccess_token = "{first}"\npin = "{PIN}"\n'
                               f'totp_secret = "{TOTP_SECRET}"\n')
            os.chmod(secrets, 0o600)
            cfg = daemon_config(
                engine=engine_section(["feed", "book", "strategy", "risk", "execution"]),
                feed=FeedConfig(source="dhan", dhan=DhanFeedConfig(url=feed.url, mode="full", instruments=["RELIANCE"],
                                                                   stall_timeout_s=60.0)),
                risk=RiskConfig(market_hours="always", limits=unlimited_limits()),
                execution=ExecutionConfig(venue="dhan", dhan=DhanVenueConfig(
                    rest_url=fake.rest_url, order_update_url=fake.ws_url, auth_url=fake.auth_url,
                    order_book_poll_s=0.2, renew_before_s=30.0)),
                strategy=StrategyConfig(instances=[strategy_instance("probe", "probe", "RELIANCE", every_n_ticks=20)]),
                credentials=CredentialsConfig(file=str(secrets)))
            around: list[str] = []

            def pending() -> list[dict]:
                with fake.lock:
                    return [dict(o) for o in fake.orders.values() if o["orderStatus"] == "PENDING"]

            def wait_for_a_pending_order() -> None:  # the login waits (old token still good) until one rests
                eventually(pending, "an order resting at Dhan when the login comes", 30.0)

            def trade_it() -> None:  # the old token is gone and its stream closing: nobody hears this push
                order = pending()[0]
                fake.trade(order["orderId"], order["quantity"], 150050)
                around.append(order["correlationId"])

            fake.before_issue.append(wait_for_a_pending_order)
            fake.on_issue.append(trade_it)
            d = Daemon(root, cfg, env=NO_ENV_CREDENTIALS).start()
            try:
                d.wait_running()
                # (auth_calls is written once the login is answered: after the trade around it.)
                d.eventually(lambda: fake.auth_calls, "the TOTP login before the token expires", 60.0)
                second = fake.issued[1]
                assert around and fake.auth_calls == [("generateAccessToken", 200)] and len(fake.issued) == 2
                # The fill pushed during the swap lands in the ledger (from the trade book).
                d.eventually(lambda: any(f.client_order_id == around[0] for f in
                                         read_ledger(d.data_dir, lambda s: s.fills()).values()),
                             "the fill traded around the renewal", 60.0)
                # The feed reconnected with the new token.
                d.eventually(lambda: feed.queries[-1]["token"] == second and feed.open_connections() == 1,
                             "the feed on the new token", 30.0)
                # The order stream and REST go on with the new token: one more order placed and filled.
                placed_before = len(fake.place_requests())
                d.eventually(lambda: len(fake.place_requests()) > placed_before and pending(), "a new order", 30.0)
                later = pending()[-1]
                fake.trade(later["orderId"], later["quantity"], 150100)
                d.eventually(lambda: any(f.client_order_id == later["correlationId"] for f in
                                         read_ledger(d.data_dir, lambda s: s.fills()).values()),
                             "a fill after the renewal", 30.0)
                d.eventually(lambda: fake.stream_tokens == [second], "the order stream on the new token only", 30.0)
                status = d.status()
                assert status is not None and not status.kill_switch.engaged
                assert d.stop() == 0
            finally:
                d.reap()
            facts = ledger_facts(d.data_dir)
            around_fills = [f for f in facts["fills"].values() if f.client_order_id == around[0]]
            assert len(around_fills) == 1 and around_fills[0].price_paise == 150050  # once, not twice
            assert facts["verify"] == []
            log = d.log()
            # (The PIN is masked where it could be shown, not in every line: six digits match timestamps.)
            assert first not in log and second not in log and TOTP_SECRET not in log
            assert '"broker_session_renewed"' in log
