#!/usr/bin/env python3
"""Asks a Kafka listener for metadata and exits 0 once it answers with at least one broker.

An open port is not enough to call a broker ready, so scripts/kafka-local waits on this.
Speaks Metadata v4 on PLAINTEXT only (the readiness check uses the plain listener)."""
import socket
import struct
import sys


def probe(host: str, port: int) -> bool:
    client_id = b"kmirror-probe"
    header = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id
    body = struct.pack(">i?", 0, False)  # no topics, no auto-creation
    request = header + body
    with socket.create_connection((host, port), timeout=3) as sock:
        sock.settimeout(3)
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _read(sock, 4))[0]
        payload = _read(sock, size)
    _correlation, _throttle, brokers = struct.unpack(">iii", payload[:12])
    return brokers > 0


def _read(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


if __name__ == "__main__":
    host, port = sys.argv[1].rsplit(":", 1)
    try:
        sys.exit(0 if probe(host, int(port)) else 1)
    except (OSError, struct.error):
        sys.exit(1)
