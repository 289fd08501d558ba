"""Risk's live figures for operators: written by the risk actor to ``<run_dir>/risk_usage.json``
once a second (atomically) and served by the control API (``shikra risk show``)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from engine.files import replace_file

USAGE_NAME = "risk_usage.json"


class RiskUsage(msgspec.Struct, frozen=True, kw_only=True):
    state: str
    orders_today: int
    orders_last_second: int
    trades_today: int
    open_orders: int
    gross_exposure_paise: int
    net_long_paise: int
    net_short_paise: int
    day_pnl_paise: int
    cash_paise: int
    reserved_paise: int
    max_orders_per_second: int
    max_orders_per_day: int
    max_trades_per_day: int
    max_open_orders: int
    max_gross_exposure_paise: int
    max_net_exposure_paise: int
    daily_max_loss_paise: int
    ts_ns: int


def write_usage(run_dir: Path, usage: RiskUsage) -> None:
    replace_file(run_dir / USAGE_NAME, msgspec.json.encode(usage), durable=False)


def read_usage(run_dir: Path) -> RiskUsage | None:
    try:
        return msgspec.json.decode((run_dir / USAGE_NAME).read_bytes(), type=RiskUsage)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None
