"""The instrument master as the daemon uses it: prepared once by the supervisor (the bundled
sample regenerated for today, the cache warmed), then opened by every actor that needs it."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from engine.config import Config
from engine.instruments import Instrument, InstrumentTable, load_instruments
from engine.sample_master import write_sample_master
from ipc.segments import InstrumentId

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


class UnknownInstrument(ValueError):
    pass


def today_ist() -> dt.date:
    return dt.datetime.now(IST).date()


def instruments_dir(data_dir: Path) -> Path:
    return data_dir / "instruments"


def master_path(cfg: Config, data_dir: Path, today: dt.date | None = None) -> Path:
    if cfg.instruments.master == "sample":
        day = today or today_ist()
        return instruments_dir(data_dir) / f"sample-master-{day.isoformat()}.csv"
    return Path(cfg.instruments.master).expanduser()


def prepare_instruments(cfg: Config, data_dir: Path, today: dt.date | None = None) -> InstrumentTable:
    """Make sure the master exists (sample: written atomically for today) and its cache is warm."""
    path = master_path(cfg, data_dir, today)
    if cfg.instruments.master == "sample" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        write_sample_master(tmp, today or today_ist())
        os.replace(tmp, path)
    return load_instruments(path, cache_dir=instruments_dir(data_dir))


def open_instruments(cfg: Config, data_dir: Path) -> InstrumentTable:
    """Open the master the supervisor prepared (a cache hit); prepares it when run standalone."""
    return prepare_instruments(cfg, data_dir)


def resolve_instrument(table: InstrumentTable, text: str) -> Instrument:
    """``"NSE_FNO:55796"`` (segment name and security id) or a trading symbol (``"RELIANCE"``)."""
    try:
        iid = InstrumentId.parse(text)
    except ValueError as exc:
        raise UnknownInstrument(str(exc)) from None
    if iid is not None:
        inst = table.get(*iid)
        if inst is None:
            raise UnknownInstrument(f"instrument {text} is not in the instrument master")
        return inst
    inst = table.by_symbol(text)
    if inst is None:
        raise UnknownInstrument(f"no instrument with symbol '{text}' in the instrument master")
    return inst
