"""WAV files whose header does not match the audio on disk: never finished (a recorder
that crashed or was killed), or cut off (a copy or download that stopped part-way).

A recorder writes the RIFF and data chunk sizes when it closes the file; one that dies
first leaves them at 0 (or at the size of an early flush) with minutes of audio after
them, which libsndfile reads as an empty or short file. A cut-off copy is the other way
round: its header gives more audio than the file holds. :func:`unfinished_wav` spots both
and :class:`RawWavReader` reads the samples up to the end of the file, as other decoders
(ffmpeg, sox) do.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soundwatch.audio.riff import wave_chunks

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
# A data size this large is a writer's "not known" (a WAV streamed through a pipe by sox
# or ffmpeg: 0xFFFFFFFF, 0x7FFFFFFF and near), not a length the file was cut short of.
STREAMED_SIZE = 0x7FFF0000


@dataclass(frozen=True)
class UnfinishedWav:
    """Where the audio of an unfinished WAV lies, and how it is stored.

    Attributes:
        data_offset: byte where the samples start.
        declared_bytes: the data size its header claims.
        n_frames: whole frames on disk from ``data_offset`` to the end of the file.
        sample_rate_hz, channels, bits: from its ``fmt `` chunk.
        is_float: IEEE float samples (else integer PCM).
    """

    data_offset: int
    declared_bytes: int
    n_frames: int
    sample_rate_hz: int
    channels: int
    bits: int
    is_float: bool

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def cut_off(self) -> bool:
        """The header gives more audio than the file holds (a cut-off copy): the rest is
        missing, not merely unannounced."""
        return self.n_frames * self.frame_bytes < self.declared_bytes < STREAMED_SIZE


def unfinished_wav(path: str | Path) -> UnfinishedWav | None:
    """The layout of ``path`` when it is a PCM or float WAV whose header sizes stop short
    of the audio on disk; None for any other file (finished WAVs included)."""
    path = Path(path)
    size = path.stat().st_size
    fmt = data = None
    with open(path, "rb") as file:
        for chunk_id, offset, chunk_bytes in wave_chunks(file, size):
            if chunk_id == b"fmt ":
                file.seek(offset)
                fmt = file.read(chunk_bytes)
            elif chunk_id == b"data":
                data = offset, chunk_bytes
                break
        if data is None:
            return None
        file.seek(4)
        riff_bytes = struct.unpack("<I", file.read(4))[0]
    data_offset, chunk_bytes = data
    layout = _layout(fmt)
    if layout is None:
        return None
    sample_rate_hz, channels, bits, is_float = layout
    on_disk = size - data_offset
    declared_end = data_offset + chunk_bytes
    finished = 0 < chunk_bytes <= on_disk and (
        riff_bytes + 8 >= size or _chunk_follows(path, declared_end, size))
    if finished:
        return None
    frame_bytes = channels * bits // 8
    return UnfinishedWav(data_offset, chunk_bytes, on_disk // frame_bytes, sample_rate_hz,
                         channels, bits, is_float)


def _layout(fmt: bytes | None) -> tuple[int, int, int, bool] | None:
    """(rate, channels, bits, is_float) of a ``fmt `` chunk this module can read."""
    if fmt is None or len(fmt) < 16:
        return None
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID starts with the tag
    readable = {(_PCM, 8), (_PCM, 16), (_PCM, 24), (_PCM, 32), (_FLOAT, 32), (_FLOAT, 64)}
    if (tag, bits) not in readable or channels < 1 or rate < 1:
        return None
    return rate, channels, bits, tag == _FLOAT


def _chunk_follows(path: Path, offset: int, size: int) -> bool:
    """A well-formed chunk header (four ASCII letters, a size that fits) sits at ``offset``:
    the data chunk is followed by metadata, not by more audio."""
    if offset + 8 > size:
        return offset >= size
    with open(path, "rb") as file:
        file.seek(offset + (offset % 2))
        header = file.read(8)
    if len(header) < 8:
        return True
    chunk_id, chunk_bytes = header[:4], struct.unpack("<I", header[4:])[0]
    return all(32 <= c < 127 for c in chunk_id) and offset + 8 + chunk_bytes <= size


class RawWavReader:
    """Reads an :class:`UnfinishedWav`'s frames as float32 in [-1, 1] (integer PCM scaled as
    libsndfile scales it), block by block through a memory map.

    ``read(n)`` returns (k, channels) float32 with k <= n (0 at the end).
    """

    def __init__(self, path: str | Path, layout: UnfinishedWav):
        self.layout = layout
        self.position = 0
        self._bytes = np.memmap(path, dtype=np.uint8, mode="r", offset=layout.data_offset,
                                shape=(layout.n_frames * layout.frame_bytes,))

    def read(self, n_frames: int) -> np.ndarray:
        layout = self.layout
        count = max(0, min(n_frames, layout.n_frames - self.position))
        start = self.position * layout.frame_bytes
        raw = np.asarray(self._bytes[start:start + count * layout.frame_bytes])
        self.position += count
        width = layout.bits // 8
        if layout.is_float:
            values = raw.view("<f4" if width == 4 else "<f8").astype(np.float32)
        elif width == 1:
            values = (raw.astype(np.float32) - 128.0) / 128.0
        elif width == 3:
            triples = raw.reshape(-1, 3).astype(np.int32)
            ints = (triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)) << 8
            values = (ints >> 8).astype(np.float32) / float(1 << 23)
        else:
            ints = raw.view("<i2" if width == 2 else "<i4")
            values = (ints / float(1 << (layout.bits - 1))).astype(np.float32)
        return values.reshape(count, layout.channels)

    def close(self) -> None:
        self._bytes = None
