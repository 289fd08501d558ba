"""Rehearsing the order path between orders (``Actor.warm_hot_path``) has no effect: the ledger,
the risk engine and what the actors publish are exactly as they would be without it."""

from __future__ import annotations

import random
import time
from pathlib import Path

import msgspec
import pytest

from actors.base import Actor
from actors.host import ActorHost
from actors.risk.engine import RiskEngine
from ipc.reasons import Denial
from actors.risk.limits import RiskLimits
from engine.model.calendar import default_calendar
from engine.model.ist import NS_PER_S
from engine.config import Config, ConfigError, load_config
from actors.risk.actor import RiskActor
from engine.ledger import REHEARSAL_INTENT_ID, Ledger, LedgerConfig
from ipc.messages import Fill, OrderEvent, OrderSpec, OrderState, SubmitOrder, Tick
from ipc.segments import Segment
from tests.unit.actors.execution.test_actor import ExecHarness, FakeCtx, actor_config
from tests.unit.actors.risk.test_checks import NIFTY_OPT, OPT, T10, intent


def _first_event(intent_id: str, n: int) -> OrderEvent:
    spec = OrderSpec(segment=Segment.NSE_FNO, security_id=NIFTY_OPT, side="BUY", order_type="LIMIT", qty_units=65,
                     price_paise=10_000 + n)
    return OrderEvent(client_order_id="", intent_id=intent_id, strategy="ema", spec=spec,
                      state=OrderState.SUBMITTED, filled_qty_units=0,
                      filled_value_paise=0, venue_order_id="", reason_code="", reason="", ts_event_ns=T10 + n,
                      ts_init_ns=T10 + n)


def _everything(path: Path) -> str:
    """Every table and counter, with the ledger's random id prefix taken out (each ledger has its own)."""
    with Ledger.open(path, LedgerConfig(durability="os")) as ledger:
        state = (ledger.last_seq(), ledger.next_order_no(), dict(ledger.orders()), dict(ledger.fills()),
                 list(ledger.positions().values()), ledger.wallet(), ledger.verify())
        prefix = ledger.format_client_order_id(0)[:-1]
    return msgspec.json.encode(msgspec.to_builtins(state, str_keys=True)).decode().replace(prefix, "SK-")


@pytest.mark.parametrize("durability", ["group", "os", "sync"])
def test_a_rehearsed_order_leaves_the_ledger_as_if_it_never_happened(tmp_path: Path, durability: str) -> None:
    rehearsed, plain = tmp_path / "rehearsed", tmp_path / "plain"
    for path in (rehearsed, plain):
        with Ledger.open(path, LedgerConfig(durability=durability)) as ledger:
            for n in range(1, 6):
                first = msgspec.structs.replace(_first_event(f"ema-1-{n}", n),
                                                client_order_id=ledger.next_client_order_id())
                if path == rehearsed:
                    for _ in range(3):
                        ledger.rehearse_new_order(first)
                recorded = ledger.record_new_order(first)
                assert recorded.issue is None and not recorded.duplicate
                assert recorded.client_order_id == ledger.format_client_order_id(n)  # ids never skipped
                ledger.append([Fill(fill_id=f"f{n}", client_order_id=recorded.client_order_id, venue_order_id="",
                                    strategy="ema", segment=Segment.NSE_FNO, security_id=NIFTY_OPT, side="BUY", qty_units=65,
                                    price_paise=10_000, charges_paise=20, ts_event_ns=T10, ts_init_ns=T10)])
                if path == rehearsed:
                    ledger.rehearse_new_order(first)  # an intent id already recorded: refused, rolled back
            assert ledger.client_order_id_for(REHEARSAL_INTENT_ID) is None
    assert _everything(rehearsed) == _everything(plain)
    assert _everything(rehearsed).endswith(",[]]")  # verify: every derived table equals the events' replay


def test_a_rehearsal_on_a_closed_ledger_says_so(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "l", LedgerConfig(durability="os"))
    ledger.close()
    with pytest.raises(Exception, match="closed"):
        ledger.rehearse_new_order(_first_event("ema-1-1", 1))


def test_risk_checks_between_intents_change_no_decision() -> None:
    """Two engines see the same random intents and fills; one also runs the full check list of a
    rehearsal intent (as RiskActor.warm_hot_path does) before each: every decision is the same."""
    rng = random.Random(11)
    limits = RiskLimits()
    warm = RiskEngine(limits, [OPT], cash_paise=2_000_000, calendar=default_calendar())
    cold = RiskEngine(limits, [OPT], cash_paise=2_000_000, calendar=default_calendar())
    last = None
    for n in range(300):
        now = T10 + n * NS_PER_S // 7
        mark = 10_000 + 5 * rng.randint(-40, 40)
        side = rng.choice(["BUY", "SELL"])
        it = intent(intent_id=f"ema-1-{n}", side=side, qty_units=65 * rng.randint(1, 30), price_paise=mark,
                    ts_created_ns=now)
        for eng in (warm, cold):
            eng.on_mark(Segment.NSE_FNO, NIFTY_OPT, mark)
        if last is not None:
            for _ in range(rng.randint(1, 3)):
                warm.check(msgspec.structs.replace(last, intent_id=REHEARSAL_INTENT_ID), now)
        got = [eng.approve(it, now) for eng in (warm, cold)]
        assert got[0] == got[1], n
        if not isinstance(got[0], Denial):
            last = it
            if rng.random() < 0.6:  # some fill, the rest stay open
                fill = Fill(f"f{n}", f"c{n}", "v", "ema", Segment.NSE_FNO, NIFTY_OPT, side, it.spec.qty_units, mark, 0, now,
                            now)
                for eng in (warm, cold):
                    eng.on_fill(fill)
    assert last is not None  # the run approved something


def test_execution_warming_publishes_nothing_and_keeps_the_order_ids(tmp_path: Path) -> None:
    h = ExecHarness(tmp_path / "data")
    try:
        inst = h.instrument("RELIANCE")
        h.depth(inst, bids=[(150_000, 100)], asks=[(150_010, 100)])
        h.actor.warm_hot_path()  # nothing to rehearse before the first order
        first = h.submit(h.intent(inst, "BUY", 1, order_type="LIMIT", price_paise=149_000))
        published, seq = len(h.ctx.published), h.ledger.last_seq()
        rehearsed: list[str] = []
        real_rehearse = h.ledger.rehearse_new_order

        def spy(order: OrderEvent) -> None:
            rehearsed.append(order.intent_id)
            real_rehearse(order)

        h.ledger.rehearse_new_order = spy  # type: ignore[method-assign]
        for _ in range(20):
            h.actor.warm_hot_path()
        assert rehearsed == [first.intent_id] * 20  # the last order's write, every time
        assert len(h.ctx.published) == published and h.ledger.last_seq() == seq
        second = h.submit(h.intent(inst, "BUY", 1, order_type="LIMIT", price_paise=149_000))
        n = int(first.client_order_id.rsplit("-", 1)[1])
        assert second.client_order_id == h.ledger.format_client_order_id(n + 1)
        assert h.ledger.verify() == []
    finally:
        h.close()


def test_risk_warming_runs_the_full_check_list_of_the_last_intent_and_sends_nothing(tmp_path: Path) -> None:
    h = ExecHarness(tmp_path / "data")  # owns the ledger risk reads
    ctx = FakeCtx(actor_config(), tmp_path / "data")
    ctx.name = "risk"
    risk = RiskActor(ctx)
    try:
        risk.on_start()
        inst = h.instrument("RELIANCE")
        checked: list[tuple[str, object]] = []
        real_check = risk.engine.check

        def spy(intent, now_ns):  # type: ignore[no-untyped-def]
            result = real_check(intent, now_ns)
            checked.append((intent.intent_id, result))
            return result

        risk.engine.check = spy  # type: ignore[method-assign]
        risk.warm_hot_path()
        assert checked == []  # nothing approved yet: nothing to rehearse
        now = time.time_ns()
        risk.on_tick(Tick(inst.segment, inst.security_id, 150_000, now, now))
        risk.on_order_intent(h.intent(inst, "BUY", 1, order_type="LIMIT", price_paise=150_000))
        (submitted,) = [m for _t, m in ctx.sent if isinstance(m, SubmitOrder)]
        sent, published = len(ctx.sent), len(ctx.published)
        checked.clear()
        risk.warm_hot_path()
        risk.warm_hot_path()
        # Approved (None) both times: every check ran, and the rehearsal id was never recorded.
        assert checked == [(REHEARSAL_INTENT_ID, None), (REHEARSAL_INTENT_ID, None)]
        assert (len(ctx.sent), len(ctx.published)) == (sent, published)
        assert submitted.intent.intent_id != REHEARSAL_INTENT_ID
    finally:
        risk.on_stop()
        h.close()


class _Warmed(Actor):
    def warm_hot_path(self) -> None:
        pass


class _Plain(Actor):
    pass


@pytest.mark.parametrize(("interval_ms", "expected"), [(1, ["warmed"]), (0, [])])
def test_the_host_warms_only_actors_that_rehearse_and_not_at_all_when_turned_off(
        tmp_path: Path, interval_ms: int, expected: list[str]) -> None:
    cfg = msgspec.structs.replace(Config(), engine=msgspec.structs.replace(Config().engine,
                                                                           warm_interval_ms=interval_ms))
    host = ActorHost("t", [("plain", _Plain), ("warmed", _Warmed)], ["plain", "warmed"], cfg, tmp_path, tmp_path)
    for name, cls in (("plain", _Plain), ("warmed", _Warmed)):
        host.actors[name] = cls(host.contexts.setdefault(name, _context(host, name)))
    assert [name for name, _fn in host._warmers()] == expected


def _context(host: ActorHost, name: str):  # type: ignore[no-untyped-def]
    from actors.host import _Context
    return _Context(host, name)


def test_a_negative_warm_interval_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "shikra.toml"
    path.write_text("[engine]\nwarm_interval_ms = -1\n")
    with pytest.raises(ConfigError, match="engine.warm_interval_ms"):
        load_config(path)
