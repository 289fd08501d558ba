"""The OI tracker: one underlying's expiry, strike by strike, from the market the control actor
keeps and its sampled history.

Pure: the instrument master's chain, the market (``actors.control.market``), the history
(``engine.model.open_interest.MarketHistory``) and the windows in; an
:class:`ipc.messages.OiTrackerSnapshot` out. The same snapshot answers the GetOiTracker call and is
published on ``oitrack.<UNDERLYING>.<YYYYMMDD>``. Definitions: ``engine.model.open_interest``.

Every listed option of the chain counts, whether or not the feed streams it (one without market
data has OI 0): the put-call ratio and max pain are of what the engine can see.
"""

from __future__ import annotations

import numpy as np

from actors.control.market import MarketStore
from engine.model.instruments import OptionChain
from engine.model.ist import NS_PER_S
from engine.model.open_interest import (
    BUILDUPS,
    MarketHistory,
    changes_from,
    classify_buildups,
    max_pain,
    open_baseline,
    ratio_ppm,
)
from ipc.messages import OiChange, OiRow, OiSide, OiTrackerSnapshot, OiWindowTotal
from ipc.segments import instrument_key


def track_chain(chain: OptionChain, market: MarketStore, history: MarketHistory, windows_s: list[int],
                now_ns: int) -> OiTrackerSnapshot:
    """The chain's OI now, with changes since the open and over each of ``windows_s``."""
    # One entry per listed option, in chain order: (strike index, is_call, security id).
    sides = [(i, is_call, sid) for i, s in enumerate(chain.strikes)
             for sid, is_call in ((s.ce_security_id, True), (s.pe_security_id, False)) if sid]
    n = len(sides)
    cols = np.zeros((5, n), dtype=np.int64)  # ltp, volume, oi, prev close, prev oi
    for j, (_i, _c, sid) in enumerate(sides):
        m = market.get(chain.segment, sid)
        if m is not None:
            cols[:, j] = (m.ltp_paise, m.volume_units, m.oi_units, m.prev_close_paise, m.prev_oi_units)
    ltp, volume, oi, prev_close, prev_oi = cols
    keys = np.array([instrument_key(chain.segment, sid) for _i, _c, sid in sides], dtype=np.int64)
    is_call = np.array([c for _i, c, _sid in sides], dtype=np.bool_)

    periods = [0, *windows_s]
    per_period: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    totals: list[OiWindowTotal] = []
    for window_s in periods:
        if window_s == 0:
            base = open_baseline(history, keys, prev_close, prev_oi)
        else:
            base = history.window_start(keys, now_ns, window_s * NS_PER_S)
        price_change, oi_change = changes_from(base, ltp, oi)
        buildup = classify_buildups(price_change, oi_change, base.ltp_paise, base.oi_units)
        span = np.where(base.found & (base.ts_ns > 0), now_ns - base.ts_ns, 0)
        per_period.append((span.tolist(), oi_change.tolist(), price_change.tolist(), buildup.tolist()))
        totals.append(OiWindowTotal(window_s, int(oi_change[is_call].sum()), int(oi_change[~is_call].sum())))

    out: list[list[OiSide | None]] = [[None, None] for _ in chain.strikes]
    ltp_l, volume_l, oi_l = ltp.tolist(), volume.tolist(), oi.tolist()
    for j, (i, call, sid) in enumerate(sides):
        changes = [OiChange(w, span[j], d_oi[j], d_price[j], BUILDUPS[b[j]])
                   for w, (span, d_oi, d_price, b) in zip(periods, per_period)]
        out[i][0 if call else 1] = OiSide(sid, ltp_l[j], volume_l[j], oi_l[j], changes)

    ce_oi, pe_oi = int(oi[is_call].sum()), int(oi[~is_call].sum())
    ce_volume, pe_volume = int(volume[is_call].sum()), int(volume[~is_call].sum())
    strike_ce = [side.oi_units if side else 0 for side, _ in out]
    strike_pe = [side.oi_units if side else 0 for _, side in out]
    pain_strike, pain_payout = max_pain(chain.strike_values(), strike_ce, strike_pe)
    return OiTrackerSnapshot(
        underlying=chain.underlying, segment=chain.segment, expiry_yyyymmdd=chain.expiry_yyyymmdd,
        windows_s=periods, ce_oi_units=ce_oi, pe_oi_units=pe_oi, ce_volume_units=ce_volume,
        pe_volume_units=pe_volume, pcr_oi_ppm=ratio_ppm(pe_oi, ce_oi), pcr_volume_ppm=ratio_ppm(pe_volume, ce_volume),
        max_pain_strike_paise=pain_strike, max_pain_payout_paise=pain_payout, totals=totals,
        rows=[OiRow(s.strike_paise, ce, pe) for s, (ce, pe) in zip(chain.strikes, out)],
        ts_event_ns=now_ns, ts_init_ns=now_ns)
