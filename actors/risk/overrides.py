"""Risk limits changed at run time (``shikra risk set``, gRPC SetRiskLimits), on top of the config.

The changes are a JSON object in the shape of ``[risk.limits]`` (see actors/risk/limits.py) kept in
``<data_dir>/risk_limits.json`` (atomic write) so they survive restarts; the config's section stays
the baseline. Merging is key by key into nested objects; a ``null`` removes a run-time change so
the config's value applies again. The merged result is validated as a whole by the RiskLimits
Struct, so a bad key or value is refused with its path before anything changes.

Pure functions except ``load_changes`` / ``save_changes``; the risk actor applies the result and
the control actor reads the same file to answer GetRiskLimits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from actors.risk.limits import RiskLimits
from engine.files import replace_file

LIMITS_FILE = "risk_limits.json"


class LimitsChanges(msgspec.Struct, forbid_unknown_fields=True):
    changes: dict[str, Any] = msgspec.field(default_factory=dict)
    by: str = ""
    ts_ns: int = 0


class BadLimits(ValueError):
    """The changes are not valid limits; the message names the key and the rule."""


def merge_changes(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` merged into ``current`` (neither is modified): objects key by key, ``None``
    deletes the key, anything else replaces."""
    out = dict(current)
    for key, value in update.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            merged = merge_changes(out[key], value)
            if merged:
                out[key] = merged
            else:
                out.pop(key)
        elif isinstance(value, dict):
            merged = merge_changes({}, value)
            if merged:
                out[key] = merged
        else:
            out[key] = value
    return out


def _overlay(base: Any, changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _overlay(out[key], value)
        else:
            out[key] = value
    return out


def effective_limits(config_limits: RiskLimits, changes: dict[str, Any]) -> RiskLimits:
    """The config's limits with ``changes`` on top, validated. Raises BadLimits."""
    if not changes:
        return config_limits
    merged = _overlay(msgspec.to_builtins(config_limits), changes)
    try:
        return msgspec.convert(merged, RiskLimits, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc).replace("`", "").replace(" - at $.", " at ").replace("Object contains unknown field",
                                                                              "unknown key")
        raise BadLimits(text) from None
    except ValueError as exc:  # RiskLimits.__post_init__ cross-field rules
        raise BadLimits(str(exc)) from None


def parse_update(text: str) -> dict[str, Any]:
    """A change request as sent over the API: a JSON object. Raises BadLimits."""
    try:
        update = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise BadLimits(f"changes are not JSON: {exc}") from None
    if not isinstance(update, dict) or not update:
        raise BadLimits('changes must be a non-empty JSON object of the keys to change, e.g. '
                        '{"max_orders_per_day": 500}')
    return update


def limits_json(limits: RiskLimits) -> str:
    return msgspec.json.encode(limits).decode()


def load_changes(data_dir: Path) -> LimitsChanges:
    """The kept run-time changes (empty when none). Raises BadLimits naming the file."""
    path = Path(data_dir) / LIMITS_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LimitsChanges()
    except OSError as exc:
        raise BadLimits(f"{path}: {exc.strerror}") from None
    try:
        return msgspec.json.decode(raw, type=LimitsChanges)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadLimits(f"{path}: {exc}") from None


def save_changes(data_dir: Path, changes: LimitsChanges) -> None:
    """Replace the file atomically (temp file, fsync, rename)."""
    replace_file(Path(data_dir) / LIMITS_FILE, msgspec.json.format(msgspec.json.encode(changes), indent=2))
