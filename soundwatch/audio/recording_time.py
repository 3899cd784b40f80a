"""When a recording started, from the file itself: a Broadcast WAV's ``bext`` chunk.

Field recorders (and most professional ones) write EBU Tech 3285's ``bext`` chunk, whose
OriginationDate (``yyyy-mm-dd``) and OriginationTime (``hh:mm:ss``) give the moment the
recording began, on the recorder's local clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from soundwatch.audio.riff import wave_chunks

# Offsets in the bext chunk: Description (256), Originator (32), OriginatorReference (32).
_DATE_AT, _DATE_LEN, _TIME_LEN = 320, 10, 8
_STAMP = re.compile(r"(\d{4})\D(\d{2})\D(\d{2})(\d{2})\D(\d{2})\D(\d{2})")


def recorded_at(path: str | Path) -> datetime | None:
    """The recording's start (aware, UTC) from its ``bext`` chunk; None when the file has
    none, or an empty or unreadable one."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as file:
            for chunk_id, offset, chunk_bytes in wave_chunks(file, size):
                if chunk_id == b"data":
                    return None  # recorders write bext first; past here lies the audio
                if chunk_id == b"bext" and chunk_bytes >= _DATE_AT + _DATE_LEN + _TIME_LEN:
                    file.seek(offset + _DATE_AT)
                    stamp = file.read(_DATE_LEN + _TIME_LEN).decode("ascii", "replace")
                    return _parse(stamp)
    except OSError:
        return None
    return None


def _parse(stamp: str) -> datetime | None:
    match = _STAMP.fullmatch(stamp)
    if match is None:
        return None
    try:
        local = datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None
    return local.astimezone().astimezone(timezone.utc)  # the recorder's clock: local time
