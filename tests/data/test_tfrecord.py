"""TFRecord framing and the hand-written Example codec."""

from __future__ import annotations

import io

import pytest

from butterflyer.data.tfrecord import decode_example, encode_example, frame, iter_frames, masked_crc
from butterflyer.errors import DataError


def test_masked_crc_of_empty_input_is_the_mask_delta():
    assert masked_crc(b"") == 0xA282EAD8  # crc32c("") is 0, so only the offset remains


def test_reads_frames_written_by_another_writer(tmp_path):
    writer_mod = pytest.importorskip("tfrecord.writer")
    path = tmp_path / "other.tfrecord"
    writer = writer_mod.TFRecordWriter(str(path))
    writer.write({"image/class/label": (3, "int"), "image/encoded": (b"jpegbytes", "byte")})
    writer.close()
    with open(path, "rb") as fh:
        (payload,) = list(iter_frames(fh, verify=True))
    parsed = decode_example(payload)
    assert parsed["image/class/label"] == [3]
    assert parsed["image/encoded"] == [b"jpegbytes"]


def test_example_round_trip_all_kinds():
    features = {"b": b"\x00\xffbytes", "s": "naïve", "i": [1, -5, 2**40], "f": [0.5, -2.25], "empty": []}
    parsed = decode_example(encode_example(features))
    assert parsed["b"] == [b"\x00\xffbytes"]
    assert parsed["s"] == ["naïve".encode()]
    assert parsed["i"] == [1, -5, 2**40]
    assert parsed["f"] == [0.5, -2.25]
    assert parsed["empty"] == []


def test_encoding_is_stable_regardless_of_key_order():
    assert encode_example({"a": 1, "b": b"x"}) == encode_example({"b": b"x", "a": 1})


def test_parses_with_protobuf_generated_classes():
    example_pb2 = pytest.importorskip("tfrecord.example_pb2")
    msg = example_pb2.Example()
    msg.ParseFromString(encode_example({"image/class/label": 7, "image/encoded": b"abc", "x": [1.5]}))
    feats = msg.features.feature
    assert list(feats["image/class/label"].int64_list.value) == [7]
    assert feats["image/encoded"].bytes_list.value[0] == b"abc"
    assert list(feats["x"].float_list.value) == [1.5]
    # ...and the other way: bytes written by protobuf decode with ours.
    assert decode_example(msg.SerializeToString())["image/class/label"] == [7]


def test_frames_round_trip_and_detect_corruption():
    payloads = [b"one", b"", b"three" * 100]
    blob = b"".join(frame(p) for p in payloads)
    assert list(iter_frames(io.BytesIO(blob))) == payloads
    corrupt = bytearray(blob)
    corrupt[14] ^= 0xFF  # inside the first payload
    with pytest.raises(DataError, match="checksum"):
        list(iter_frames(io.BytesIO(bytes(corrupt))))
    with pytest.raises(DataError, match="truncated"):
        list(iter_frames(io.BytesIO(blob[:-3])))
