"""What a backtest keeps of its fills while it runs, in memory that grows by about 100 bytes a
fill: ``StructTape`` keeps the fills (and the journal's trades) as MessagePack, one buffer for all
of them, and decodes one when it is read (about 400 bytes a fill as objects).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, Generic, TypeVar, overload

import msgspec

_ENCODER: Final = msgspec.msgpack.Encoder()
T = TypeVar("T")


class StructTape(Sequence[T], Generic[T]):
    """Values of one msgspec Struct type in the order they were appended, stored encoded as
    arrays of their fields (no field names); each read decodes a fresh copy. Not itself
    encodable by msgspec (iterate it)."""

    def __init__(self, kind: type[T], values: Iterable[T] = ()) -> None:
        if kind.__struct_config__.array_like:  # type: ignore[attr-defined]
            self._as_array: Any = None
            self._decode: Any = msgspec.msgpack.Decoder(kind).decode
        else:
            types = tuple(field.type for field in msgspec.structs.fields(kind))
            fields = msgspec.msgpack.Decoder(tuple[types])  # type: ignore[valid-type]
            self._as_array = msgspec.structs.astuple
            self._decode = lambda raw: kind(*fields.decode(raw))
        self._buf = bytearray()
        self._ends = array("Q")
        for value in values:
            self.append(value)

    def append(self, value: T) -> None:
        _ENCODER.encode_into(value if self._as_array is None else self._as_array(value), self._buf, len(self._buf))
        self._ends.append(len(self._buf))

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self._ends)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} of {n}")
        start = self._ends[index - 1] if index else 0
        return self._decode(memoryview(self._buf)[start:self._ends[index]])  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[T]:
        decode = self._decode
        start = 0
        for end in self._ends:
            yield decode(self._buf[start:end])  # a copy: the tape may grow while this runs
            start = end

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StructTape({len(self)} values)"
