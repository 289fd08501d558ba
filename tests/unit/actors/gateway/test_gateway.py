"""The gateway's functional core: upstream subscriptions from dashboard subscriptions, metrics
from bus events, and the [gateway] config rules. No sockets, no processes."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from actors.gateway.metrics import EngineMetrics
from actors.gateway.subscriptions import SubscriptionTable, upstream_for
from engine.config import ConfigError, parse_config
from ipc.messages import (
    ActorStatus,
    BrokerSessionStatus,
    DaemonStatus,
    FeedFreshness,
    Fill,
    Heartbeat,
    KillSwitchStatus,
    OrderDenied,
    OrderEvent,
    OrderSpec,
    OrderState,
    Position,
    RiskUsage,
    SupervisorStatus,
)

ALLOWED = (b"tick.", b"order.", b"actor.health.")


def test_dashboard_prefix_inside_an_allowed_topic_goes_upstream_as_is():
    assert upstream_for(b"tick.NSE_EQ.2885", ALLOWED) == {b"tick.NSE_EQ.2885"}


def test_subscribing_to_everything_takes_only_the_allowed_topics():
    assert upstream_for(b"", ALLOWED) == set(ALLOWED)
    assert upstream_for(b"t", ALLOWED) == {b"tick."}


def test_a_topic_that_is_not_public_is_never_taken_upstream():
    assert upstream_for(b"intent.", ALLOWED) == set()
    table = SubscriptionTable(ALLOWED)
    assert table.on_frame(b"\x01cmd.") == ([], [])


def test_upstream_subscription_lasts_while_any_dashboard_or_the_metrics_need_it():
    table = SubscriptionTable(ALLOWED)
    assert table.add_fixed((b"order.",)) == [b"order."]
    assert table.on_frame(b"\x01") == ([b"actor.health.", b"tick."], [])  # order. already taken
    assert table.on_frame(b"\x01tick.NSE_EQ.") == ([b"tick.NSE_EQ."], [])
    assert table.on_frame(b"\x00") == ([], [b"actor.health.", b"tick."])  # the metrics keep order.
    assert table.on_frame(b"\x00tick.NSE_EQ.") == ([], [b"tick.NSE_EQ."])
    assert dict(table.counts) == {b"order.": 1}


def test_a_client_flooding_distinct_prefixes_is_refused_past_the_bound():
    table = SubscriptionTable(ALLOWED, max_public=3)
    for i in range(10):
        table.on_frame(b"\x01tick.%d" % i)
    assert len(table.public) == 3 and table.refused == 7
    assert table.on_frame(b"data on a SUB socket") == ([], [])


def _order(coid: str, state: OrderState, sent: int = 0) -> OrderEvent:
    spec = OrderSpec(segment=1, security_id=2885, side="BUY", order_type="MARKET", qty_units=1)
    return OrderEvent(coid, "i-" + coid, "probe", spec, state, 0, 0, "", "", "", 1_000, 1_000,
                      ts_created_ns=1_000 + 20_000, ts_approved_ns=1_000 + 20_000 + 5_000, ts_sent_ns=sent)


def _scrape(m: EngineMetrics) -> str:
    return generate_latest(m.registry).decode()


def test_order_events_count_states_track_open_orders_and_time_each_hop_once():
    m = EngineMetrics(lambda: 0)
    m.observe(_order("a", OrderState.SUBMITTED))
    m.observe(_order("a", OrderState.ACCEPTED, sent=1_000 + 25_000 + 300_000))
    m.observe(_order("a", OrderState.FILLED, sent=1_000 + 25_000 + 300_000))
    m.observe(_order("b", OrderState.ACCEPTED))
    text = _scrape(m)
    assert 'shikra_order_events_total{state="FILLED"} 1.0' in text
    assert 'shikra_order_events_total{state="ACCEPTED"} 2.0' in text
    assert 'shikra_orders_open{state="ACCEPTED"} 1.0' in text   # b; a finished
    assert 'shikra_orders_open{state="SUBMITTED"} 0.0' in text
    assert 'shikra_hop_latency_seconds_count{hop="execution"} 1.0' in text
    assert 'shikra_hop_latency_seconds_sum{hop="risk"} 5e-06' in text
    assert 'shikra_hop_latency_seconds_sum{hop="execution"} 0.0003' in text


def test_denials_are_counted_by_reason_code_and_fills_by_strategy():
    m = EngineMetrics(lambda: 0)
    m.observe(OrderDenied("i1", "probe", 2, 5, "QTY_NOT_LOT_MULTIPLE", "qty 7 ...", 1, 1))
    m.observe(OrderDenied("i2", "probe", 2, 5, "QTY_NOT_LOT_MULTIPLE", "qty 7 ...", 1, 1))
    m.observe(Fill("f1", "c1", "v1", "probe", 1, 2885, "SELL", 3, 100, 1, 1, 1))
    text = _scrape(m)
    assert 'shikra_denials_total{reason="QTY_NOT_LOT_MULTIPLE"} 2.0' in text
    assert 'shikra_fills_total{side="SELL",strategy="probe"} 1.0' in text
    assert 'shikra_filled_units_total{strategy="probe"} 3.0' in text


def test_actor_figures_come_from_heartbeats_and_the_supervisor_status():
    m = EngineMetrics(lambda: 0)
    m.observe(SupervisorStatus(DaemonStatus(1, "running", 1, 1, "isolated", "", KillSwitchStatus(), [
        ActorStatus("feed", "feed", 10, "ready", 1, 2, 1, bad_frames=4),
        ActorStatus("risk", "risk", 11, "restarting", 1, 0, 1, msgs_in=77)])))
    m.observe(Heartbeat("feed", 10, 1, "ready", 1, 2, msgs_in=0, msgs_out=123))
    text = _scrape(m)
    assert 'shikra_actor_messages_out_total{actor="feed"} 123.0' in text
    assert 'shikra_actor_restarts_total{actor="feed"} 2.0' in text
    assert 'shikra_actor_bad_frames_total{actor="feed"} 4.0' in text
    assert 'shikra_actor_up{actor="risk"} 0.0' in text
    assert 'shikra_actor_messages_in_total{actor="risk"} 77.0' in text  # no heartbeat seen: the status's


def test_actor_figures_are_absent_until_the_first_supervisor_status():
    m = EngineMetrics(lambda: 0)
    m.observe(Heartbeat("feed", 10, 1, "ready", 1, 2, msgs_in=0, msgs_out=5))
    text = _scrape(m)
    assert 'shikra_actor_messages_out_total{actor="feed"} 5.0' in text
    assert "shikra_actor_up{" not in text and "shikra_actor_restarts_total{" not in text


def test_gateway_config_defaults_and_rules():
    cfg = parse_config("")
    assert cfg.gateway.listen == "tcp://127.0.0.1:7480" and cfg.gateway.sndhwm == 10_000
    assert "tick." in cfg.gateway.topics and cfg.gateway.metrics_listen == "127.0.0.1:9470"


@pytest.mark.parametrize("text, needle", [
    ('[gateway]\nlisten = "127.0.0.1:7480"\n', "gateway.listen"),
    ("[gateway]\nsndhwm = 0\n", "gateway.sndhwm"),
    ('[gateway]\nallowed_client_keys = ["short"]\n', "gateway.allowed_client_keys"),
    ('[gateway]\nallowed_client_keys = ["' + "a" * 40 + '"]\n', "needs curve_secret_key_file"),
    ('[gateway]\nmetrics_listen = "9470"\n', "gateway.metrics_listen"),
    ("[gateway]\ntopics = []\n", "gateway.topics"),
])
def test_bad_gateway_config_names_the_key(text, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_config(text, "my.toml")


def test_the_broker_session_expiry_and_a_refused_login_show_as_gauges():
    m = EngineMetrics(lambda: 0)
    assert "shikra_broker_session_expiry_timestamp_seconds{" not in _scrape(m)  # until the venue has said
    m.observe(BrokerSessionStatus("dhan", True, 1_800_000_000 * 10**9, "", "", 1))
    text = _scrape(m)
    assert 'shikra_broker_session_expiry_timestamp_seconds{broker="dhan"} 1.8e+09' in text
    assert 'shikra_broker_session_ok{broker="dhan"} 1.0' in text
    m.observe(BrokerSessionStatus("dhan", False, 1_800_000_000 * 10**9, "BAD_TOTP", "Invalid TOTP", 2))
    assert 'shikra_broker_session_ok{broker="dhan"} 0.0' in _scrape(m)


def _position(strategy: str, sid: int, net: int, realised: int, unrealised: int, product: str = "INTRADAY") -> Position:
    return Position(strategy, 1, sid, net, net * 100, realised, unrealised, 0, 1, 1, product)  # type: ignore[arg-type]


def _usage(state: str) -> RiskUsage:
    return RiskUsage(state, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)


def test_pnl_per_strategy_sums_its_latest_positions_realised_and_unrealised():
    m = EngineMetrics(lambda: 0)
    # Seeded from the ledger: realised only (the ledger keeps no marks).
    m.seed_positions([_position("ema", 2885, 0, 5_000, 0), _position("ema", 1333, 10, -1_200, 0)])
    m.observe(_position("ema", 1333, 10, -1_200, 3_300))          # execution marks the open one
    m.observe(_position("ema", 1333, 4, -1_200, 700, "CNC"))      # the same instrument, another product
    m.observe(_position("straddle", 42, -50, 0, -2_500))
    m.seed_positions([_position("ema", 1333, 10, -1_200, 0)])     # a published position is not overwritten
    text = _scrape(m)
    assert 'shikra_strategy_realised_pnl_paise{strategy="ema"} 2600.0' in text   # 5_000 - 1_200 - 1_200
    assert 'shikra_strategy_unrealised_pnl_paise{strategy="ema"} 4000.0' in text  # 3_300 + 700
    assert 'shikra_strategy_realised_pnl_paise{strategy="straddle"} 0.0' in text
    assert 'shikra_strategy_unrealised_pnl_paise{strategy="straddle"} -2500.0' in text


def test_trading_state_and_kill_switch_gauges_follow_risk_and_the_supervisor():
    m = EngineMetrics(lambda: 0)
    text = _scrape(m)
    assert "shikra_trading_state{" not in text and "\nshikra_kill_switch_engaged " not in text  # until said
    m.observe(_usage("REDUCING"))
    m.observe(SupervisorStatus(DaemonStatus(1, "running", 1, 1, "isolated", "", KillSwitchStatus(True, "drill", "ops", 5),
                                            [])))
    text = _scrape(m)
    assert 'shikra_trading_state{state="REDUCING"} 1.0' in text
    assert 'shikra_trading_state{state="ACTIVE"} 0.0' in text and 'shikra_trading_state{state="HALTED"} 0.0' in text
    assert "shikra_kill_switch_engaged 1.0" in text
    m.observe(_usage("ACTIVE"))
    m.observe(SupervisorStatus(DaemonStatus(1, "running", 1, 1, "isolated", "", KillSwitchStatus(), [])))
    text = _scrape(m)
    assert 'shikra_trading_state{state="ACTIVE"} 1.0' in text and "shikra_kill_switch_engaged 0.0" in text


def test_feed_staleness_is_seconds_since_each_instruments_last_data_at_scrape_time():
    now = [100 * 10**9]
    m = EngineMetrics(lambda: now[0])
    # NSE_EQ:2885 had data 2.5 s before the scrape; NSE_FNO:55796 none since the feed started at 40 s.
    m.observe(FeedFreshness([1, 2], [2885, 55796], [now[0] - 2_500_000_000, 0], 40 * 10**9, now[0]))
    text = _scrape(m)
    assert 'shikra_feed_staleness_seconds{instrument="NSE_EQ:2885"} 2.5' in text
    assert 'shikra_feed_staleness_seconds{instrument="NSE_FNO:55796"} 60.0' in text
    now[0] += 10**9
    assert 'shikra_feed_staleness_seconds{instrument="NSE_EQ:2885"} 3.5' in _scrape(m)
    # The next report names only what the feed streams or holds now: the other label goes away.
    m.observe(FeedFreshness([1], [2885], [now[0]], 40 * 10**9, now[0]))
    text = _scrape(m)
    assert 'instrument="NSE_FNO:55796"' not in text and 'shikra_feed_staleness_seconds{instrument="NSE_EQ:2885"} 0.0' in text


def test_a_malformed_freshness_report_is_ignored():
    m = EngineMetrics(lambda: 0)
    m.observe(FeedFreshness([1, 2], [2885], [0], 0, 0))
    assert "shikra_feed_staleness_seconds{" not in _scrape(m)
