"""ipc.segments: the segment codes, the one packed instrument key and the one label."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipc import topics
from ipc.segments import (
    KNOWN_SEGMENTS,
    SECURITY_ID_MASK,
    InstrumentId,
    Segment,
    instrument_key,
    instrument_label,
    segment_label,
    split_key,
)

segments = st.sampled_from(list(Segment))
security_ids = st.integers(min_value=0, max_value=SECURITY_ID_MASK)


def test_segment_codes_are_dhans_feed_codes() -> None:
    assert {s.label: int(s) for s in Segment} == {
        "IDX_I": 0, "NSE_EQ": 1, "NSE_FNO": 2, "NSE_CURRENCY": 3, "BSE_EQ": 4, "MCX_COMM": 5,
        "BSE_CURRENCY": 7, "BSE_FNO": 8,
    }
    assert KNOWN_SEGMENTS == {0, 1, 2, 3, 4, 5, 7, 8}


@pytest.mark.parametrize("segment", list(Segment))
def test_label_round_trips_through_from_label_in_any_case(segment: Segment) -> None:
    assert segment_label(int(segment)) == segment.label == segment.name
    assert Segment.from_label(segment.label) is segment
    assert Segment.from_label(f" {segment.label.lower()} ") is segment


def test_unknown_segment_shows_its_number_and_is_not_parsed() -> None:
    assert segment_label(6) == "6"
    assert instrument_label(99, 12) == "99:12"
    assert Segment.from_label("NSE_XYZ") is None


def test_label_forms() -> None:
    assert instrument_label(2, 55796) == "NSE_FNO:55796"
    assert instrument_label(Segment.NSE_FNO, 55796, ".") == "NSE_FNO.55796"
    assert InstrumentId(2, 55796).label == "NSE_FNO:55796"
    assert instrument_label("NSE_FNO", 55796) == "NSE_FNO:55796"  # the control API's text form
    assert topics.instrument_topic(topics.TICK, 2, 55796) == b"tick.NSE_FNO.55796"
    assert topics.bar_topic(60, 1, 2885) == b"bar.60s.NSE_EQ.2885"


def test_packed_key_is_the_on_disk_packing() -> None:
    # The instrument table caches its sorted id index in this packing: it must never change
    # without that cache's version.
    assert instrument_key(2, 55796) == (2 << 32) | 55796 == InstrumentId(2, 55796).key


@given(segments, security_ids)
def test_key_round_trips_for_every_segment_and_the_whole_security_id_range(segment: Segment, sid: int) -> None:
    key = instrument_key(segment, sid)
    assert split_key(key) == (segment, sid)
    assert InstrumentId.from_key(key) == InstrumentId(segment, sid) == (segment, sid)
    assert 0 <= key < 1 << 63  # fits the int64 columns


@given(st.lists(st.tuples(segments, security_ids), min_size=2, max_size=50))
def test_key_orders_like_the_id_and_works_element_wise_on_int64_arrays(ids: list[tuple[int, int]]) -> None:
    keys = [instrument_key(seg, sid) for seg, sid in ids]
    assert sorted(range(len(ids)), key=keys.__getitem__) == sorted(range(len(ids)), key=ids.__getitem__)
    seg = np.array([s for s, _ in ids], dtype=np.int64)
    sid = np.array([i for _, i in ids], dtype=np.int64)
    packed = instrument_key(seg, sid)
    assert packed.tolist() == keys
    back_seg, back_sid = split_key(packed)
    assert back_seg.tolist() == seg.tolist() and back_sid.tolist() == sid.tolist()


def test_instrument_id_is_the_plain_tuple_as_a_dict_key() -> None:
    table = {(2, 55796): "nifty option"}
    assert table[InstrumentId(Segment.NSE_FNO, 55796)] == "nifty option"
    assert hash(InstrumentId(2, 55796)) == hash((2, 55796))


@given(segments, st.integers(min_value=1, max_value=SECURITY_ID_MASK))
def test_parse_reads_back_every_label(segment: Segment, sid: int) -> None:
    assert InstrumentId.parse(instrument_label(segment, sid)) == (segment, sid)


@pytest.mark.parametrize("text", ["NSE_XYZ:12", "NSE_FNO:", "NSE_FNO:0", "NSE_FNO:x1", f"NSE_FNO:{1 << 32}",
                                  "NSE_FNO:-5", "NSE_FNO:١٢"])
def test_parse_refuses_a_bad_segment_or_id_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not SEGMENT:SECURITY_ID"):
        InstrumentId.parse(text)


def test_parse_leaves_text_without_a_colon_to_the_caller() -> None:
    assert InstrumentId.parse("RELIANCE") is None
