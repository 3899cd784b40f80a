"""The chunks of a RIFF/WAVE file, read from its header (no audio is read)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO


def wave_chunks(file: BinaryIO, size: int) -> Iterator[tuple[bytes, int, int]]:
    """(chunk id, offset of its contents, declared size) of each chunk, in file order.

    Nothing for a file that is not RIFF/WAVE; stops where a chunk header would run past
    ``size`` (the file's length). Sizes are as declared: an unfinished file's may be 0.
    """
    file.seek(0)
    head = file.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    position = 12
    while position + 8 <= size:
        file.seek(position)
        header = file.read(8)
        if len(header) < 8:
            return
        chunk_id, chunk_bytes = header[:4], struct.unpack("<I", header[4:])[0]
        yield chunk_id, position + 8, chunk_bytes
        position += 8 + chunk_bytes + chunk_bytes % 2
