"""TensorBoard event files, written without TensorFlow (the TensorBoard callback's writer).

An event file is a sequence of TFRecord records (length, masked CRC-32C of the length, data,
masked CRC-32C of the data; little endian), each record one `Event` protocol buffer
(tensorflow/core/util/event.proto): wall_time (field 1, double), step (2, int64) and either
file_version (3, the first event: "brain.Event:2") or a Summary (5). A Summary holds Values
(summary.proto): tag (1) and a simple_value (2, float), a histogram (5, HistogramProto) or a
tensor (8, TensorProto) with metadata (9). Only the fields written here are encoded.
"""
import os
import socket
import struct
import time

import numpy as np


# ---- CRC-32C (Castagnoli), as TFRecord frames its records ----
def _crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
    """One TFRecord around `data`."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


# ---- protocol buffer encoding: the few wire types the messages here use ----
def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1          # negative int64 as protobuf encodes it
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint(field << 3 | wire)


def _bytes(field, data):
    return _key(field, 2) + _varint(len(data)) + data


def _double(field, value):
    return _key(field, 1) + struct.pack("<d", value)


def _float(field, value):
    return _key(field, 5) + struct.pack("<f", value)


def _int(field, value):
    return _key(field, 0) + _varint(int(value))


def _packed_doubles(field, values):
    return _bytes(field, b"".join(struct.pack("<d", v) for v in values))


def event(wall_time, step=0, file_version=None, summary=None):
    """An Event message: the first of a file carries file_version, the others a Summary."""
    out = _double(1, wall_time)
    if step:
        out += _int(2, step)
    if file_version is not None:
        out += _bytes(3, file_version.encode())
    if summary is not None:
        out += _bytes(5, summary)
    return out


def scalar_value(tag, value):
    return _bytes(1, _bytes(1, tag.encode()) + _float(2, value))


def histogram_value(tag, values, buckets=30):
    """A HistogramProto of `values`: min, max, count, sum, sum of squares, then `buckets` equal
    bins over [min, max] by their right edges (TensorBoard's histogram dashboard reads these)."""
    v = np.asarray(values, np.float64).ravel()
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if hi == lo:
        edges, counts = [hi], [float(v.size)]
    else:
        counts_np, edges_np = np.histogram(v, bins=buckets, range=(lo, hi))
        edges, counts = [float(e) for e in edges_np[1:]], [float(c) for c in counts_np]
    histo = (_double(1, lo) + _double(2, hi) + _double(3, float(v.size)) + _double(4, float(v.sum()))
             + _double(5, float(np.dot(v, v))) + _packed_doubles(6, edges) + _packed_doubles(7, counts))
    return _bytes(1, _bytes(1, tag.encode()) + _bytes(5, histo))


def text_tensor_value(tag, text, plugin_name, content=b""):
    """A Value holding a scalar string tensor (DT_STRING = 7, shape []) for a TensorBoard plugin
    (the Keras model's JSON for the graph dashboard's 'graph_keras_model')."""
    tensor = _int(1, 7) + _bytes(2, b"") + _bytes(8, text.encode())
    metadata = _bytes(1, _bytes(1, plugin_name.encode()) + (_bytes(2, content) if content else b""))
    return _bytes(1, _bytes(1, tag.encode()) + _bytes(8, tensor) + _bytes(9, metadata))


class EventFileWriter:
    """An `events.out.tfevents.<time>.<host>.<pid>.<n>.v2` file in `logdir`, created on the first
    write; each event is written and flushed at once (TensorBoard reads the file as it grows)."""
    _count = 0

    def __init__(self, logdir):
        self.logdir = logdir
        self._file = None

    def _open(self):
        os.makedirs(self.logdir, exist_ok=True)
        EventFileWriter._count += 1
        name = (f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}."
                f"{EventFileWriter._count}.v2")
        self.path = os.path.join(self.logdir, name)
        self._file = open(self.path, "wb")
        self._file.write(record(event(time.time(), file_version="brain.Event:2")))

    def write(self, value, step):
        """Write one Summary Value (scalar_value, histogram_value, text_tensor_value) at `step`."""
        if self._file is None:
            self._open()
        self._file.write(record(event(time.time(), step=step, summary=value)))
        self._file.flush()

    def scalar(self, tag, value, step):
        self.write(scalar_value(tag, float(value)), step)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(path):
    """The Events of a file as [(wall_time, step, {field: raw value})], each record's CRCs checked
    (for tests and for reading a run back)."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        if struct.unpack("<I", data[pos + 8:pos + 12])[0] != masked_crc(header):
            raise ValueError(f"{path}: bad length CRC at byte {pos}")
        body = data[pos + 12:pos + 12 + length]
        if struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])[0] != masked_crc(body):
            raise ValueError(f"{path}: bad data CRC at byte {pos}")
        out.append(_fields(body))
        pos += 16 + length
    return out


def _fields(buf):
    """{field number: [values]} of one protobuf message (varints as ints, fixed64 as doubles,
    fixed32 as floats, length-delimited as bytes)."""
    out, pos = {}, 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = struct.unpack("<d", buf[pos:pos + 8])[0], pos + 8
        elif wire == 5:
            value, pos = struct.unpack("<f", buf[pos:pos + 4])[0], pos + 4
        elif wire == 2:
            n, pos = _read_varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.setdefault(field, []).append(value)
    return out


def _read_varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos
