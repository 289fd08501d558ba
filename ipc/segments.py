"""Exchange segments and instrument identity: the one vocabulary every module names instruments in.

An instrument is a Dhan exchange segment code (the feed header's byte 3) and a security id (a
32-bit unsigned integer). Three forms, each made here and nowhere else:

- :class:`InstrumentId` ``(segment, security_id)``: a NamedTuple, so it equals (and hashes like)
  the plain tuple ``(msg.segment, msg.security_id)``. That tuple is the dict key of per-instrument
  tables, hot paths included: CPython builds and hashes it as fast as an inline packed int and
  faster than a call to :func:`instrument_key` (measured on the paper venue's ``on_tick``).
- :func:`instrument_key`: ONE packed integer, ``segment << 32 | security_id``, where one number
  is needed: numpy columns (it works element-wise on int64 arrays), sorted indices and hash
  tables. The instrument table's sorted id index is cached on disk in this packing
  (``engine/model/master.py``): change it only together with that cache's version.
- :func:`instrument_label`: the text ``"NSE_FNO:55796"`` (or, with ``sep="."``, the
  ``NSE_FNO.55796`` that topics and risk-limit tables use).

Messages carry ``segment`` as a plain ``int`` (wire compatibility; an unknown code still decodes):
a label of an unknown code shows its number.
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple


class Segment(enum.IntEnum):
    """Dhan exchange segment codes (feed header byte 3); the member name is the segment's label."""

    IDX_I = 0
    NSE_EQ = 1
    NSE_FNO = 2
    NSE_CURRENCY = 3
    BSE_EQ = 4
    MCX_COMM = 5
    BSE_CURRENCY = 7
    BSE_FNO = 8

    @property
    def label(self) -> str:
        """``"NSE_FNO"``: the name Dhan's REST API, the instrument master and topics use."""
        return self.name

    @classmethod
    def from_label(cls, text: str) -> Segment | None:
        """The segment named ``text`` (case and surrounding blanks ignored), or None."""
        return cls.__members__.get(text.strip().upper())


SECURITY_ID_BITS: Final = 32
SECURITY_ID_MASK: Final = (1 << SECURITY_ID_BITS) - 1
# Every label, in code order, for error messages ("... is not one of IDX_I, NSE_EQ, ...").
SEGMENT_LABELS: Final = ", ".join(s.name for s in Segment)
_LABELS: Final[dict[int, str]] = {int(s): s.name for s in Segment}
# The codes as plain ints: membership tests (``code in KNOWN_SEGMENTS``) and lookup tables.
KNOWN_SEGMENTS: Final[frozenset[int]] = frozenset(_LABELS)
# Cash equity: the only home of delivery (CNC) orders, charged on the equity schedules.
EQUITY_SEGMENTS: Final[frozenset[int]] = frozenset({int(Segment.NSE_EQ), int(Segment.BSE_EQ)})


def segment_label(segment: int | str) -> str:
    """``"NSE_FNO"`` for 2; an unknown code shows as its number, a label (text, as in the control
    API's messages) as itself."""
    try:
        return _LABELS[segment]
    except (KeyError, TypeError):
        return str(segment)


def instrument_label(segment: int | str, security_id: int, sep: str = ":") -> str:
    """``"NSE_FNO:55796"``: how an instrument is named in text (logs, reasons, reports).

    ``sep="."`` gives ``"NSE_FNO.55796"``, the form of topics and of risk-limit table keys."""
    return f"{segment_label(segment)}{sep}{security_id}"


def instrument_key(segment: int, security_id: int) -> int:
    """The one packed integer of an instrument: ``segment << 32 | security_id``.

    Unique for ``0 <= security_id < 2**32`` and ``segment >= 0``; ordered by segment, then id.
    Works element-wise on numpy int64 arrays (cast both first)."""
    return (segment << SECURITY_ID_BITS) | security_id


def split_key(key: int) -> tuple[int, int]:
    """``(segment, security_id)`` of a packed key (element-wise on int64 arrays too)."""
    return key >> SECURITY_ID_BITS, key & SECURITY_ID_MASK


class InstrumentId(NamedTuple):
    """One instrument: ``(segment, security_id)``; equal to the plain tuple of the same values."""

    segment: int
    security_id: int

    @property
    def key(self) -> int:
        return instrument_key(self.segment, self.security_id)

    @property
    def label(self) -> str:
        return instrument_label(self.segment, self.security_id)

    @classmethod
    def from_key(cls, key: int) -> InstrumentId:
        return cls(key >> SECURITY_ID_BITS, key & SECURITY_ID_MASK)

    @classmethod
    def parse(cls, text: str) -> InstrumentId | None:
        """``"NSE_FNO:55796"`` (segment case-insensitive, blanks around ignored) -> the id.

        None when ``text`` has no ``:`` (it is something else, a trading symbol say); ValueError
        naming the text when it has one but is not a known segment and a security id in
        1 .. 2**32 - 1."""
        seg, found, sid = text.strip().partition(":")
        if not found:
            return None
        segment = Segment.from_label(seg)
        if segment is None or not (sid.isascii() and sid.isdigit()) or not 0 < int(sid) <= SECURITY_ID_MASK:
            raise ValueError(f"'{text}' is not SEGMENT:SECURITY_ID with a known segment ({SEGMENT_LABELS})")
        return cls(int(segment), int(sid))
