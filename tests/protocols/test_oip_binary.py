"""The OIP binary tensor extension's framing: header length, slicing, fixed-size and BYTES tensors."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datason import DeserializationError, SecurityError
from datason.protocols import oip_binary as b

FIXED = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"]


# --- header length and slicing ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(None, None), (5, 5), ("5", 5), (" 7 ", 7), (10, 10)])
def test_header_length_accepts_ints_and_decimal_strings(value: object, expected: int | None) -> None:
    assert b.parse_header_length(value, 10) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "٣", True, 1.0, -1, 11])
def test_header_length_refuses_what_is_not_a_byte_count_in_the_body(value: object) -> None:
    with pytest.raises(DeserializationError, match="Inference-Header-Content-Length"):
        b.parse_header_length(value, 10)  # type: ignore[arg-type]


def test_header_length_zero_raw_body_is_refused_with_a_clear_message() -> None:
    with pytest.raises(DeserializationError, match="raw body without a JSON header"):
        b.parse_header_length(0, 10)


def test_split_body_at_the_header_length() -> None:
    head, rest = b.split_body(b'{"a":1}XYZ', 7)
    assert bytes(head) == b'{"a":1}' and bytes(rest) == b"XYZ"
    head, rest = b.split_body(bytearray(b"{}"), None)
    assert bytes(head) == b"{}" and len(rest) == 0


def test_slice_tensors_cuts_in_order_and_checks_the_total() -> None:
    rest = memoryview(b"aabbbc")
    parts = b.slice_tensors([("$.inputs[0]", 2), ("$.inputs[1]", 3), ("$.inputs[3]", 1)], rest)
    assert [bytes(p) for p in parts] == [b"aa", b"bbb", b"c"]


def test_slice_beyond_the_body_names_the_field() -> None:
    with pytest.raises(DeserializationError) as info:
        b.slice_tensors([("$.inputs[0]", 2), ("$.inputs[2]", 9)], memoryview(b"abcd"))
    assert info.value.path == "$.inputs[2].parameters.binary_data_size"
    assert "beyond" in info.value.reason


def test_sizes_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(DeserializationError, match="do not add up"):
        b.slice_tensors([("$.inputs[0]", 2)], memoryview(b"abcd"))


@pytest.mark.parametrize("size", [-1, 1.0, "2", True, None])
def test_binary_data_size_must_be_a_non_negative_int(size: object) -> None:
    with pytest.raises(DeserializationError) as info:
        b.slice_tensors([("$.outputs[1]", size)], memoryview(b"ab"))
    assert info.value.path == "$.outputs[1].parameters.binary_data_size"


# --- fixed-size tensors ------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.dtype(t) for t in ("?", "u1", "<u2", "<u4", "<u8", "i1", "<i2", "<i4", "<i8")]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
)
def test_integer_and_bool_tensors_round_trip(a: np.ndarray) -> None:
    datatype = {"b": "BOOL", "u": "UINT", "i": "INT"}[a.dtype.kind]
    if datatype != "BOOL":
        datatype += str(a.dtype.itemsize * 8)
    buf = b.array_buffer(a, datatype)
    back = b.read_array(memoryview(bytes(buf)), datatype, a.shape, path="$.inputs[0]")
    assert back.dtype == a.dtype.newbyteorder("=") and back.shape == a.shape
    assert back.tobytes() == a.tobytes()
    assert back.flags.writeable


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.dtype("<f2"), np.dtype("<f4"), np.dtype("<f8"), np.dtype(">f4"), np.dtype(">f8")]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True},
    )
)
def test_float_tensors_keep_every_bit_in_either_byte_order(a: np.ndarray) -> None:
    datatype = f"FP{a.dtype.itemsize * 8}"
    buf = b.array_buffer(a, datatype)
    assert len(buf) == a.size * a.dtype.itemsize
    back = b.read_array(memoryview(bytes(buf)), datatype, a.shape, path="$.inputs[0]")
    native = a.astype(a.dtype.newbyteorder("="))
    assert back.dtype == native.dtype and back.shape == a.shape
    assert back.tobytes() == native.tobytes()  # NaN payloads and signs included


def test_wire_bytes_are_little_endian_row_major() -> None:
    a = np.array([[1, 2], [3, 4]], dtype=">i4").T  # big-endian, Fortran-ordered view
    assert bytes(b.array_buffer(a, "INT32")) == struct.pack("<4i", 1, 3, 2, 4)


def test_read_array_is_a_zero_copy_view_of_a_writable_aligned_body() -> None:
    body = bytearray(np.arange(4, dtype="<f8").tobytes())
    out = b.read_array(memoryview(body)[0:32], "FP64", [4], path="$.inputs[0]")
    assert np.shares_memory(out, np.frombuffer(body, dtype=np.uint8))
    assert out.flags.writeable
    body[0:8] = struct.pack("<d", 9.5)
    assert out[0] == 9.5


def test_read_array_copies_a_read_only_or_misaligned_body() -> None:
    raw = np.arange(4, dtype="<f4").tobytes()
    out = b.read_array(memoryview(raw), "FP32", [2, 2], path="$.inputs[0]")
    assert out.flags.writeable and out.flags.aligned and out.shape == (2, 2)
    out[0, 0] = 7.0  # would raise on a view of bytes
    misaligned = bytearray(b"x" + raw)
    out2 = b.read_array(memoryview(misaligned)[1:], "FP32", [4], path="$.inputs[0]")
    assert out2.flags.aligned and out2.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_size_that_does_not_match_shape_times_itemsize_names_the_field() -> None:
    with pytest.raises(DeserializationError) as info:
        b.read_array(memoryview(b"\x00" * 12), "FP32", [2, 2], path="$.inputs[3]")
    assert info.value.path == "$.inputs[3].parameters.binary_data_size"


def test_bool_bytes_other_than_0_or_1_are_refused() -> None:
    with pytest.raises(DeserializationError, match="0 or 1") as info:
        b.read_array(memoryview(b"\x00\x01\x02"), "BOOL", [3], path="$.inputs[0]")
    assert info.value.path == "$.inputs[0].data"
    ok = b.read_array(memoryview(b"\x00\x01\x01"), "BOOL", [3], path="$.inputs[0]")
    assert ok.dtype == np.bool_ and ok.tolist() == [False, True, True]


def test_bf16_is_the_top_half_of_float32_as_tritonclient_writes_it() -> None:
    a = np.array([1.0, -2.5, 0.1, 3.4028235e38, np.inf, 1e-40], dtype=np.float32)
    buf = bytes(b.array_buffer(a, "BF16"))
    # tritonclient's serialize_bf16_tensor: struct.pack("<f", x)[2:4] per element
    assert buf == b"".join(struct.pack("<f", float(x))[2:4] for x in a)
    back = b.read_array(memoryview(buf), "BF16", [6], path="$.inputs[0]")
    assert back.dtype == np.float32
    expected = (a.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    assert back.tobytes() == expected.tobytes()


# --- BYTES ---------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=12))
def test_bytes_elements_round_trip(items: list[bytes]) -> None:
    body = b.bytes_elements(items)
    assert len(body) == sum(4 + len(x) for x in items)
    assert b.read_bytes_elements(memoryview(body), len(items), path="$.inputs[0]", max_length=1000) == items


def test_bytes_elements_layout_is_length_prefixed_little_endian() -> None:
    body = b.bytes_elements([b"ab", "é".encode(), b""])
    assert body == b"\x02\x00\x00\x00ab\x02\x00\x00\x00\xc3\xa9\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("body", "count", "reason"),
    [
        (b"\x02\x00\x00", 1, "length"),  # cut inside a length
        (b"\x09\x00\x00\x00abc", 1, "beyond"),  # element longer than what is left
        (b"\x01\x00\x00\x00ab", 1, "more than"),  # trailing bytes
        (b"\x01\x00\x00\x00a", 2, "length"),  # fewer elements than the shape says
    ],
)
def test_malformed_bytes_elements_name_the_field(body: bytes, count: int, reason: str) -> None:
    with pytest.raises(DeserializationError, match=reason) as info:
        b.read_bytes_elements(memoryview(body), count, path="$.inputs[1]", max_length=100)
    assert info.value.path == "$.inputs[1].parameters.binary_data_size"


def test_bytes_element_longer_than_max_string_length_is_a_security_error() -> None:
    with pytest.raises(SecurityError):
        b.read_bytes_elements(memoryview(b.bytes_elements([b"x" * 50])), 1, path="$.inputs[0]", max_length=10)


def test_build_body_joins_header_and_chunks() -> None:
    chunk = b.array_buffer(np.array([1, 2], dtype=np.int16), "INT16")
    assert b.build_body(b"{}", [chunk, b"zz"]) == b"{}\x01\x00\x02\x00zz"
