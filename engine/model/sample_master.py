"""A small, realistic Dhan instrument master (detailed layout) for offline paper trading and tests.

``write_sample_master(path, today)`` is deterministic: the same ``today`` gives the same bytes.
Expiries are computed from ``today`` so that no listed contract has expired (a contract expiring
on ``today`` is still listed: it trades until the close); the daemon regenerates the file into its
data directory at start.

What it lists
-------------
* Indices on IDX_I: NIFTY 13, BANKNIFTY 25, FINNIFTY 27, INDIA VIX 21 (NSE), SENSEX 51 (BSE).
* NSE_EQ stocks with a 5-paise tick: HDFCBANK 1333, RELIANCE 2885, TCS 11536, INFY 1594, SBIN 3045.
* Options, CE and PE, 15 strikes either side of a fixed spot:

  ========== ======== ====== ===== ====== ========================================================
  underlying segment  spot   step  lot    expiries
  ========== ======== ====== ===== ====== ========================================================
  NIFTY      NSE_FNO  26000  50    65     next two weekly (Tuesday) + the nearest monthly not
                                          already among them (monthly = last Tuesday)
  BANKNIFTY  NSE_FNO  59000  100   30     nearest monthly only (weeklies were discontinued)
  FINNIFTY   NSE_FNO  27500  50    60     nearest monthly only
  SENSEX     BSE_FNO  85000  100   20     next two weekly (Thursday) + nearest other monthly
                                          (monthly = last Thursday)
  ========== ======== ====== ===== ====== ========================================================

* Index futures of the current (nearest unexpired) month for all four.

An expiry that falls on a non-trading day moves to the previous trading day. Trading days come
from ``exchange_calendars``' **XBOM** calendar (BSE; NSE and BSE share their trading holidays, and
the package has no separate NSE calendar). The package records holidays only up to its last
session (2026-12-31 in 4.13.2); beyond that only weekends are treated as closed.

Security ids are a pure function of the contract, so a contract keeps its id from one day's file
to the next while it lives: options ``base + ((days_since_epoch(expiry) % 128) * 8 + u) * 64 +
strike_index * 2 + (0 CE | 1 PE)`` with base 100000 on NSE_FNO and 800000 on BSE_FNO (range
base..base+65535); futures ``base + (days % 128) * 8 + u`` with base 90000 / 890000.

Regenerate the committed copy with::

    python -m engine.model.sample_master --today 2026-11-20 --out engine/model/data/sample_master.csv
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import functools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from engine.files import replace_file
from engine.model.calendar import read_library
from engine.model.ist import day_date, today_ist
from engine.model.master_csv import DETAILED_COLUMNS

__all__ = [
    "BUNDLED_PATH",
    "CALENDAR_CODE",
    "is_trading_day",
    "monthly_expiry",
    "sample_master_text",
    "stock_rows",
    "weekly_expiries",
    "write_sample_master",
]

BUNDLED_PATH = Path(__file__).parent / "data" / "sample_master.csv"  # the committed copy
CALENDAR_CODE = "XBOM"  # exchange_calendars code covering BSE (and NSE's identical holidays)
STRIKES_EACH_SIDE = 15
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TUESDAY, _THURSDAY = 1, 3
_EPOCH = dt.date(1970, 1, 1)


class _Underlying(msgspec.Struct, frozen=True):
    code: int  # u in the id formula; unique per underlying
    name: str
    exchange: str  # NSE / BSE
    index_id: int  # IDX_I security id
    index_display: str
    exchange_token: int  # UNDERLYING_SECURITY_ID of its derivatives (the exchange's own token)
    spot_rupees: int
    step_rupees: int
    lot_units: int
    freeze_units: int
    expiry_weekday: int
    weekly: bool


_UNDERLYINGS: tuple[_Underlying, ...] = (
    _Underlying(0, "NIFTY", "NSE", 13, "Nifty 50", 26000, 26000, 50, 65, 1800, _TUESDAY, True),
    _Underlying(1, "BANKNIFTY", "NSE", 25, "Nifty Bank", 26009, 59000, 100, 30, 600, _TUESDAY,
                False),
    _Underlying(2, "FINNIFTY", "NSE", 27, "Nifty Fin Service", 26037, 27500, 50, 60, 1800,
                _TUESDAY, False),
    _Underlying(3, "SENSEX", "BSE", 51, "Sensex", 1, 85000, 100, 20, 1000, _THURSDAY, True),
)  # fmt: skip

# (security id, symbol, display name, ISIN)
_STOCKS: tuple[tuple[int, str, str, str], ...] = (
    (1333, "HDFCBANK", "HDFC Bank", "INE040A01034"),
    (1594, "INFY", "Infosys", "INE009A01021"),
    (2885, "RELIANCE", "Reliance Industries", "INE002A01018"),
    (3045, "SBIN", "State Bank of India", "INE062A01020"),
    (11536, "TCS", "Tata Consultancy Services", "INE467B01029"),
)

_OPTION_BASE = {"NSE": 100_000, "BSE": 800_000}
_FUTURE_BASE = {"NSE": 90_000, "BSE": 890_000}


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------


@functools.cache
def _sessions() -> tuple[frozenset[dt.date], dt.date, dt.date]:
    """Trading days the calendar knows, and its first and last session (the library's table,
    read as the session calendar reads it: from the day's cache file when there is one)."""
    lib = read_library(CALENDAR_CODE)
    return frozenset(day_date(d) for d in lib.sessions), day_date(lib.first_day), day_date(lib.last_day)


def is_trading_day(day: dt.date) -> bool:
    """True on an NSE/BSE trading day. Outside the calendar's range: any weekday."""
    days, first, last = _sessions()
    if first <= day <= last:
        return day in days
    return day.weekday() < 5


def _adjust(day: dt.date) -> dt.date:
    """Move an expiry off a non-trading day to the previous trading day."""
    while not is_trading_day(day):
        day -= dt.timedelta(days=1)
    return day


def monthly_expiry(year: int, month: int, weekday: int) -> dt.date:
    """Last ``weekday`` (0 = Monday) of the month, moved back off a holiday."""
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return _adjust(last - dt.timedelta(days=(last.weekday() - weekday) % 7))


def _monthlies(today: dt.date, weekday: int) -> Iterator[dt.date]:
    """Monthly expiries on or after ``today``, in order."""
    year, month = today.year, today.month
    while True:
        day = monthly_expiry(year, month, weekday)
        if day >= today:
            yield day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def weekly_expiries(today: dt.date, weekday: int, count: int) -> list[dt.date]:
    """The next ``count`` weekly expiries on or after ``today`` (holiday-adjusted)."""
    found: list[dt.date] = []
    nominal = today - dt.timedelta(days=(today.weekday() - weekday) % 7)  # this week's
    while len(found) < count:
        day = _adjust(nominal)
        if day >= today:
            found.append(day)
        nominal += dt.timedelta(days=7)
    return found


def _expiries(u: _Underlying, today: dt.date) -> list[tuple[dt.date, str]]:
    """(expiry, flag W/M) of the options listed for ``u``, ascending."""
    monthlies = _monthlies(today, u.expiry_weekday)
    if not u.weekly:
        return [(next(monthlies), "M")]
    weeks = weekly_expiries(today, u.expiry_weekday, 2)
    month_set = {monthly_expiry(d.year, d.month, u.expiry_weekday) for d in weeks}
    extra = next(m for m in monthlies if m not in weeks)
    out = [(d, "M" if d in month_set else "W") for d in weeks] + [(extra, "M")]
    return sorted(out)


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def _row(**fields: str) -> str:
    """One CSV line in DETAILED_COLUMNS order (unset columns take the file's usual fillers);
    the trailing comma matches the published file."""
    filler = {
        "ISIN": "NA", "SERIES": "NA", "BRACKET_FLAG": "N", "COVER_FLAG": "N", "ASM_GSM_FLAG": "N",
        "ASM_GSM_CATEGORY": "NA", "BUY_SELL_INDICATOR": "A", "SM_UPPER_LIMIT": "0.0000",
        "SM_LOWER_LIMIT": "0.0000", "SM_FREEZE_QTY": "0",
    }  # fmt: skip
    return ",".join(fields.get(c, filler.get(c, "0")) for c in DETAILED_COLUMNS) + ","


def _epoch_days(day: dt.date) -> int:
    return (day - _EPOCH).days


def _index_rows() -> list[str]:
    rows = []
    for u in _UNDERLYINGS:
        rows.append(_index_row(u.exchange, u.index_id, u.name, u.index_display))
        if u.name == "NIFTY":
            rows.append(_index_row("NSE", 21, "INDIA VIX", "India VIX"))
    return rows


def _index_row(exchange: str, sec_id: int, name: str, display: str) -> str:
    return _row(
        EXCH_ID=exchange, SEGMENT="I", SECURITY_ID=str(sec_id), INSTRUMENT="INDEX",
        UNDERLYING_SECURITY_ID=str(sec_id), UNDERLYING_SYMBOL=name, SYMBOL_NAME=name,
        DISPLAY_NAME=display, INSTRUMENT_TYPE="INDEX", LOT_SIZE="1.0", SM_EXPIRY_DATE="0001-01-01",
        STRIKE_PRICE="", OPTION_TYPE="XX", TICK_SIZE="0.0500", EXPIRY_FLAG="N",
    )  # fmt: skip


def stock_rows(stocks: Sequence[tuple[int, str, str, str]] = _STOCKS) -> list[str]:
    """NSE_EQ rows (5-paise tick, lot 1) for ``(security id, symbol, display name, ISIN)``: the
    sample's own stocks by default; a benchmark appends its own to make a larger master."""
    return [
        _row(
            EXCH_ID="NSE", SEGMENT="E", SECURITY_ID=str(sec_id), ISIN=isin, INSTRUMENT="EQUITY",
            UNDERLYING_SECURITY_ID="NA", UNDERLYING_SYMBOL=symbol, SYMBOL_NAME=symbol,
            DISPLAY_NAME=display, INSTRUMENT_TYPE="ES", SERIES="EQ", LOT_SIZE="1.0",
            SM_EXPIRY_DATE="", STRIKE_PRICE="", OPTION_TYPE="", TICK_SIZE="5.0000", EXPIRY_FLAG="",
        )  # fmt: skip
        for sec_id, symbol, display, isin in stocks
    ]


def _future_row(u: _Underlying, expiry: dt.date) -> str:
    mon = _MONTHS[expiry.month - 1]
    sec_id = _FUTURE_BASE[u.exchange] + (_epoch_days(expiry) % 128) * 8 + u.code
    return _row(
        EXCH_ID=u.exchange, SEGMENT="D", SECURITY_ID=str(sec_id), INSTRUMENT="FUTIDX",
        UNDERLYING_SECURITY_ID=str(u.exchange_token), UNDERLYING_SYMBOL=u.name,
        SYMBOL_NAME=f"{u.name}-{mon}{expiry.year}-FUT", DISPLAY_NAME=f"{u.name} {mon.upper()} FUT",
        INSTRUMENT_TYPE="FUT", LOT_SIZE=f"{u.lot_units}.0", SM_EXPIRY_DATE=expiry.isoformat(),
        STRIKE_PRICE="-0.01000", OPTION_TYPE="XX", TICK_SIZE="0.0500", EXPIRY_FLAG="M",
        SM_UPPER_LIMIT=f"{u.spot_rupees * 11 // 10}.0000",
        SM_LOWER_LIMIT=f"{u.spot_rupees * 9 // 10}.0000",
        SM_FREEZE_QTY=str(u.freeze_units),
    )  # fmt: skip


def _option_rows(u: _Underlying, expiry: dt.date, flag: str) -> list[str]:
    mon = _MONTHS[expiry.month - 1]
    # Monthly contracts: NIFTY-Nov2026-26000-CE; weeklies carry the day so symbols stay unique.
    tag = f"{mon}{expiry.year}" if flag == "M" else f"{expiry.day:02d}{mon}{expiry.year}"
    base = _OPTION_BASE[u.exchange] + ((_epoch_days(expiry) % 128) * 8 + u.code) * 64
    rows = []
    for k in range(2 * STRIKES_EACH_SIDE + 1):
        strike = u.spot_rupees + (k - STRIKES_EACH_SIDE) * u.step_rupees
        for side, (opt, word) in enumerate((("CE", "CALL"), ("PE", "PUT"))):
            rows.append(
                _row(
                    EXCH_ID=u.exchange, SEGMENT="D", SECURITY_ID=str(base + k * 2 + side),
                    INSTRUMENT="OPTIDX", UNDERLYING_SECURITY_ID=str(u.exchange_token),
                    UNDERLYING_SYMBOL=u.name, SYMBOL_NAME=f"{u.name}-{tag}-{strike}-{opt}",
                    DISPLAY_NAME=f"{u.name} {expiry.day} {mon.upper()} {strike} {word}",
                    INSTRUMENT_TYPE="OP", LOT_SIZE=f"{u.lot_units}.0",
                    SM_EXPIRY_DATE=expiry.isoformat(), STRIKE_PRICE=f"{strike}.00000",
                    OPTION_TYPE=opt, TICK_SIZE="5.0000", EXPIRY_FLAG=flag,
                    SM_FREEZE_QTY=str(u.freeze_units),
                )  # fmt: skip
            )
    return rows


def sample_master_text(today: dt.date) -> str:
    """The whole file for ``today`` (header line + rows, ``\\n`` line ends)."""
    lines = [",".join(DETAILED_COLUMNS) + ","]
    lines += _index_rows()
    lines += stock_rows()
    for u in _UNDERLYINGS:
        lines.append(_future_row(u, next(_monthlies(today, u.expiry_weekday))))
    for u in _UNDERLYINGS:
        for expiry, flag in _expiries(u, today):
            lines += _option_rows(u, expiry, flag)
    return "\n".join(lines) + "\n"


def write_sample_master(path: str | os.PathLike[str], today: dt.date) -> Path:
    """Write the sample master for ``today`` to ``path`` (parents created) and return the path.

    The write is atomic (temp file + rename). An existing file with identical content is left
    untouched, so its mtime, and with it the instrument cache, stays valid across restarts.
    Raises OSError if the file cannot be written.
    """
    out = Path(path)
    data = sample_master_text(today).encode("ascii")
    if out.is_file() and out.stat().st_size == len(data) and out.read_bytes() == data:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_file(out, data, durable=False, mode=0o644)  # a plain data file
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.model.sample_master", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today, IST)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    today = args.today or today_ist()  # expiries are IST dates, not the host's
    print(write_sample_master(args.out, today))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
