#!/usr/bin/env python3
"""Writes seed inputs for the `batches` fuzz target (flags, next offset, limit, then v2 batches).

CRCs are left zero: the seeds set flag bit 0, so the target recomputes them."""
import gzip
import os
import struct

def varint(v):
    z = (v << 1) ^ (v >> 63)
    z &= (1 << 64) - 1
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)

def opt(b):
    return varint(-1) if b is None else varint(len(b)) + b

def record(offset_delta, ts_delta, key, value, headers):
    body = b"\x00" + varint(ts_delta) + varint(offset_delta) + opt(key) + opt(value)
    body += varint(len(headers)) + b"".join(varint(len(k)) + k + opt(v) for k, v in headers)
    return varint(len(body)) + body

def batch(base_offset, records, attributes=0, last_delta=None, count=None, compress=None):
    raw = b"".join(records)
    payload = compress(raw) if compress else raw
    n = len(records) if count is None else count
    last = n - 1 if last_delta is None else last_delta
    rest = struct.pack(">hiqqqhii", attributes, last, 1_700_000_000_000, 1_700_000_000_009, 7, 0, 0, n)
    length = 4 + 1 + 4 + len(rest) + len(payload)
    return struct.pack(">qiib", base_offset, length, 0, 2) + b"\0\0\0\0" + rest + payload

def head(next_offset, limit):
    return struct.pack(">BqH", 1, next_offset, limit)

recs = [record(i, i, b"k%d" % i, b"v" * (i * 10), [(b"h", b"x"), (b"h", None)]) for i in range(5)]
gapped = [record(d, d, b"g", b"value", []) for d in (0, 2, 5)]
seeds = {
    "plain": head(0, 4096) + batch(0, recs),
    "straddle": head(2, 4096) + batch(0, recs),
    "small-limit": head(0, 120) + batch(0, recs),
    "compacted": head(0, 4096) + batch(10, gapped, last_delta=5),
    "patched-deltas": head(0, 4096) + batch(10, gapped, last_delta=2),
    "gzip": head(1, 4096) + batch(0, recs, attributes=1, compress=gzip.compress),
    "control": head(0, 4096) + batch(0, recs[:1], attributes=0x30),
    "two-and-a-tail": head(0, 4096) + batch(0, recs) + batch(5, recs) + batch(10, recs)[:40],
}
here = os.path.dirname(os.path.abspath(__file__))
for name, data in seeds.items():
    with open(os.path.join(here, "batches", name), "wb") as f:
        f.write(data)
