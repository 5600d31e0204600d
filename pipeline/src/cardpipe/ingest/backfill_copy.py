"""Streaming parser for PostgreSQL's binary COPY format (pure, no I/O).

Binary COPY is the cheapest way to move many `bytea` bodies out of PostgreSQL: no hex/escape
decoding, and each row costs a few `struct` calls. Format: 11-byte signature, flags, header
extension, then per tuple an int16 field count (-1 ends the data) and per field an int32 length
(-1 = NULL) followed by the value in network byte order.
See https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = struct.Struct("!11sii")
_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_INT64 = struct.Struct("!q")


class CopyFormatError(ValueError):
    """The bytes are not a binary COPY stream of (bigint, bytea) rows."""


def iter_seq_body(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (seq, body) from a binary COPY of `SELECT seq, body ...` (both NOT NULL)."""
    view = data
    if len(view) < _HEADER.size:
        raise CopyFormatError("truncated COPY header")
    signature, _flags, extension = _HEADER.unpack_from(view, 0)
    if signature != SIGNATURE:
        raise CopyFormatError("not a binary COPY stream (bad signature)")
    pos = _HEADER.size + extension
    unpack16, unpack32, unpack64 = _INT16.unpack_from, _INT32.unpack_from, _INT64.unpack_from
    try:
        while True:
            (fields,) = unpack16(view, pos)
            if fields == -1:
                return
            if fields != 2:
                raise CopyFormatError(f"expected 2 columns, got {fields}")
            (seq_len,) = unpack32(view, pos + 2)
            if seq_len != 8:
                raise CopyFormatError(f"seq must be a non-null bigint, got length {seq_len}")
            (seq,) = unpack64(view, pos + 6)
            (body_len,) = unpack32(view, pos + 14)
            if body_len < 0:
                raise CopyFormatError(f"body of seq {seq} is NULL")
            start = pos + 18
            pos = start + body_len
            if pos > len(view):
                raise CopyFormatError(f"truncated body of seq {seq}")
            yield seq, view[start:pos]
    except struct.error as exc:
        raise CopyFormatError(f"truncated COPY stream: {exc}") from None
