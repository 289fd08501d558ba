"""What a backtest keeps: fills and trades encoded on a tape."""

from __future__ import annotations

import msgspec
import pytest

from engine.backtest.ids import StructTape
from engine.model.journal import Trade, build_journal
from ipc.messages import Fill


def fill(n: int, side: str = "BUY", coid: str = "SKAB12-1") -> Fill:
    return Fill(fill_id=f"F{n}", client_order_id=coid, venue_order_id=f"PV{n}", strategy="s", segment=1,
                security_id=2885, side=side, qty_units=1, price_paise=10_000 + n, charges_paise=n,
                ts_event_ns=1_795_148_100_000_000_000 + n, ts_init_ns=2)


# None: in memory; 1: every value written to the file at once; 64: values both in the file and in
# the tail, reads straddling the two.
@pytest.mark.parametrize("spill_bytes", [None, 1, 64])
def test_fills_on_a_tape_read_back_equal_in_order(spill_bytes: int | None) -> None:
    fills = [fill(n, "BUY" if n % 2 else "SELL") for n in range(1, 6)]
    tape = StructTape(Fill, fills[:2], spill_bytes=spill_bytes)
    for f in fills[2:]:
        tape.append(f)
    assert len(tape) == 5 and list(tape) == fills and tape == fills
    assert tape[0] == fills[0] and tape[-1] == fills[-1] and tape[1:3] == fills[1:3]
    with pytest.raises(IndexError):
        tape[5]
    seen = []
    for f in tape:  # appending while iterating is allowed (the iteration sees what was there)
        seen.append(f)
        if len(tape) < 7:
            tape.append(fill(99))
    assert seen[:5] == fills


@pytest.mark.parametrize("spill_bytes", [None, 100, 4096])
def test_a_spilled_tape_reads_back_what_the_in_memory_one_does(spill_bytes: int | None) -> None:
    fills = [fill(n, "BUY" if n % 3 else "SELL", coid=f"SKAB12-{n}") for n in range(1, 300)]
    tape = StructTape(Fill, spill_bytes=spill_bytes)
    for n, f in enumerate(fills, 1):
        tape.append(f)
        if n % 37 == 0:  # reads between appends, from the file and from the tail
            assert tape[-1] == f and tape[0] == fills[0] and tape[n // 2] == fills[n // 2]
    assert list(tape) == fills and [tape[i] for i in range(len(fills))] == fills
    assert build_journal(iter(tape), StructTape(Trade)).trades == build_journal(fills).trades


def test_trades_on_a_tape_give_the_same_journal_as_a_list() -> None:
    fills = [fill(n, "BUY" if n % 2 else "SELL", coid=f"SKAB12-{n}") for n in range(1, 40)]
    listed = build_journal(fills)
    taped = build_journal(iter(fills), StructTape(Trade))
    assert isinstance(taped.trades, StructTape) and list(taped.trades) == listed.trades
    assert msgspec.structs.replace(taped, trades=list(taped.trades)) == listed
    assert listed.fills == 39 and len(listed.trades) == 19
