"""Daemon configs for tests, built from the config Structs (so a renamed or mistyped key fails where the
test builds it) and written as the TOML file ``shikra run`` reads.

``daemon_config(...)`` is a Config with what every daemon test wants (JSON logs, quick heartbeats and
restarts); ``config_toml`` writes any Config as TOML holding only what differs from the defaults, and
checks that the engine's own parser reads it back to the same Config.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from typing import Any

import msgspec

from actors.risk.limits import RiskLimits
from actors.execution.config import ExecutionConfig
from actors.feed.config import FeedConfig, SyntheticFeedConfig
from actors.risk.config import RiskConfig
from actors.strategy.config import StrategyConfig, StrategyInstanceConfig
from engine.model.schedule import ScheduleConfig
from engine.config import HOT_PATH_ACTORS, Config, EngineConfig, LogConfig, RestartConfig, parse_config
from tests.support.ledger import START_CASH

def engine_section(actors: list[str] | None = None, **fields: Any) -> EngineConfig:
    """[engine] for ``actors`` (the hot path by default) with heartbeats every 0.2 s and a restart
    within a second (up to 20 in a minute before the kill switch), plus ``fields``."""
    fields = {"heartbeat_interval_s": 0.2,
              "restart": RestartConfig(backoff_initial_s=0.2, backoff_max_s=1.0, max_restarts=20), **fields}
    return EngineConfig(actors=list(actors or HOT_PATH_ACTORS), **fields)


def synthetic_feed(stocks: list[str], underlyings: list[str] | None = None, rate_per_s: int = 400,
                   option_strikes_each_side: int = 1) -> FeedConfig:
    """The synthetic market with only these instruments (a small market: every instrument ticks often)."""
    return FeedConfig(synthetic=SyntheticFeedConfig(
        rate_per_s=rate_per_s, stocks=stocks, underlyings=underlyings or [],
        option_strikes_each_side=option_strikes_each_side))


def unlimited_limits(**fields: Any) -> RiskLimits:
    """Risk limits no probe reaches (order rates and daily counts), plus ``fields``."""
    return RiskLimits(**{"max_orders_per_second": 1000, "max_orders_per_day": 1_000_000,
                         "max_trades_per_day": 1_000_000, **fields})


def strategy_instance(name: str, kind: str, instrument: str = "", **params: Any) -> StrategyInstanceConfig:
    return StrategyInstanceConfig(name=name, kind=kind, instrument=instrument, params=params)


def daemon_config(**sections: Any) -> Config:
    """A Config for a test daemon: ``engine_section()``, JSON logs and the daily schedule off unless
    given, the other sections as given. (A daemon test runs at any wall time: the day's phase then
    would change what it sees, e.g. a live feed stays off at night.)"""
    sections.setdefault("engine", engine_section())
    sections.setdefault("log", LogConfig(format="json"))
    sections.setdefault("schedule", ScheduleConfig(enabled=False))
    return Config(**sections)


def paper_config(topology: str = "isolated", every: int = 5, rate_per_s: int = 400, qty_units: int = 0,
                 instrument: str = "RELIANCE") -> Config:
    """The hot path on paper with the probe strategy (an order every ``every`` ticks of
    ``instrument``) on RELIANCE and NIFTY options one strike each side, starting with START_CASH."""
    return daemon_config(
        engine=engine_section(topology=topology),
        feed=synthetic_feed(["RELIANCE"], ["NIFTY"], rate_per_s=rate_per_s),
        risk=RiskConfig(limits=unlimited_limits()),
        execution=ExecutionConfig(starting_cash_paise=START_CASH),
        strategy=StrategyConfig(instances=[strategy_instance("probe", "probe", instrument, every_n_ticks=every,
                                                             qty_units=qty_units)]))


def config_toml(cfg: Config) -> str:
    """``cfg`` as TOML: only the keys that differ from the defaults. Raises when the engine would
    read it back as anything else (so a test never runs on a config it did not mean)."""
    text = "\n".join(_table(_changed(cfg), ())) + "\n"
    back = parse_config(text, "<test config>")
    if back != cfg:
        raise AssertionError(f"the TOML does not read back as the Config it was written from:\n{text}")
    return text


def _changed(struct: msgspec.Struct) -> dict[str, Any]:
    """The fields of ``struct`` that differ from their defaults (required ones always), as TOML values."""
    out: dict[str, Any] = {}
    for field in msgspec.structs.fields(struct):
        value = getattr(struct, field.name)
        if not field.required:
            default = field.default if field.default is not msgspec.NODEFAULT else field.default_factory()
            if value == default:
                continue
        out[field.encode_name] = _value(value)
    return out


def _value(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return _changed(value)
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if value is None:
        raise ValueError("TOML has no null: a key set to None cannot be written")
    return value


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(table: dict[str, Any], path: tuple[str, ...], array: bool = False) -> list[str]:
    """Lines of one table: its plain keys under its header, then its sub-tables and arrays of tables."""
    plain = {k: v for k, v in table.items() if not (isinstance(v, dict) and v) and not _is_tables(v)}
    nested = {k: v for k, v in table.items() if k not in plain}
    lines: list[str] = []
    if array:
        lines.append(f"[[{_dotted(path)}]]")
    elif path and (plain or not nested):
        lines.append(f"[{_dotted(path)}]")
    lines += [f"{_key(k)} = {_inline(v)}" for k, v in plain.items()]
    for key, value in nested.items():
        if isinstance(value, dict):
            lines += _table(value, (*path, key))
        else:
            for item in value:
                lines += _table(item, (*path, key), array=True)
    return lines


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(p) for p in path)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"no TOML for {value!r}")
