"""Strategies by kind: the built-ins, plus every Strategy subclass found in the user's directory."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from actors.strategy.api import Strategy

BUILTIN: dict[str, str] = {
    "probe": "actors.strategy.builtin.probe:ProbeStrategy",
    "ema_cross": "actors.strategy.builtin.ema_cross:EmaCross",
    "supertrend_options": "actors.strategy.builtin.supertrend_options:SupertrendOptions",
    "rsi_reversal": "actors.strategy.builtin.rsi_reversal:RsiReversal",
    "vwap_breakout": "actors.strategy.builtin.vwap_breakout:VwapBreakout",
    "mean_reversion": "actors.strategy.builtin.mean_reversion:MeanReversion",
    "short_straddle": "actors.strategy.builtin.short_straddle:ShortStraddle",
    "short_strangle": "actors.strategy.builtin.short_strangle:ShortStrangle",
    "iron_condor": "actors.strategy.builtin.iron_condor:IronCondor",
    "bull_call_spread": "actors.strategy.builtin.bull_call_spread:BullCallSpread",
    "bear_put_spread": "actors.strategy.builtin.bear_put_spread:BearPutSpread",
}


class UnknownStrategy(Exception):
    pass


def _load_user_dir(user_dir: str) -> dict[str, type[Strategy]]:
    found: dict[str, type[Strategy]] = {}
    if not user_dir:
        return found
    root = Path(user_dir).expanduser()
    if not root.is_dir():
        raise UnknownStrategy(f"strategy.user_dir {root} is not a directory")
    for path in sorted(root.glob("*.py")):
        mod_name = f"shikra_user_strategies.{path.stem}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise UnknownStrategy(f"user strategy file {path} failed to import: {exc!r}") from None
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Strategy) and obj is not Strategy and obj.kind:
                found[obj.kind] = obj
    return found


def resolve(kind: str, user_dir: str = "") -> type[Strategy]:
    """The class for ``kind``; user strategies win over built-ins of the same kind."""
    user = _load_user_dir(user_dir)
    if kind in user:
        return user[kind]
    path = BUILTIN.get(kind)
    if path is None:
        known = sorted(set(BUILTIN) | set(user))
        raise UnknownStrategy(f"unknown strategy kind '{kind}'; known: {', '.join(known)}")
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def known_kinds(user_dir: str = "") -> list[str]:
    return sorted(set(BUILTIN) | set(_load_user_dir(user_dir)))
