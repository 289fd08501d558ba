"""The risk actor's configuration: the ``[risk]`` section (its limits are in ``limits.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from actors.risk.limits import RiskLimits
from engine.model.calendar import MarketHours
from engine.section import Section


class ExpiryCloseConfig(Section):
    """``[risk.expiry]``: when positions in expiring contracts are closed (``actors.risk.expiry_close``;
    kept here so that reading the config does not import the risk rules)."""

    enabled: bool = True
    close_ist: dt.time = dt.time(15, 10)
    stock_derivatives: Literal["close", "deliver"] = "close"

    def __post_init__(self) -> None:
        if self.close_ist.tzinfo is not None:
            raise ValueError(f"risk.expiry.close_ist ({self.close_ist.isoformat()}) must be an IST wall time "
                             "without a UTC offset")


class RiskConfig(Section):
    market_hours: MarketHours = "auto"  # engine.model.calendar.market_hours says what each means
    limits: RiskLimits = RiskLimits()
    expiry: ExpiryCloseConfig = ExpiryCloseConfig()  # closing contracts that expire today
