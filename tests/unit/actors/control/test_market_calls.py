"""Quotes and priced chains through the real API: a ControlApi behind a real gRPC server on a
loopback port, a ledger with a viewer's token, and the control actor's own market side (fed its
bus messages by hand) answering on a drain thread; the ``shikra`` CLI against it."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import select
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from actors.control.actor import ControlActor
from actors.control.auth import new_token
from actors.control.bridge import Bridge
from actors.control.config import ControlConfig
from actors.control.market import MarketStore
from actors.control.server import ServerThread
from actors.control.service import ControlApi
from engine import cli
from engine.control_api import control_pb2 as pb
from engine.control_api import control_pb2_grpc as rpc
from engine.control_api.quoting import QUOTE_CHARS
from engine.ledger import Ledger, LedgerConfig, TokenIssued, UserAdded, ledger_dir
from engine.logs import get_logger
from engine.model.instruments import InstrumentTable
from engine.model.ist import NS_PER_S, ist_ns
from ipc import codec
from ipc.messages import Depth, OptionChainSnapshot, PrevClose, Quote, Tick
from tests.support.strategy_harness import TRADING_DAY, sample_table

NOW = ist_ns(TRADING_DAY, dt.time(10, 0))
STALE_S = 10.0


class FakeContext:
    name = "control"
    sender = ""

    def __init__(self) -> None:
        self.log = get_logger("control")
        self.now = NOW
        self.published: list[tuple[bytes, Any]] = []

    def publish(self, topic: bytes, msg: Any) -> None:
        self.published.append((topic, msg))

    def now_ns(self) -> int:
        return self.now


class DrainThread:
    """The actor loop's stand-in: runs what the gRPC side posts to the bridge."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if select.select([self.bridge.fileno()], [], [], 0.05)[0]:
                self.bridge.drain(lambda exc: None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


class Served:
    def __init__(self, address: str, token: str, actor: ControlActor, table: InstrumentTable) -> None:
        self.address = address
        self.token = token
        self.actor = actor
        self.table = table
        self.channel = grpc.insecure_channel(address)
        self.market = rpc.MarketServiceStub(self.channel)

    def call(self, method: str, request: Any) -> Any:
        return getattr(self.market, method)(request, metadata=(("authorization", f"Bearer {self.token}"),),
                                            timeout=10.0)

    def cli(self, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
        monkeypatch.setenv("SHIKRA_TOKEN", self.token)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([*argv, "--server", self.address])
        return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def serving(root: Path) -> Iterator[Served]:
    data_dir = root / "data"
    data_dir.mkdir()
    issued = new_token()
    with Ledger.open(ledger_dir(data_dir), LedgerConfig()) as ledger:
        ledger.append([UserAdded(name="vic", role="viewer", by="test", ts_ns=1),
                       TokenIssued(token_sha256=issued.token_sha256, token_id=issued.token_id, name="vic", by="test",
                                   ts_ns=1)])
    settings = ControlConfig(listen="127.0.0.1:0", request_timeout_s=5.0, quote_stale_after_s=STALE_S)
    actor = ControlActor(FakeContext())  # type: ignore[arg-type]
    actor.settings = settings
    actor.market = MarketStore(settings.market_instruments)
    table = sample_table(root / "cache")
    bridge = Bridge()
    drain = DrainThread(bridge)
    log = get_logger("control")
    api = ControlApi(settings, bridge, actor, data_dir, root / "run", table, log)
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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("market")) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_market(served: Served) -> None:
    """Each test starts from a market the feed has said nothing about, at NOW."""
    served.actor.market = MarketStore(1_000)
    served.actor.ctx.now = NOW


def feed_reliance(s: Served, ltp: int, received_ns: int) -> int:
    inst = s.table.by_symbol("RELIANCE")
    assert inst is not None
    a = s.actor
    a.on_prev_close(PrevClose(inst.segment, inst.security_id, 140_000, 0, received_ns, received_ns))
    a.on_quote(Quote(inst.segment, inst.security_id, ltp, 10, 141_000, 52_000, 900, 1_100, 139_500, 140_000,
                     142_000, 139_000, received_ns - 5, received_ns))
    a.on_depth(Depth(inst.segment, inst.security_id, "both", [ltp - 5 * i for i in range(1, 6)], [10] * 5, [1] * 5,
                     [ltp + 5 * i for i in range(1, 6)], [20] * 5, [2] * 5, received_ns - 5, received_ns))
    return inst.security_id


def test_quote_has_price_change_depth_and_age(served: Served) -> None:
    sid = feed_reliance(served, 141_234, NOW - 2 * NS_PER_S)
    r = served.call("GetQuote", pb.GetQuoteRequest(instruments=[pb.InstrumentRef(symbol="RELIANCE")]))
    (q,) = r.quotes
    assert (q.symbol, q.segment, q.security_id, q.has_data) == ("RELIANCE", "NSE_EQ", sid, True)
    assert (q.ltp_paise, q.prev_close_paise, q.change_paise, q.change_bp) == (141_234, 140_000, 1_234, 88)
    assert (q.open_paise, q.high_paise, q.low_paise, q.volume_units) == (139_500, 142_000, 139_000, 52_000)
    assert (q.age_ns, q.stale) == (2 * NS_PER_S, False)
    assert [lv.price_paise for lv in q.bids] == [141_229] and len(q.asks) == 1  # the best level only
    deep = served.call("GetQuote", pb.GetQuoteRequest(instruments=[pb.InstrumentRef(segment="NSE_EQ",
                                                                                   security_id=sid)], depth=True))
    assert [lv.price_paise for lv in deep.quotes[0].asks] == [141_239, 141_244, 141_249, 141_254, 141_259]


def test_an_old_quote_is_stale_and_an_unstreamed_one_says_it_has_no_data(served: Served) -> None:
    feed_reliance(served, 139_000, NOW)
    ask = pb.GetQuoteRequest(instruments=[pb.InstrumentRef(symbol="RELIANCE"), pb.InstrumentRef(symbol="HDFCBANK")])
    clock = served.actor.ctx
    try:
        clock.now = NOW + int(STALE_S * NS_PER_S)  # exactly the threshold: not stale yet
        assert not served.call("GetQuote", ask).quotes[0].stale
        clock.now += 1
        old, never = served.call("GetQuote", ask).quotes
    finally:
        clock.now = NOW
    assert old.stale and old.age_ns == int(STALE_S * NS_PER_S) + 1
    assert old.change_paise == -1_000 and old.change_bp == -71
    assert (never.symbol, never.has_data, never.stale, never.ltp_paise) == ("HDFCBANK", False, True, 0)


def test_an_unknown_symbol_fails_the_call_naming_it_without_echoing_a_huge_one(served: Served) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        served.call("GetQuote", pb.GetQuoteRequest(instruments=[pb.InstrumentRef(symbol="RELIANCE"),
                                                                pb.InstrumentRef(symbol="NOSUCH")]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("instruments[1]: UNKNOWN_INSTRUMENT") and "NOSUCH" in caught.value.details()
    huge = "X" * 10_000
    with pytest.raises(grpc.RpcError) as caught:
        served.call("GetQuote", pb.GetQuoteRequest(instruments=[pb.InstrumentRef(symbol=huge)]))
    details = caught.value.details()
    assert "X" * QUOTE_CHARS in details and "X" * (QUOTE_CHARS + 1) not in details and "10,000 characters" in details


def test_quote_asks_for_one_to_a_hundred_instruments(served: Served) -> None:
    for refs in ([], [pb.InstrumentRef(symbol="RELIANCE")] * 101):
        with pytest.raises(grpc.RpcError) as caught:
            served.call("GetQuote", pb.GetQuoteRequest(instruments=refs))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def feed_nifty_chain(s: Served) -> tuple[int, list[int]]:
    spot = s.table.spot("NIFTY")
    expiry = s.table.nearest_expiry("NIFTY", TRADING_DAY)
    assert spot is not None and expiry is not None
    chain = s.table.option_chain("NIFTY", expiry)
    assert chain is not None
    s.actor.on_tick(Tick(spot.segment, spot.security_id, 2_600_000, NOW, NOW))
    for st in chain.strikes:
        gap = abs(st.strike_paise - 2_600_000)
        for sid, itm in ((st.ce_security_id, st.strike_paise < 2_600_000), (st.pe_security_id,
                                                                            st.strike_paise > 2_600_000)):
            price = max(5, 10_000 - gap // 20) + (gap if itm else 0)
            s.actor.on_depth(Depth(chain.segment, sid, "both", [price - 5], [65], [1], [price + 5], [65], [1],
                                   NOW, NOW))
    return expiry, chain.strike_values()


def test_priced_chain_over_the_api_and_the_cli(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    expiry, strikes = feed_nifty_chain(served)
    r = served.call("GetPricedChain", pb.GetPricedChainRequest(underlying="nifty", strikes_each_side=2))
    assert (r.underlying, r.expiry_yyyymmdd, r.underlying_source, r.spot_paise) == ("NIFTY", expiry, "spot", 2_600_000)
    assert [s.strike_paise for s in r.strikes] == [2_590_000, 2_595_000, 2_600_000, 2_605_000, 2_610_000]
    assert [s.atm for s in r.strikes] == [False, False, True, False, False] and r.atm_strike_paise == 2_600_000
    atm = r.strikes[2]
    assert atm.ce.symbol.endswith("-CE") and atm.ce.iv_status == "OK" and 0 < atm.ce.iv_ppm < 2_000_000
    assert 400_000 < atm.ce.delta_ppm < 600_000 and -600_000 < atm.pe.delta_ppm < -400_000
    assert atm.ce.theta_paise_per_day < 0 < atm.ce.vega_paise_per_vol_point and atm.ce.gamma_ppb_per_rupee > 0
    assert list(r.expiries)[0] == expiry

    code, out, err = served.cli(["instruments", "chain", "NIFTY", "--strikes", "1", "--greeks"], monkeypatch)
    assert code == 0, err
    assert "*ATM*" in out and "CE DELTA" in out and "PE VEGA" in out and "26000.00" in out
    code, out, err = served.cli(["instruments", "chain", "NIFTY", "--strikes", "1", "--json"], monkeypatch)
    assert code == 0, err
    answer = json.loads(out)
    assert len(answer["strikes"]) == 3 and answer["strikes"][1]["atm"] is True
    assert answer["strikes"][1]["ce"]["iv_status"] == "OK"


def test_priced_chain_refusals_name_what_is_wrong(served: Served) -> None:
    for req, code, words in (
        (pb.GetPricedChainRequest(underlying="NOPE"), grpc.StatusCode.NOT_FOUND, "no options of 'NOPE'"),
        (pb.GetPricedChainRequest(underlying="NIFTY", expiry_yyyymmdd=20991231), grpc.StatusCode.NOT_FOUND,
         "expiring 20991231"),
        (pb.GetPricedChainRequest(underlying="NIFTY", strikes_each_side=-1), grpc.StatusCode.INVALID_ARGUMENT,
         "strikes_each_side -1"),
        (pb.GetPricedChainRequest(underlying=""), grpc.StatusCode.INVALID_ARGUMENT, "underlying is required"),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            served.call("GetPricedChain", req)
        assert caught.value.code() == code and words in caught.value.details()


def test_cli_quote_table_and_json(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    feed_reliance(served, 141_234, NOW - 2 * NS_PER_S)
    code, out, err = served.cli(["quote", "RELIANCE", "HDFCBANK", "--depth"], monkeypatch)
    assert code == 0, err
    assert "+12.34 (+0.88%)" in out and " 2s" in out and "no market data" in out and "RELIANCE depth" in out
    code, out, err = served.cli(["quote", "RELIANCE", "--json"], monkeypatch)
    assert code == 0, err
    assert json.loads(out)["quotes"][0]["ltp_paise"] == 141_234
    code, _out, err = served.cli(["quote", "NOSUCH"], monkeypatch)
    assert code != 0 and "NOSUCH" in err


def test_the_configured_chains_are_published_on_their_topic(served: Served) -> None:
    expiry, _strikes = feed_nifty_chain(served)
    ctx = served.actor.ctx
    ctx.published.clear()
    served.actor._publish_chains()  # what the chain_interval_s timer runs
    (topic, snap), = ctx.published
    assert topic == f"chain.NIFTY.{expiry}".encode()
    assert isinstance(snap, OptionChainSnapshot) and snap.underlying_source == "spot"
    assert len(snap.rows) == 2 * served.actor.settings.chain_strikes_each_side + 1
    assert sum(r.atm for r in snap.rows) == 1
    assert codec.decode(codec.encode(snap)) == snap  # what the gateway forwards, byte for byte
