"""Loading the Dhan instrument master: parsed once (``engine.model.master_csv``), then cached.

Caching
-------
``load_instruments`` writes the parsed table (columns and indices) to
``<cache_dir>/instruments-<csv stem>-<key>.npz``, where the key hashes the file size, mtime_ns, the
first and last 64 KiB of the file, the tick-size option and the cache layout version. Reloading an
unchanged file reads only the npz; a changed file misses and is parsed again, and older caches of
the same CSV are deleted. A cache that cannot be read or written is reported, never fatal.

CLI: ``python -m engine.model.master search TEXT --master PATH [--limit N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from engine.files import replacing
from engine.model.instruments import REQUIRED_ARRAYS, Instrument, InstrumentTable
from engine.model.master_csv import CacheStatus, LoadReport, MasterFormatError, TickSizeUnit, parse_master
from ipc.segments import segment_label

_CACHE_VERSION = 2  # bump when the parse rules or the cached array layout change
_CACHE_PREFIX = "instruments-"
_HASH_BYTES = 65536


def load_instruments(
    path: str | os.PathLike[str],
    *,
    tick_size_unit: TickSizeUnit = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> InstrumentTable:
    """Load a Dhan instrument master CSV (compact or detailed, detected from the header).

    ``cache_dir`` defaults to the CSV's own directory. Raises ``MasterFormatError`` when the
    header lacks a required column or is not a Dhan master, ``OSError`` when the CSV cannot be
    read, ``ValueError`` for an unknown ``tick_size_unit``. Bad rows and cache problems are
    reported in ``table.report``, never raised.
    """
    if tick_size_unit not in ("auto", "paise", "rupees"):
        raise ValueError(
            f"tick_size_unit must be 'auto', 'paise' or 'rupees', not {tick_size_unit!r}"
        )
    started = time.perf_counter()
    src = Path(path)
    if not use_cache:
        arrays, report = parse_master(src, tick_size_unit)
        return InstrumentTable(arrays, _with(report, "disabled", "", started))

    cdir = Path(cache_dir) if cache_dir is not None else src.parent
    key = _cache_key(src, tick_size_unit)
    cache_path = cdir / f"{_CACHE_PREFIX}{src.stem}-{key}.npz"
    status: CacheStatus = "written"
    if cache_path.exists():
        loaded = _read_cache(cache_path)
        if loaded is not None:
            arrays, report = loaded
            return InstrumentTable(arrays, _with(report, "hit", str(cache_path), started))
        status = "corrupt_rebuilt"
    arrays, report = parse_master(src, tick_size_unit)
    if _cache_key(src, tick_size_unit) != key:
        status = "changed_during_read"  # do not file new content under the old key
    elif not _write_cache(cache_path, arrays, report, src.stem):
        status = "unwritable"
    return InstrumentTable(arrays, _with(report, status, str(cache_path), started))


def _with(report: LoadReport, cache: CacheStatus, cache_path: str, started: float) -> LoadReport:
    return msgspec.structs.replace(
        report, cache=cache, cache_path=cache_path, load_s=time.perf_counter() - started
    )


def _cache_key(src: Path, tick_size_unit: TickSizeUnit) -> str:
    st = src.stat()
    h = hashlib.blake2b(digest_size=10)
    h.update(f"{_CACHE_VERSION}|{st.st_size}|{st.st_mtime_ns}|{tick_size_unit}|".encode())
    with src.open("rb") as f:
        h.update(f.read(_HASH_BYTES))
        if st.st_size > _HASH_BYTES:
            f.seek(max(_HASH_BYTES, st.st_size - _HASH_BYTES))
            h.update(f.read(_HASH_BYTES))
    return h.hexdigest()


def _read_cache(cache_path: Path) -> tuple[dict[str, np.ndarray], LoadReport] | None:
    try:
        with np.load(cache_path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        report = msgspec.json.decode(arrays.pop("_report").tobytes(), type=LoadReport)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, msgspec.DecodeError):
        return None
    if not REQUIRED_ARRAYS <= arrays.keys():
        return None
    return arrays, report


def _write_cache(
    cache_path: Path, arrays: dict[str, np.ndarray], report: LoadReport, stem: str
) -> bool:
    """Write atomically (temp file + rename), then delete older caches of the same CSV."""
    payload = dict(arrays)
    payload["_report"] = np.frombuffer(msgspec.json.encode(report), dtype=np.uint8)
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(cache_path, durable=False, mode=0o600) as f:  # a cache: rebuilt if lost
            np.savez(f, **payload)
        for old in cache_path.parent.glob(f"{_CACHE_PREFIX}*.npz"):
            # The key is hex (no dash), so this recovers the stem even when it contains dashes.
            old_stem = old.name[len(_CACHE_PREFIX) : -len(".npz")].rpartition("-")[0]
            if old_stem == stem and old != cache_path:
                old.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def _format_row(inst: Instrument) -> str:
    expiry = str(inst.expiry_date) if inst.expiry_yyyymmdd else "-"
    p = inst.strike_paise
    strike = f"{p // 100}.{p % 100:02d}" if p else "-"
    return (
        f"{segment_label(inst.segment):<12} {inst.security_id:>8}  {inst.symbol:<28} {inst.instrument:<7} "
        f"{expiry:<10} {strike:>10} {inst.option_type}  lot {inst.lot_size_units:<5} "
        f"tick {inst.tick_paise}p  {inst.display_name}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.model.master")
    sub = parser.add_subparsers(dest="command", required=True)
    p_search = sub.add_parser("search", help="find instruments by symbol or name")
    p_search.add_argument("text")
    p_search.add_argument("--master", required=True, type=Path, help="instrument master CSV")
    p_search.add_argument("--limit", type=int, default=20)
    p_search.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        table = load_instruments(args.master, cache_dir=args.cache_dir)
    except (MasterFormatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for inst in table.search(args.text, args.limit):
        print(_format_row(inst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
