"""The daemon on the live Dhan venue, against a loopback fake Dhan driven through the real dhanhq
SDK: funds come from fundlimit, orders go out with our client order id as correlationId, fills
arrive on the order-update stream and land in the ledger; the token never reaches the log."""

from __future__ import annotations

import shutil
import time

from engine.ledger import LedgerReader, ledger_dir
from tests.support.daemon import Daemon, short_tmpdir
from tests.support.fake_dhan import CLIENT_ID, TOKEN, FakeDhan


def _config(fake: FakeDhan) -> str:
    return f"""
[engine]
actors = ["feed", "book", "strategy", "risk", "execution"]
[log]
format = "json"
[feed.synthetic]
rate_per_s = 200
underlyings = []
stocks = ["RELIANCE"]
[risk]
market_hours = "always"
[risk.limits]
max_orders_per_second = 1000
max_orders_per_day = 100000
max_trades_per_day = 100000
[execution]
venue = "dhan"
[execution.dhan]
rest_url = "{fake.rest_url}"
order_update_url = "{fake.ws_url}"
order_book_poll_s = 0.2
[[strategy.instances]]
name = "probe"
kind = "probe"
instrument = "RELIANCE"
params = {{ every_n_ticks = 40 }}
"""


def test_live_venue_places_through_dhanhq_and_fills_come_from_the_order_stream():
    root = short_tmpdir()
    try:
        with FakeDhan() as fake:
            d = Daemon(root, _config(fake), env={"SHIKRA_DHAN_CLIENT_ID": CLIENT_ID,
                                                 "SHIKRA_DHAN_ACCESS_TOKEN": TOKEN}).start()
            try:
                d.wait_running()
                traded: set[str] = set()
                deadline = time.monotonic() + 30
                while len(traded) < 3 and time.monotonic() < deadline:
                    for body in fake.place_requests():
                        for row in fake.order_by_correlation(body["correlationId"]):
                            if row["orderId"] not in traded and row["orderStatus"] in ("PENDING", "TRANSIT"):
                                fake.trade(row["orderId"], row["quantity"], 150050)
                                traded.add(row["orderId"])
                    time.sleep(0.1)
                assert len(traded) >= 3, d.log()[-3000:]
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    with LedgerReader.open(ledger_dir(d.data_dir)) as reader, reader.snapshot() as snap:
                        if len(snap.fills()) >= 3:
                            break
                    time.sleep(0.2)
                assert d.stop() == 0
            finally:
                d.reap()
            with LedgerReader.open(ledger_dir(d.data_dir)) as reader, reader.snapshot() as snap:
                fills = snap.fills()
                orders = snap.orders()
                facts = {"orders": orders, "fills": fills, "positions": snap.positions(), "wallet": snap.wallet(),
                         "verify": snap.verify(), "audit": list(snap.audit(0, 100000))}
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
