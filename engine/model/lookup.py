"""The instrument master as the daemon uses it: prepared once by the supervisor (the bundled
sample regenerated for today, the cache warmed), then opened by every actor that needs it."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from engine.model.instruments import Instrument, InstrumentTable
from engine.model.ist import today_ist
from engine.model.master import load_instruments
from engine.model.master_csv import MasterFormatError
from engine.model.master_refresh import downloaded_master_path, master_source
from engine.model.sample_master import write_sample_master
from ipc.segments import InstrumentId



class UnknownInstrument(ValueError):
    pass


class MasterUnavailable(ValueError):
    """The configured instrument master cannot be read or is not a Dhan master: a restart reads
    the same file (the actor host exits with EX_CONFIG)."""


def instruments_dir(data_dir: Path) -> Path:
    return data_dir / "instruments"


def master_path(master: str, data_dir: Path, today: dt.date | None = None) -> Path:
    """``master`` is the config's ``[instruments] master``: "sample", "dhan" or "kite" (the master the
    daemon downloads every day, ``engine.model.master_refresh``) or a Dhan or Kite CSV's path."""
    source = master_source(master)
    if source is not None:
        return downloaded_master_path(instruments_dir(data_dir), source)
    if master == "sample":
        day = today or today_ist()
        return instruments_dir(data_dir) / f"sample-master-{day.isoformat()}.csv"
    return Path(master).expanduser()


def prepare_instruments(master: str, data_dir: Path, today: dt.date | None = None) -> InstrumentTable:
    """Make sure the master exists (sample: written atomically for today) and its cache is warm."""
    path = master_path(master, data_dir, today)
    if master == "sample" and not path.exists():
        write_sample_master(path, today or today_ist())  # atomic, parents created
    return load_instruments(path, cache_dir=instruments_dir(data_dir))


def open_instruments(master: str, data_dir: Path, today: dt.date | None = None) -> InstrumentTable:
    """Open the master the supervisor prepared (a cache hit); prepares it when run standalone.
    ``today``: the IST date of the caller's clock (the bundled sample is the one for that day);
    None = the machine's. Raises MasterUnavailable when the file is missing, unreadable or not a
    Dhan master."""
    try:
        return prepare_instruments(master, data_dir, today)
    except (OSError, MasterFormatError) as exc:
        hint = ("run `shikra instruments refresh`" if master_source(master) is not None else
                "download the Dhan master there, or set [instruments] master = \"dhan\" or \"sample\"")
        raise MasterUnavailable(f"instruments.master: {master_path(master, data_dir, today)}: {exc} ({hint})") from exc


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


def prepare_command(master: str, data_dir: Path, day: dt.date) -> list[str]:
    """The child process (:func:`main`) that prepares ``master`` for ``day`` (the IST date)."""
    return [sys.executable, "-m", "engine.model.lookup", "--master", master, "--data-dir", str(data_dir),
            "--day", day.isoformat()]


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.model.lookup --master M --data-dir D --day YYYY-MM-DD``: prepare the master
    (what the supervisor runs in a child process before it starts the actors: pandas and the
    exchange calendar load there and go with it, and every actor then opens the cache without
    them). Exit 0, or 2 naming the problem."""
    parser = argparse.ArgumentParser(prog="python -m engine.model.lookup")
    parser.add_argument("--master", required=True)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--day", required=True, type=dt.date.fromisoformat, help="the IST date (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    try:
        open_instruments(args.master, args.data_dir, args.day)
    except MasterUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
