"""Encoding and decoding of bus payloads (MessagePack, tagged array Structs).

Decodes from any buffer: the bytes of a received frame, or a ``memoryview`` over one.
A payload that fails to decode is classified, so the log says *why* it was refused:

- ``UNKNOWN_VERSION``: a known message kind with a schema version this build does not know;
- ``UNKNOWN_TYPE``: a well-formed array whose tag names no message kind we know;
- ``CORRUPT``: not a tagged MessagePack array at all, or fields that do not match the schema.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from ipc.messages import ALL_MESSAGE_TYPES, AnyMessage, Message

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyMessage)
_raw_decoder = msgspec.msgpack.Decoder()

KNOWN_TAGS: frozenset[str] = frozenset(t.__struct_config__.tag for t in ALL_MESSAGE_TYPES)  # type: ignore[misc]
KNOWN_KINDS: frozenset[str] = frozenset(tag.partition("@")[0] for tag in KNOWN_TAGS)


class DecodeFailure(str, enum.Enum):
    UNKNOWN_VERSION = "UNKNOWN_VERSION"
    UNKNOWN_TYPE = "UNKNOWN_TYPE"
    CORRUPT = "CORRUPT"


class DecodeError(Exception):
    """A payload that could not be decoded; ``failure`` says why, ``detail`` has the specifics."""

    def __init__(self, failure: DecodeFailure, detail: str) -> None:
        super().__init__(f"{failure.value}: {detail}")
        self.failure = failure
        self.detail = detail


def encode(msg: Message) -> bytes:
    """MessagePack bytes of one message (hot path)."""
    return _encoder.encode(msg)


def encode_into(msg: Message, buffer: bytearray) -> None:
    """Encode into a reusable buffer (hot path; avoids an allocation per message)."""
    _encoder.encode_into(msg, buffer)


def decode(buf: Any) -> Message:
    """Decode one payload from any buffer (bytes, memoryview over a zmq frame).

    Raises DecodeError; never any other exception for bad input.
    """
    try:
        return _decoder.decode(buf)  # hot path
    except (msgspec.MsgspecError, ValueError) as exc:  # invalid UTF-8 raises UnicodeDecodeError
        raise DecodeError(classify(buf), str(exc)) from None


def classify(buf: Any) -> DecodeFailure:
    """Why a payload failed to decode (only called on the error path)."""
    try:
        raw = _raw_decoder.decode(buf)
    except (msgspec.MsgspecError, ValueError):
        return DecodeFailure.CORRUPT
    if not isinstance(raw, list) or not raw or not isinstance(raw[0], str):
        return DecodeFailure.CORRUPT
    tag = raw[0]
    if tag in KNOWN_TAGS:
        return DecodeFailure.CORRUPT  # right tag, wrong fields
    kind, sep, _version = tag.partition("@")
    if sep and kind in KNOWN_KINDS:
        return DecodeFailure.UNKNOWN_VERSION
    return DecodeFailure.UNKNOWN_TYPE


def tag_of(msg_type: type[Message]) -> str:
    return msg_type.__struct_config__.tag  # type: ignore[return-value]
