"""Live P&L through the real API: positions and P&L marked to the marks execution publishes
(``Position.unrealised_pnl_paise``), per position, per strategy and in total, with today's
carried-in / traded-today split; hand-computed numbers. A ControlApi behind a real gRPC server on
a loopback port, the control actor's handlers fed execution's Position messages by hand, and the
``shikra`` CLI against it."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from actors.control.actor import ControlActor
from actors.control.auth import new_token
from actors.control.bridge import Bridge
from actors.control.config import ControlConfig
from actors.control.peers import MARK_SOURCE
from actors.control.server import ServerThread
from actors.control.service import ControlApi
from engine import cli
from engine.control_api import control_pb2 as pb
from engine.control_api import control_pb2_grpc as rpc
from engine.ledger import Ledger, LedgerConfig, TokenIssued, UserAdded, ledger_dir
from engine.logs import get_logger
from engine.model.ist import ist_ns
from ipc.messages import Fill, Position
from tests.support.strategy_harness import TRADING_DAY, sample_table
from tests.unit.actors.control.test_market_calls import DrainThread, FakeContext

NOW = ist_ns(TRADING_DAY, dt.time(10, 0))
YESTERDAY = ist_ns(TRADING_DAY - dt.timedelta(days=1), dt.time(11, 0))
TODAY_0930 = ist_ns(TRADING_DAY, dt.time(9, 30))


def fill(n: int, strategy: str, inst: Any, side: str, qty: int, price: int, ts: int, product: str,
         charges: int) -> Fill:
    return Fill(fill_id=f"F{n}", client_order_id=f"C{n}", venue_order_id=f"V{n}", strategy=strategy,
                segment=inst.segment, security_id=inst.security_id, side=side,  # type: ignore[arg-type]
                qty_units=qty, price_paise=price, charges_paise=charges, ts_event_ns=ts, ts_init_ns=ts,
                product=product)  # type: ignore[arg-type]


class Served:
    def __init__(self, address: str, token: str, actor: ControlActor, table: Any) -> None:
        self.address, self.token, self.actor, self.table = address, token, actor, table
        self.channel = grpc.insecure_channel(address)
        self.portfolio = rpc.PortfolioServiceStub(self.channel)

    def call(self, method: str, request: Any) -> Any:
        return getattr(self.portfolio, method)(request, metadata=(("authorization", f"Bearer {self.token}"),),
                                               timeout=10.0)

    def cli(self, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
        monkeypatch.setenv("SHIKRA_TOKEN", self.token)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = cli.main([*argv, "--server", self.address])
        return code, out.getvalue()

    def publish(self, strategy: str, inst: Any, product: str, net: int, cost: int, unrealised: int, ts: int) -> None:
        """A marked position as execution publishes it (``on_position`` as the host calls it)."""
        self.actor.on_position(Position(strategy, inst.segment, inst.security_id, net, cost, 0, unrealised, 0, ts, ts,
                                        product))  # type: ignore[arg-type]


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    """s1 carried 10 RELIANCE CNC in at 1000.00, bought 5 more at 1020.00 today and sold 12 at
    1030.00; s2 sold 4 HDFCBANK INTRADAY at 1500.00 today."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    table = sample_table(tmp_path / "cache")
    rel, hdfc = table.by_symbol("RELIANCE"), table.by_symbol("HDFCBANK")
    issued = new_token()
    with Ledger.open(ledger_dir(data_dir), LedgerConfig()) as ledger:
        ledger.append([UserAdded(name="vic", role="viewer", by="test", ts_ns=1),
                       TokenIssued(token_sha256=issued.token_sha256, token_id=issued.token_id, name="vic", by="test",
                                   ts_ns=1)])
        seqs = ledger.append([fill(1, "s1", rel, "BUY", 10, 100_000, YESTERDAY, "CNC", 0),
                              fill(2, "s1", rel, "BUY", 5, 102_000, TODAY_0930, "CNC", 700),
                              fill(3, "s1", rel, "SELL", 12, 103_000, TODAY_0930 + 1, "CNC", 900),
                              fill(4, "s2", hdfc, "SELL", 4, 150_000, TODAY_0930 + 2, "INTRADAY", 300)])
        assert all(seqs)
    settings = ControlConfig(listen="127.0.0.1:0", request_timeout_s=5.0)
    ctx = FakeContext()
    actor = ControlActor(ctx)  # type: ignore[arg-type]
    actor.settings = settings
    bridge = Bridge()
    drain = DrainThread(bridge)
    log = get_logger("control")
    api = ControlApi(settings, bridge, actor, data_dir, tmp_path / "run", table, log)
    actor.api = api
    server = ServerThread(api, settings, log)
    served = Served(server.start(), issued.token, actor, table)
    try:
        yield served
    finally:
        served.channel.close()
        server.stop()
        drain.close()
        bridge.close()


def test_positions_are_marked_at_executions_marks_and_unmarked_ones_say_so(served: Served) -> None:
    rel, hdfc = served.table.by_symbol("RELIANCE"), served.table.by_symbol("HDFCBANK")
    # The ledger's s1 position: 15 units at 1_510_000, 12 sold: cost 1_510_000 x 12 // 15 = 1_208_000
    # taken off, realised 12 x 103_000 - 1_208_000 = 28_000; 3 units left at 302_000.
    served.publish("s1", rel, "CNC", 3, 302_000, 3 * 104_000 - 302_000, NOW - 1)  # LTP 1040.00
    r = served.call("ListPositions", pb.ListPositionsRequest())
    s1, s2 = r.positions
    assert (s1.strategy, s1.net_qty_units, s1.open_cost_paise, s1.realised_pnl_paise) == ("s1", 3, 302_000, 28_000)
    assert (s1.marked, s1.mark_paise, s1.unrealised_pnl_paise, s1.mark_ts_ns) == (True, 104_000, 10_000, NOW - 1)
    assert (s2.strategy, s2.net_qty_units, s2.marked, s2.unrealised_pnl_paise) == ("s2", -4, False, 0)
    assert (r.realised_pnl_paise, r.unrealised_pnl_paise, r.charges_paise) == (28_000, 10_000, 1_900)
    assert r.total_pnl_paise == 28_000 + 10_000 - 1_900 and r.mark_source == MARK_SOURCE

    # A short marked at 1510.00: -4 x 151_000 + 600_000 = -4_000.
    served.publish("s2", hdfc, "INTRADAY", -4, -600_000, -4 * 151_000 + 600_000, NOW)
    r = served.call("ListPositions", pb.ListPositionsRequest(strategy="s2"))
    (s2,) = r.positions
    assert (s2.marked, s2.mark_paise, s2.unrealised_pnl_paise) == (True, 151_000, -4_000)
    assert (r.unrealised_pnl_paise, r.total_pnl_paise) == (-4_000, -4_000 - 300)


def test_a_position_that_moved_since_its_mark_is_marked_again_at_the_instruments_mark(served: Served) -> None:
    rel = served.table.by_symbol("RELIANCE")
    # Published before the sale (15 units at 1_510_000, LTP 1040.00): the ledger has 3 units now.
    served.publish("s1", rel, "CNC", 15, 1_510_000, 15 * 104_000 - 1_510_000, NOW - 5)
    (s1, _s2) = served.call("ListPositions", pb.ListPositionsRequest()).positions
    assert (s1.net_qty_units, s1.mark_paise, s1.unrealised_pnl_paise) == (3, 104_000, 3 * 104_000 - 302_000)


def test_pnl_per_strategy_and_total_with_the_day_and_carry_split(served: Served,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rel, hdfc = served.table.by_symbol("RELIANCE"), served.table.by_symbol("HDFCBANK")
    served.publish("s1", rel, "CNC", 3, 302_000, 10_000, NOW - 1)
    served.publish("s2", hdfc, "INTRADAY", -4, -600_000, -4_000, NOW)
    code, out = served.cli(["pnl", "--json"], monkeypatch)
    assert code == 0
    got = json.loads(out)
    s1, s2 = got["strategies"]
    # s1 today: the 10 carried units close first, at 1030.00: 10 x 103_000 - 1_000_000 = 30_000; then 2
    # of today's 5 (cost 510_000 x 2 // 5 = 204_000): 2_000; today's 3 left (306_000) at 1040.00: 6_000.
    assert s1 == {"strategy": "s1", "realised_pnl_paise": 28_000, "unrealised_pnl_paise": 10_000,
                  "charges_paise": 1_600, "net_pnl_paise": 36_400, "carry_pnl_paise": 30_000,
                  "day_pnl_paise": 8_000, "day_charges_paise": 1_600}
    assert s2 == {"strategy": "s2", "realised_pnl_paise": 0, "unrealised_pnl_paise": -4_000, "charges_paise": 300,
                  "net_pnl_paise": -4_300, "carry_pnl_paise": 0, "day_pnl_paise": -4_000, "day_charges_paise": 300}
    assert got["total"] == {"strategy": "TOTAL", "realised_pnl_paise": 28_000, "unrealised_pnl_paise": 6_000,
                            "charges_paise": 1_900, "net_pnl_paise": 32_100, "carry_pnl_paise": 30_000,
                            "day_pnl_paise": 4_000, "day_charges_paise": 1_900}
    assert got["net_pnl_paise"] == 32_100 and got["mark_source"] == MARK_SOURCE
    code, text = served.cli(["pnl"], monkeypatch)
    assert code == 0 and "UNREALISED" in text and "TODAY CARRY" in text and "marks: execution's marks" in text
    total_line = next(line for line in text.splitlines() if line.startswith("TOTAL"))
    assert "321.00" in total_line and "60.00" in total_line  # net and unrealised, in rupees


def test_positions_table_shows_mark_unrealised_and_where_the_mark_comes_from(served: Served,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rel = served.table.by_symbol("RELIANCE")
    served.publish("s1", rel, "CNC", 3, 302_000, 10_000, NOW - 1)
    code, text = served.cli(["positions"], monkeypatch)
    assert code == 0
    rel_line = next(line for line in text.splitlines() if "RELIANCE" in line)
    hdfc_line = next(line for line in text.splitlines() if "HDFCBANK" in line)
    assert rel_line.split()[3:7] == ["3", "1006.67", "1040.00", "100.00"]  # qty, avg, mark, unrealised
    assert hdfc_line.split()[5:7] == ["-", "-"]  # no mark yet: neither a mark nor an unrealised figure
    assert "unrealised 100.00" in text and "- : no mark yet" in text
