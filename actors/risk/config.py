"""The risk actor's configuration: the ``[risk]`` section (its limits are in ``limits.py``)."""

from __future__ import annotations

from actors.risk.expiry_close import ExpiryCloseConfig
from actors.risk.limits import RiskLimits
from engine.model.calendar import MarketHours
from engine.section import Section


class RiskConfig(Section):
    market_hours: MarketHours = "auto"  # engine.model.calendar.market_hours says what each means
    limits: RiskLimits = RiskLimits()
    expiry: ExpiryCloseConfig = ExpiryCloseConfig()  # closing contracts that expire today
