"""The control API's size limits: quoting values in error texts, the JSON depth scan, and the
generic check of a request's fields against the limits."""

from __future__ import annotations

import pytest

from engine.control_api import control_pb2 as pb
from engine.control_api.limits import (
    FIELD_LIMITS,
    MAX_DETAIL_BYTES,
    MAX_JSON_KEY_CHARS,
    MAX_STRING_CHARS,
    check_request,
    clip_detail,
    field_limit,
    json_depth,
    json_problem,
    request_fields,
)
from engine.control_api.quoting import quote_value

EMOJI = "\N{GRINNING FACE}"


def test_a_short_value_is_quoted_whole() -> None:
    assert quote_value("ORD-1") == "'ORD-1'"


@pytest.mark.parametrize("ch", ["A", EMOJI, "\N{DEVANAGARI LETTER KA}"])
def test_a_long_value_is_quoted_by_its_first_80_characters_and_its_length(ch: str) -> None:
    assert quote_value(ch * 9_000) == repr(ch * 80) + "… (9,000 characters)"


def test_control_characters_are_escaped_and_count_once() -> None:
    quoted = quote_value("\n" * 100)
    assert "\n" not in quoted
    assert quoted.startswith("'" + "\\n" * 80 + "'…")


def test_a_refusal_text_is_clipped_to_its_byte_budget_at_a_character_boundary() -> None:
    clipped = clip_detail(EMOJI * 1_300)
    assert len(clipped.encode()) <= MAX_DETAIL_BYTES
    assert clipped.endswith("…") and clipped[:-1] == EMOJI * len(clipped[:-1])
    assert clip_detail("short") == "short"


@pytest.mark.parametrize("text, depth", [
    ("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('"[[[["', 0), ('["\\"[[", []]', 2),
    ("[" * 5000, 5000), ('{"a": "]]]]", "b": [[]]}', 3), ("]]][", 1),
])
def test_json_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_json_over_the_limits_is_named_and_within_them_passes() -> None:
    assert json_problem("p", '{"a": [[1]]}') is None
    assert json_problem("p", "not json") is None  # the handler says what is wrong with it
    assert json_problem("p", '{"' + "k" * (MAX_JSON_KEY_CHARS + 1) + '": 1}').startswith(
        f"p has a key of {MAX_JSON_KEY_CHARS + 1} characters (")


def test_every_override_names_a_field_of_a_request() -> None:
    fields = {f.full_name for m in pb.DESCRIPTOR.message_types_by_name.values() if m.name.endswith("Request")
              for _, f in request_fields(m)}
    assert set(FIELD_LIMITS) <= fields


def test_check_request_names_nested_fields_and_map_keys() -> None:
    long = "x" * (MAX_STRING_CHARS + 1)
    assert check_request(pb.PlaceOrderRequest(instrument=pb.InstrumentRef(segment=long))) == \
        f"instrument.segment is {MAX_STRING_CHARS + 1:,} characters; the limit is {MAX_STRING_CHARS:,}"
    problem = check_request(pb.GetJournalResponse(by_day={long: pb.JournalStats()}))
    assert problem is not None and problem.startswith("by_day['xxxxxxxxxxxxxxxx'… (16,385 characters)] key is")
    assert check_request(pb.PlaceOrderRequest(instrument=pb.InstrumentRef(symbol="x" * MAX_STRING_CHARS))) is None


def test_field_limits_come_from_the_override_table_first() -> None:
    reason = pb.EngageKillSwitchRequest.DESCRIPTOR.fields_by_name["reason"]
    coid = pb.GetOrderRequest.DESCRIPTOR.fields_by_name["client_order_id"]
    assert (field_limit(reason), field_limit(coid)) == (1_024, MAX_STRING_CHARS)
