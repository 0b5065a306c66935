"""TFRecord framing and the ``tf.train.Example`` message, without TensorFlow.

A TFRecord file is a sequence of frames::

    uint64 length (little endian) | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

and each ``data`` here is a serialized ``tf.train.Example``: a map from feature
name to a list of bytes, floats or int64s. The few protobuf messages involved are
encoded and decoded by hand (keys sorted, so the same example always gives the
same bytes), which keeps TensorFlow out of the dependency tree while staying
readable by ``tf.data.TFRecordDataset`` and any other TFRecord reader.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import crc32c as _crc32c

from butterflyer.errors import DataError

_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")

FeatureValue = bytes | str | int | float | Sequence[bytes] | Sequence[int] | Sequence[float]


def masked_crc(data: bytes) -> int:
    """The CRC32-C checksum, rotated and offset the way TFRecord stores it."""
    crc = _crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord frame holding ``data``."""
    length = _U64.pack(len(data))
    return length + _U32.pack(masked_crc(length)) + data + _U32.pack(masked_crc(data))


def write_record(fh: IO[bytes], data: bytes) -> int:
    """Append one frame to an open binary file; returns the bytes written."""
    framed = frame(data)
    fh.write(framed)
    return len(framed)


def _read_exact(fh: IO[bytes], size: int, where: str) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise DataError(
            f"{where}: the file ends in the middle of a record (truncated shard). "
            "Rebuild the records with 'butterflyer data build-records'."
        )
    return data


def iter_frames(
    fh: IO[bytes], where: str = "tfrecord", verify: bool = True, keep: Iterator[bool] | None = None
) -> Iterator[bytes]:
    """Yield the payload of each frame, checking both checksums when ``verify``.

    ``keep``, when given, is consumed once per frame; frames it marks ``False`` are
    skipped with a seek instead of being read (cheap record-level sharding).
    """
    index = 0
    while True:
        header = fh.read(12)
        if not header:
            return
        if len(header) != 12:
            raise DataError(f"{where}: record {index} has a truncated header. Rebuild the records.")
        length_bytes, (length_crc,) = header[:8], _U32.unpack(header[8:])
        if verify and masked_crc(length_bytes) != length_crc:
            raise DataError(
                f"{where}: record {index} has a corrupt length field (checksum mismatch). "
                "Rebuild the records."
            )
        (length,) = _U64.unpack(length_bytes)
        if keep is not None and not next(keep):
            fh.seek(length + 4, 1)
            index += 1
            continue
        data = _read_exact(fh, length, where)
        (data_crc,) = _U32.unpack(_read_exact(fh, 4, where))
        if verify and masked_crc(data) != data_crc:
            raise DataError(f"{where}: record {index} is corrupt (checksum mismatch). Rebuild the records.")
        yield data
        index += 1


# -- protobuf wire format -------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _encode_feature(value: FeatureValue) -> bytes:
    scalar = isinstance(value, (bytes, bytearray, memoryview, str, int, float))
    items: list[Any] = [value] if scalar else list(value)  # type: ignore[arg-type]
    if not items:
        return _field(1, b"")  # an empty BytesList
    first = items[0]
    if isinstance(first, (bytes, bytearray, memoryview, str)):
        body = b"".join(_field(1, v.encode("utf-8") if isinstance(v, str) else bytes(v)) for v in items)
        return _field(1, body)
    if isinstance(first, int):  # bool is an int
        packed = b"".join(_varint(int(v)) for v in items)
        return _field(3, _field(1, packed))
    if isinstance(first, float):
        packed = struct.pack(f"<{len(items)}f", *items)
        return _field(2, _field(1, packed))
    raise DataError(f"cannot store a feature of type {type(first).__name__}; use bytes, str, int or float")


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
    """Serialize a ``tf.train.Example`` (feature names sorted for stable bytes)."""
    entries = b"".join(
        _field(1, _field(1, name.encode("utf-8")) + _field(2, _encode_feature(features[name])))
        for name in sorted(features)
    )
    return _field(1, entries)


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DataError("malformed Example: a varint runs past the end of the message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DataError("malformed Example: a varint is longer than 10 bytes")


def _fields(buf: memoryview) -> Iterator[tuple[int, int, memoryview | int]]:
    """Yield ``(field_number, wire_type, value)`` for every field of a message."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise DataError("malformed Example: a field runs past the end of the message")
            yield number, wire, buf[pos : pos + size]
            pos += size
        elif wire == 5:
            yield number, wire, buf[pos : pos + 4]
            pos += 4
        elif wire == 1:
            yield number, wire, buf[pos : pos + 8]
            pos += 8
        else:
            raise DataError(f"malformed Example: unsupported wire type {wire}")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _decode_feature(buf: memoryview) -> list[bytes] | list[int] | list[float]:
    for number, _wire, body in _fields(buf):
        assert isinstance(body, memoryview)
        if number == 1:
            return [bytes(v) for n, _w, v in _fields(body) if n == 1]  # type: ignore[arg-type]
        if number == 2:
            floats: list[float] = []
            for n, w, v in _fields(body):
                if n != 1:
                    continue
                raw = bytes(v) if isinstance(v, memoryview) else b""
                floats.extend(
                    struct.unpack(f"<{len(raw) // 4}f", raw) if w == 2 else struct.unpack("<f", raw)
                )
            return floats
        if number == 3:
            ints: list[int] = []
            for n, w, v in _fields(body):
                if n != 1:
                    continue
                if w == 0:
                    ints.append(_signed(v))  # type: ignore[arg-type]
                else:
                    assert isinstance(v, memoryview)
                    pos = 0
                    while pos < len(v):
                        item, pos = _read_varint(v, pos)
                        ints.append(_signed(item))
            return ints
    return []


def decode_example(data: bytes) -> dict[str, list[bytes] | list[int] | list[float]]:
    """Parse a serialized ``tf.train.Example`` into ``{name: [values]}``."""
    out: dict[str, list[bytes] | list[int] | list[float]] = {}
    for number, _wire, features in _fields(memoryview(data)):
        if number != 1 or not isinstance(features, memoryview):
            continue
        for n, _w, entry in _fields(features):
            if n != 1 or not isinstance(entry, memoryview):
                continue
            name, value = "", memoryview(b"")
            for en, _ew, ev in _fields(entry):
                if en == 1 and isinstance(ev, memoryview):
                    name = bytes(ev).decode("utf-8")
                elif en == 2 and isinstance(ev, memoryview):
                    value = ev
            out[name] = _decode_feature(value)
    return out
