"""The daemon on the live Kite venue, against a loopback fake Kite driven through the real
kiteconnect SDK: a login cached by ``shikra kite login`` is used, orders go out tagged with our
client order id, fills arrive as ticker postbacks and land in the ledger, cash follows Kite's
margins, ``shikra status`` shows the venue, and neither the token nor the API key reaches the log."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from actors.execution.config import ExecutionConfig, KiteVenueConfig
from actors.execution.kite_broker_session import token_expiry_ns
from actors.execution.kite_wire import client_order_id_of_tag
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig
from engine.kite_session import API_KEY_ENV_VAR, KiteSession, write_session
from tests.support.config import daemon_config, strategy_instance, synthetic_feed, unlimited_limits
from tests.support.daemon import Daemon, short_tmpdir
from tests.support.fake_kite import API_KEY, TOKEN, FakeKite
from tests.support.ledger import ledger_facts, wait_for_fills


def test_kite_venue_places_tagged_orders_and_fills_come_from_postbacks():
    root = short_tmpdir()
    try:
        with FakeKite() as fake:
            now = time.time_ns()
            write_session(root / "data", KiteSession(api_key=API_KEY, access_token=TOKEN, user_id="ZX1234",
                                                     obtained_ns=now, expires_ns=token_expiry_ns(now)))
            config = daemon_config(
                feed=synthetic_feed(["RELIANCE"], rate_per_s=200),
                risk=RiskConfig(market_hours="always", limits=unlimited_limits()),
                execution=ExecutionConfig(venue="kite", kite=KiteVenueConfig(
                    rest_url=fake.rest_url, ticker_url=fake.ticker_url, order_book_poll_s=0.2)),
                strategy=StrategyConfig(instances=[strategy_instance("probe", "probe", "RELIANCE", every_n_ticks=40)]))
            d = Daemon(root, config, env={API_KEY_ENV_VAR: API_KEY}).start()
            try:
                d.wait_running()
                traded: set[str] = set()

                def trade_what_arrived() -> bool:  # Kite fills every order placed so far, until three
                    for oid, row in list(fake.orders.items()):
                        if oid not in traded and row["status"] == "OPEN":
                            fake.trade(oid, row["quantity"], 150050)
                            traded.add(oid)
                    return len(traded) >= 3

                d.eventually(trade_what_arrived, "three orders at Kite to fill", 30.0)
                wait_for_fills(d, 3)
                shown = subprocess.run([sys.executable, "-m", "engine.cli", "status", "--config", str(d.config_path),
                                        "--data-dir", str(d.data_dir)], capture_output=True, text=True, timeout=30)
                assert "venue kite: trading enabled; reconciled" in shown.stdout, shown.stdout + shown.stderr
                assert d.stop() == 0
            finally:
                d.reap()
            facts = ledger_facts(d.data_dir)
            fills = facts["fills"]
            assert len(fills) >= 3
            tagged = {client_order_id_of_tag(body["tag"]) for body in fake.place_requests()}
            assert {f.client_order_id for f in fills.values()} <= tagged  # our id is the tag
            assert all(f.price_paise == 150050 for f in fills.values())
            start = 25_000_055  # Kite's equity margin: the ledger's cash follows it
            cash = start + sum((-1 if f.side == "BUY" else 1) * f.qty_units * f.price_paise - f.charges_paise
                               for f in fills.values())
            assert facts["wallet"].cash_paise == cash
            assert facts["verify"] == []
            assert TOKEN not in d.log() and API_KEY not in d.log()
    finally:
        shutil.rmtree(root, ignore_errors=True)
