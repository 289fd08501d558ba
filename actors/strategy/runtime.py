"""Run-time decisions about strategies that must outlive a restart: started or stopped by an
operator, parameters changed by command, instances added or removed by command.

Kept in ``<data_dir>/strategy_runtime.json`` (written atomically: temp file, fsync, rename), next
to the ledger. A file rather than the ledger because the strategy actor is not the ledger's
writer and these are a handful of operator decisions a day; every one of them is also in the
ledger's audit table through the control API. The config stays the baseline: a run-time change
sits on top of it until changed again. An instance added at run time (``instance``) runs beside
the config's; a config instance removed at run time (``removed``) is left out until added again
(a name the config uses is never added over it while the config's entry is in force).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from actors.strategy.config import StrategyInstanceConfig
from engine.files import replace_file

RUNTIME_FILE = "strategy_runtime.json"


class StrategyOverride(msgspec.Struct, forbid_unknown_fields=True):
    running: bool | None = None                                  # None: the config's ``enabled``
    params: dict[str, Any] = msgspec.field(default_factory=dict)  # merged over the config's params
    by: str = ""
    ts_ns: int = 0
    instance: StrategyInstanceConfig | None = None               # added at run time: its definition
    removed: bool = False                                         # the config's instance removed


class RuntimeFileError(Exception):
    """The file exists but cannot be read or parsed; the message names the file and the problem."""


def load_overrides(data_dir: Path) -> dict[str, StrategyOverride]:
    path = Path(data_dir) / RUNTIME_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RuntimeFileError(f"{path}: {exc.strerror}") from None
    try:
        return msgspec.json.decode(raw, type=dict[str, StrategyOverride])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RuntimeFileError(f"{path}: {exc}") from None


def instances(configured: list[StrategyInstanceConfig], overrides: dict[str, StrategyOverride]
              ) -> tuple[dict[str, StrategyInstanceConfig], list[str]]:
    """The instances in force by name: the config's minus those removed at run time, plus those
    added at run time; and the names of run-time additions ignored because the config's entry of
    that name is in force (the config was edited to add it since)."""
    out = {c.name: c for c in configured if not (c.name in overrides and overrides[c.name].removed)}
    shadowed = []
    for name, override in overrides.items():
        if override.instance is None:
            continue
        if name in out:
            shadowed.append(name)
        else:
            out[name] = override.instance
    return out, shadowed


def save_overrides(data_dir: Path, overrides: dict[str, StrategyOverride]) -> None:
    """Replace the file atomically; a crash leaves the old or the new file, never half of one."""
    replace_file(Path(data_dir) / RUNTIME_FILE, msgspec.json.format(msgspec.json.encode(overrides), indent=2))
