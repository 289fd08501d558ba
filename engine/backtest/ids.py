"""What a backtest keeps of its fills while it runs: ``StructTape`` keeps the fills (and the
journal's trades) as MessagePack, about 160 bytes a fill (about 400 as objects), and decodes one
when it is read. In memory by default; with ``spill_bytes`` the encoded values go to an unnamed
temporary file in writes of about that size, so that a 1 M-tick backtest's fills (~190,000, ~30 MiB)
are not part of the process's peak memory (only 8 bytes a value, their ends, stay in memory).
"""

from __future__ import annotations

import os
import tempfile
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

    def __init__(self, kind: type[T], values: Iterable[T] = (), *, spill_bytes: int | None = None) -> None:
        if kind.__struct_config__.array_like:  # type: ignore[attr-defined]
            self._as_array: Any = None
            self._decode: Any = msgspec.msgpack.Decoder(kind).decode
        else:
            types = tuple(field.type for field in msgspec.structs.fields(kind))
            fields = msgspec.msgpack.Decoder(tuple[types])  # type: ignore[valid-type]
            self._as_array = msgspec.structs.astuple
            self._decode = lambda raw: kind(*fields.decode(raw))
        # In memory: the whole tape. Spilled: the tail not yet written to the file (which holds
        # the first ``_written`` bytes); written once it reaches ``spill_bytes``.
        self._buf = bytearray()
        self._ends = array("Q")
        self._spill_bytes = spill_bytes
        self._file = tempfile.TemporaryFile(prefix="shikra-tape-", buffering=0) if spill_bytes is not None else None
        self._written = 0
        for value in values:
            self.append(value)

    def append(self, value: T) -> None:
        buf = self._buf
        _ENCODER.encode_into(value if self._as_array is None else self._as_array(value), buf, len(buf))
        self._ends.append(self._written + len(buf))
        if self._spill_bytes is not None and len(buf) >= self._spill_bytes:
            self._flush()

    def _flush(self) -> None:
        assert self._file is not None
        view = memoryview(self._buf)
        while view:  # a write may be partial
            n = os.pwrite(self._file.fileno(), view, self._written)
            self._written += n
            view = view[n:]
        view.release()
        self._buf = bytearray()

    def _raw(self, start: int, end: int) -> bytes | memoryview:
        """The encoded bytes ``[start, end)`` of the tape (a copy when they come from the file)."""
        if start >= self._written:
            return memoryview(self._buf)[start - self._written:end - self._written]
        if end > self._written:
            self._flush()  # a value is either wholly in the file or wholly in the tail
        assert self._file is not None
        return os.pread(self._file.fileno(), end - start, start)

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
        return self._decode(self._raw(start, self._ends[index]))  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[T]:
        decode = self._decode
        start = 0
        if self._file is None:
            for end in self._ends:
                yield decode(self._buf[start:end])  # a copy: the tape may grow while this runs
                start = end
            return
        # Spilled: read the file a chunk of values at a time (one read per ~spill_bytes, not per value).
        chunk: bytes | memoryview = b""
        chunk_start = 0
        for end in self._ends:
            if end > chunk_start + len(chunk):
                chunk_start = start
                chunk = self._raw(start, max(end, min(start + (self._spill_bytes or 0), self._written)))
                if isinstance(chunk, memoryview):
                    chunk = bytes(chunk)  # the tail may grow (and move) while this runs
            yield decode(memoryview(chunk)[start - chunk_start:end - chunk_start])
            start = end

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StructTape({len(self)} values)"
