"""The control API's size limits: what a request may carry, checked at the edge before any
handler runs, the gRPC message and metadata sizes of the server and the CLI, and how an error
text quotes a value the client sent.

One place for every limit. The server (``actors.control``) checks each request with
:func:`check_request` and answers INVALID_ARGUMENT with the returned text; the CLI opens its
channel with :func:`channel_options` and checks JSON it builds with :func:`json_problem` before
sending it. The README's control API section lists the numbers.

Strings are counted in characters (Unicode code points), so a limit means the same for ASCII
and for emoji; the message size bounds the bytes. JSON fields (every string field whose name
ends in ``_json``) are scanned for nesting depth without parsing (no recursion at all) before
anything decodes them: msgspec's C decoder recurses per level and raises RecursionError near
Python's recursion limit (about 1,000 levels), which must never reach a handler.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgspec
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from engine.control_api.quoting import quote_value

# gRPC transport ---------------------------------------------------------------------------------
MAX_REQUEST_BYTES: Final = 1 << 20            # 1 MiB: the largest request is a 64 KiB JSON field
MAX_RESPONSE_BYTES: Final = 64 << 20          # 64 MiB: ListOrders of 100,000 orders is ~20 MiB
MAX_METADATA_BYTES: Final = 16 << 10          # 16 KiB of headers or trailers, either way
MAX_DETAIL_BYTES: Final = 1024                # a refusal's text (UTF-8): gRPC percent-encodes it
                                              # into a trailer (x3 at most), well under 16 KiB

# Request fields ---------------------------------------------------------------------------------
MAX_STRING_CHARS: Final = 16_384              # any string or bytes field without an override
MAX_REPEATED_ITEMS: Final = 1_000             # any repeated or map field without an override
MAX_JSON_CHARS: Final = 65_536                # a *_json field
MAX_JSON_DEPTH: Final = 16                    # nested objects/arrays in a *_json field
MAX_JSON_ELEMENTS: Final = 4_096              # values (scalars, objects, arrays) in a *_json field
MAX_JSON_KEY_CHARS: Final = 128               # an object key in a *_json field (keys are names)

# Per-field overrides (full proto name -> limit in characters, or items for a repeated field).
# A name that is not a field of the proto fails the test that checks this table.
FIELD_LIMITS: Final[dict[str, int]] = {
    # Shown in every status message and file while the kill switch is engaged.
    "shikra.v1.EngageKillSwitchRequest.reason": 1_024,
    # Each word is one scan of the instrument master: a search box, not a document.
    "shikra.v1.SearchInstrumentsRequest.text": 256,
    # Each instrument is a lookup and a quote in the answer: a watch list, not the whole master.
    "shikra.v1.GetQuoteRequest.instruments": 100,
    # Each instrument is a subscription on the live feed's one connection (5,000 at most).
    "shikra.v1.SubscribeFeedRequest.instruments": 100,
    "shikra.v1.UnsubscribeFeedRequest.instruments": 100,
    # A strategy's name shows in every order id, topic and table; a kind is a class name.
    "shikra.v1.AddStrategyRequest.name": 64,
    "shikra.v1.AddStrategyRequest.kind": 64,
    "shikra.v1.AddStrategyRequest.instrument": 256,
}

_STRINGS: Final = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
_JSON_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)  # unterminated too: to the end
_BRACKET: Final = re.compile(r"[\[\]{}]")


def server_options() -> list[tuple[str, int]]:
    """For ``grpc.aio.server(options=...)``: it receives requests and sends responses."""
    return [("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
            ("grpc.max_send_message_length", MAX_RESPONSE_BYTES),
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES)]


def channel_options() -> list[tuple[str, int]]:
    """For a client's channel: it sends requests and receives responses."""
    return [("grpc.max_send_message_length", MAX_REQUEST_BYTES),
            ("grpc.max_receive_message_length", MAX_RESPONSE_BYTES),
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES)]


def clip_detail(text: str, limit_bytes: int = MAX_DETAIL_BYTES) -> str:
    """``text`` cut to at most ``limit_bytes`` of UTF-8 (at a character boundary), marked: a
    refusal that does not fit the client's metadata limit never reaches it."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit_bytes:
        return text
    return raw[:limit_bytes - 3].decode("utf-8", "ignore") + "…"


def json_depth(text: str) -> int:
    """How deeply objects and arrays nest in ``text`` (0 for a scalar), without parsing it: the
    strings are skipped and the brackets counted. For text that is not JSON the count is of
    its brackets outside strings (the decoder later says what is wrong)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def _shape(value: Any) -> tuple[int, str]:
    """(how many values, the longest object key) of decoded JSON; containers count as one value
    each. A loop, not recursion."""
    count, longest, stack = 0, "", [value]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            longest = max(longest, *item, key=len) if item else longest
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count, longest


def json_problem(name: str, text: str, max_chars: int = MAX_JSON_CHARS) -> str | None:
    """What makes the JSON text of field ``name`` too big (length, depth, element count), or
    None. Text that is not JSON passes here: the handler says what is wrong with it."""
    if len(text) > max_chars:
        return f"{name} is {len(text):,} characters; the limit is {max_chars:,}"
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        return f"{name} nests {depth:,} levels deep; the limit is {MAX_JSON_DEPTH} levels of objects and arrays"
    try:
        value = msgspec.json.decode(text)  # safe now: at most MAX_JSON_DEPTH levels
    except msgspec.DecodeError:
        return None
    count, longest_key = _shape(value)
    if count > MAX_JSON_ELEMENTS:
        return f"{name} holds {count:,} JSON values; the limit is {MAX_JSON_ELEMENTS:,}"
    if len(longest_key) > MAX_JSON_KEY_CHARS:
        return (f"{name} has a key of {len(longest_key):,} characters ({quote_value(longest_key)}); the limit is "
                f"{MAX_JSON_KEY_CHARS}")
    return None


def _is_repeated(field: FieldDescriptor) -> bool:
    is_repeated = getattr(field, "is_repeated", None)  # protobuf >= 5.28; `label` is deprecated
    if is_repeated is not None:
        return bool(is_repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def field_limit(field: FieldDescriptor) -> int:
    """The limit of one field: characters for a string or bytes value (of each item when
    repeated), items for a repeated or map field."""
    override = FIELD_LIMITS.get(field.full_name)
    if override is not None:
        return override
    if _is_repeated(field):
        return MAX_REPEATED_ITEMS
    if field.name.endswith("_json"):
        return MAX_JSON_CHARS
    return MAX_STRING_CHARS


def _scalar_problem(field: FieldDescriptor, name: str, value: Any) -> str | None:
    if field.type not in _STRINGS:
        return None
    limit = MAX_STRING_CHARS if _is_repeated(field) else field_limit(field)
    if field.name.endswith("_json") and isinstance(value, str):
        return json_problem(name, value, limit)
    if len(value) > limit:
        unit = "bytes" if field.type == FieldDescriptor.TYPE_BYTES else "characters"
        return f"{name} is {len(value):,} {unit}; the limit is {limit:,}"
    return None


def _items(field: FieldDescriptor, value: Any) -> Iterator[tuple[FieldDescriptor, str, Any]]:
    """(descriptor, suffix, item) for each value of a repeated or map field."""
    if _is_map(field):
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        for key in value:
            yield key_field, f"[{quote_value(key, 16)}] key", key
            yield value_field, f"[{quote_value(key, 16)}]", value[key]
    else:
        for i, item in enumerate(value):
            yield field, f"[{i}]", item


class Undecodable(msgspec.Struct, frozen=True):
    """What a request's deserializer returns instead of raising when the bytes are not a
    valid message of its type (gRPC would answer UNKNOWN with a Python exception's text)."""

    problem: str


def lenient(deserialize: Callable[[bytes], Message]) -> Callable[[bytes], Message | Undecodable]:
    """``deserialize`` that returns :class:`Undecodable` instead of raising DecodeError."""
    def run(data: bytes) -> Message | Undecodable:
        try:
            return deserialize(data)
        except DecodeError as exc:
            return Undecodable(f"the request is not a valid protobuf message of its method's type: {exc}")

    return run


def check_request(msg: Message) -> str | None:
    """The first field of ``msg`` (nested messages included) over its limit, as an error text
    naming the field and the limit; None when every field is within its limits. Only fields the
    request sets are visited; the walk is a loop, not recursion."""
    stack: list[tuple[Message, str]] = [(msg, "")]
    while stack:
        current, prefix = stack.pop()
        for field, value in current.ListFields():
            name = prefix + field.name
            if _is_repeated(field):
                limit = field_limit(field)
                if len(value) > limit:
                    return f"{name} has {len(value):,} items; the limit is {limit:,}"
                pairs = list(_items(field, value))
            else:
                pairs = [(field, "", value)]
            for item_field, suffix, item in pairs:
                if item_field.type == FieldDescriptor.TYPE_MESSAGE:
                    stack.append((item, f"{name}{suffix}."))
                else:
                    problem = _scalar_problem(item_field, name + suffix, item)
                    if problem is not None:
                        return problem
    return None


def request_fields(descriptor: Descriptor, prefix: str = "") -> Iterator[tuple[str, FieldDescriptor]]:
    """Every field a request type can carry, nested message fields with dotted names (for the
    documentation and the tests). Request types are not recursive; ``seen`` guards anyway."""
    stack: list[tuple[Descriptor, str, frozenset[str]]] = [(descriptor, prefix, frozenset())]
    while stack:
        desc, pre, seen = stack.pop()
        for field in desc.fields:
            yield pre + field.name, field
            if field.type == FieldDescriptor.TYPE_MESSAGE and not _is_map(field) \
                    and field.message_type.full_name not in seen:
                stack.append((field.message_type, f"{pre}{field.name}.", seen | {desc.full_name}))
