"""The OI tracker and the scanner through the real API: the control actor (fed its bus messages
by hand, sampling on its clock) behind a real gRPC server on a loopback port, and the ``shikra``
CLI against it (``test_market_calls`` sets the server up)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest

from actors.control.market import MarketStore
from actors.control.views import MarketViews
from engine.control_api import control_pb2 as pb
from engine.model.expiry_day import listing_day
from engine.model.instruments import OptionChain
from engine.model.ist import NS_PER_S
from engine.model.scanner import ScannerConfig, ScreenConfig
from ipc import codec, topics
from ipc.messages import OiTrackerSnapshot, PrevClose, Quote, ScanResult
from tests.unit.actors.control.test_market_calls import NOW, Served, serving

MINUTE_NS = 60 * NS_PER_S
SCREENS = [ScreenConfig(name="gainers", kind="gainers", segments=["NSE_EQ"]),
           ScreenConfig(name="losers", kind="losers", segments=["NSE_EQ"]),
           ScreenConfig(name="calls-building", kind="oi_buildup", instrument_types=["OPTIDX"],
                        buildups=["LONG_BUILDUP"])]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("oiscan")) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(served: Served) -> None:
    a = served.actor
    a.market = MarketStore(1_000)
    a.ctx.now = NOW
    a.ctx.published.clear()
    assert a.api is not None and a.settings is not None
    a.api.scanner_config = ScannerConfig(screens=SCREENS)
    a.views = MarketViews(a.settings, a.api.scanner_config)


def nifty_chain(s: Served) -> OptionChain:
    expiry = s.table.expiries("NIFTY", listing_day(NOW))[0]
    chain = s.table.option_chain("NIFTY", expiry)
    assert chain is not None and len(chain.strikes) >= 4
    return chain


def quote(seg: int, sid: int, ltp: int, volume: int, oi: int, now_ns: int) -> Quote:
    return Quote(seg, sid, ltp, 1, ltp, volume, 0, 0, ltp, 0, ltp, ltp, now_ns, now_ns, oi_units=oi)


def feed_chain(s: Served) -> tuple[OptionChain, list[int]]:
    """Three strikes with OI, sampled 20 and 10 minutes ago and quoted now. OI now: CE 50, 10, 0 and
    PE 5, 20, 90 at strikes k1 < k2 < k3 (one step apart); volume CE 1000, 500 and PE 300, 700, 2000."""
    chain = nifty_chain(s)
    k1, k2, k3 = chain.strikes[:3]
    a, seg = s.actor, chain.segment
    a.on_prev_close(PrevClose(seg, k1.ce_security_id, 10_000, 40, NOW - 30 * MINUTE_NS, NOW - 30 * MINUTE_NS))
    # (security id, (ltp, oi) 20 minutes ago, (ltp, oi) 10 minutes ago, (ltp, oi, volume) now)
    plan = [(k1.ce_security_id, (10_500, 45), (10_700, 48), (11_000, 50, 1_000)),
            (k2.ce_security_id, (3_000, 10), (3_000, 10), (2_900, 10, 500)),
            (k1.pe_security_id, (800, 3), (750, 4), (700, 5, 300)),
            (k2.pe_security_id, (1_500, 20), (1_500, 20), (1_500, 20, 700)),
            (k3.pe_security_id, (5_000, 100), (5_200, 95), (5_400, 90, 2_000))]
    for back, pick in ((20, 1), (10, 2)):
        a.ctx.now = NOW - back * MINUTE_NS
        for row in plan:
            ltp, oi = row[pick][:2]
            a.on_quote(quote(seg, row[0], ltp, 0, oi, a.ctx.now))
        a._sample_market()
    a.ctx.now = NOW
    for sid, _then, _later, (ltp, oi, volume) in plan:
        a.on_quote(quote(seg, sid, ltp, volume, oi, NOW))
    return chain, [k.strike_paise for k in (k1, k2, k3)]


def test_oi_tracker_pcr_max_pain_and_changes_against_hand_computed_values(served: Served) -> None:
    chain, (k1, k2, k3) = feed_chain(served)
    step = k2 - k1
    r = served.call("GetOiTracker", pb.GetOiTrackerRequest(underlying="NIFTY", windows_s=[900]))
    assert (r.underlying, r.expiry_yyyymmdd, list(r.windows_s)) == ("NIFTY", chain.expiry_yyyymmdd, [0, 900])
    assert (r.ce_oi_units, r.pe_oi_units, r.ce_volume_units, r.pe_volume_units) == (60, 115, 1_500, 3_000)
    assert r.pcr_oi_ppm == 1_916_667  # 115 / 60
    assert r.pcr_volume_ppm == 2_000_000
    # Writers' payout per unit of OI: at k1 puts k2 (20 x 1 step) + k3 (90 x 2) = 200 steps; at k2
    # calls k1 (50 x 1) + puts k3 (90 x 1) = 140; at k3 calls k1 (50 x 2) + k2 (10 x 1) = 110; above
    # k3 the calls pay more, below k1 the puts do.
    assert (r.max_pain_strike_paise, r.max_pain_payout_paise) == (k3, 110 * step)
    by_strike = {s.strike_paise: s for s in r.strikes}
    ce1, pe1, pe3 = by_strike[k1].ce, by_strike[k1].pe, by_strike[k3].pe
    assert ce1.symbol and (ce1.oi_units, ce1.ltp_paise) == (50, 11_000)
    # Since the open: the previous session's OI (40) and close (100.00) where the feed sent them...
    assert [(c.window_s, c.oi_change_units, c.price_change_paise, c.buildup) for c in ce1.changes] == [
        (0, 10, 1_000, "LONG_BUILDUP"), (900, 5, 500, "LONG_BUILDUP")]
    # ... else the first values sampled today (20 minutes ago). 15 minutes back is the sample of 20.
    assert [(c.oi_change_units, c.price_change_paise, c.buildup, c.span_ns) for c in pe3.changes] == [
        (-10, 400, "SHORT_COVERING", 20 * MINUTE_NS), (-10, 400, "SHORT_COVERING", 20 * MINUTE_NS)]
    assert pe1.changes[1].buildup == "SHORT_BUILDUP" and by_strike[k2].ce.changes[1].buildup == "NONE"
    assert [(t.window_s, t.ce_oi_change_units, t.pe_oi_change_units) for t in r.totals] == [(0, 10, -8), (900, 5, -8)]
    # Five minutes back is the sample of 10 minutes ago.
    five = served.call("GetOiTracker", pb.GetOiTrackerRequest(underlying="NIFTY", windows_s=[300]))
    assert {s.strike_paise: s for s in five.strikes}[k3].pe.changes[1].oi_change_units == -5


def test_oi_tracker_refuses_a_window_beyond_the_history_kept_and_an_unknown_underlying(served: Served) -> None:
    for windows in ([0], [4_000], [300, 300]):
        with pytest.raises(grpc.RpcError) as caught:
            served.call("GetOiTracker", pb.GetOiTrackerRequest(underlying="NIFTY", windows_s=windows))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "windows_s" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        served.call("GetOiTracker", pb.GetOiTrackerRequest(underlying="NOSUCH"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_shikra_oi_prints_the_tracker_and_its_json(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    chain, (_k1, _k2, k3) = feed_chain(served)
    code, out, err = served.cli(["oi", "NIFTY", "--window", "15m", "--json"], monkeypatch)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["pcr_oi_ppm"] == 1_916_667 and int(doc["max_pain_strike_paise"]) == k3
    code, out, err = served.cli(["oi", "NIFTY", "--window", "15m"], monkeypatch)
    assert code == 0, err
    assert "PCR OI 1.92" in out and "PCR volume 2.00" in out and "CHG 15m" in out and "short covering" in out
    code, _out, err = served.cli(["oi", "NIFTY", "--window", "soon"], monkeypatch)
    assert code == 2 and "--window 'soon'" in err


def feed_equities(s: Served) -> dict[str, int]:
    """RELIANCE +3 %, INFY +1 %, TCS flat, SBIN -2 % against a previous close of 1000.00."""
    ids = {}
    for symbol, ltp in (("RELIANCE", 103_000), ("INFY", 101_000), ("TCS", 100_000), ("SBIN", 98_000)):
        inst = s.table.by_symbol(symbol)
        assert inst is not None
        ids[symbol] = inst.security_id
        s.actor.on_prev_close(PrevClose(inst.segment, inst.security_id, 100_000, 0, NOW, NOW))
        s.actor.on_quote(quote(inst.segment, inst.security_id, ltp, 5_000, 0, NOW))
    return ids


def test_scan_picks_exactly_the_movers(served: Served) -> None:
    ids = feed_equities(served)
    feed_chain(served)
    r = served.call("Scan", pb.ScanRequest())
    results = {res.screen: res for res in r.results}
    assert list(results) == ["gainers", "losers", "calls-building"]
    gainers = results["gainers"]
    assert [(h.symbol, h.security_id, h.measure) for h in gainers.hits] == [
        ("RELIANCE", ids["RELIANCE"], 300), ("INFY", ids["INFY"], 100)]
    assert (gainers.measure_name, gainers.universe_size) == ("change_bp", 4)
    assert [(h.symbol, h.change_bp) for h in results["losers"].hits] == [("SBIN", -200)]
    # The one option whose price and OI both rose since the open.
    (building,) = results["calls-building"].hits
    assert building.buildup == "LONG_BUILDUP" and building.measure == 2_500  # OI 40 -> 50
    one = served.call("Scan", pb.ScanRequest(screen="losers"))
    assert [res.screen for res in one.results] == ["losers"]


def test_scan_of_an_unknown_screen_names_the_configured_ones(served: Served, monkeypatch) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        served.call("Scan", pb.ScanRequest(screen="rockets"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "'rockets'" in caught.value.details() and "gainers, losers, calls-building" in caught.value.details()
    feed_equities(served)
    code, out, err = served.cli(["scan", "gainers", "--json"], monkeypatch)
    assert code == 0, err
    assert [h["symbol"] for h in json.loads(out)["results"][0]["hits"]] == ["RELIANCE", "INFY"]
    code, out, err = served.cli(["scan"], monkeypatch)
    assert code == 0, err
    assert "gainers (gainers, 2 of 4)" in out and "+3.00%" in out and "calls-building" in out


def test_the_actor_publishes_trackers_and_screens_on_their_topics(served: Served) -> None:
    chain, _strikes = feed_chain(served)
    feed_equities(served)
    a = served.actor
    a._publish_oi()
    a._publish_scans()
    published = {topic: msg for topic, msg in a.ctx.published}
    tracker = published[topics.oi_track_topic("NIFTY", chain.expiry_yyyymmdd)]
    assert isinstance(tracker, OiTrackerSnapshot) and tracker.pcr_oi_ppm == 1_916_667
    assert tracker.windows_s == [0, *a.settings.oi_windows_s]
    scan = published[b"scan.gainers"]
    assert isinstance(scan, ScanResult) and [h.symbol for h in scan.hits] == ["RELIANCE", "INFY"]
    # What a dashboard receives decodes to the same message.
    assert codec.decode(codec.encode(tracker)) == tracker
