"""What ran of the daily schedule, as the control actor hears it on the bus (``DayPhaseBegan``,
``DailyTaskFinished``): ``shikra schedule`` answers from it. Kept in the control actor's own file,
``<data_dir>/control-schedule.json`` (rewritten at each message: a few a day), so a restarted
control still knows what ran earlier in the day. The last :data:`KEEP_DAYS` days are kept.

Thread safety: the actor's loop writes (``record``), the gRPC thread reads (``day``): each write
builds new lists and swaps the dict entry whole, so a reader sees one day's record before or after
a message, never half of one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import msgspec

from engine.files import replace_file
from ipc.messages import DailyTaskFinished, DayPhaseBegan

FILE: Final = "control-schedule.json"
KEEP_DAYS: Final = 14


class DayRecord(msgspec.Struct, frozen=True):
    day: str
    trading_day: bool = False
    phases: tuple[DayPhaseBegan, ...] = ()
    tasks: tuple[DailyTaskFinished, ...] = ()


class ScheduleLog:
    def __init__(self, data_dir: Path | None) -> None:
        """``data_dir`` None: in memory only. An unreadable file starts an empty log (it only
        costs the earlier part of today's record)."""
        self.path = data_dir / FILE if data_dir is not None else None
        self.days: dict[str, DayRecord] = {}
        self.load_error = ""
        if self.path is not None and self.path.exists():
            try:
                records = msgspec.json.decode(self.path.read_bytes(), type=list[DayRecord])
                self.days = {r.day: r for r in records}
            except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                self.load_error = str(exc)[:200]

    def day(self, day: str) -> DayRecord:
        return self.days.get(day) or DayRecord(day)

    def record(self, msg: DayPhaseBegan | DailyTaskFinished) -> None:
        old = self.day(msg.day)
        if isinstance(msg, DayPhaseBegan):
            new = msgspec.structs.replace(old, trading_day=msg.trading_day, phases=old.phases + (msg,))
        else:
            new = msgspec.structs.replace(old, tasks=old.tasks + (msg,))
        days = dict(self.days)
        days[msg.day] = new
        for stale in sorted(days)[:-KEEP_DAYS]:
            del days[stale]
        self.days = days

    def save(self) -> None:
        """Raises OSError."""
        if self.path is not None:
            replace_file(self.path, msgspec.json.encode(list(self.days.values())), durable=False)
