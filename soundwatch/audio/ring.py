"""A preallocated float32 ring of mono audio: one writer, any number of readers.

Threads: the writer is the audio callback (PortAudio's thread) or a file-replay thread;
readers are the engine worker, the clip writer, etc. The lock is held only for a memcpy
of at most one block (writer) or one read (reader), never across I/O.

Positions are absolute sample counts since the ring was created ("stream clock"), so a
reader, an event and a clip can all name the same instant with one integer.
"""

from __future__ import annotations

import threading

import numpy as np


class RingReader:
    """One consumer's cursor into a :class:`RingBuffer`. Create with ``ring.add_reader()``."""

    def __init__(self, ring: RingBuffer, position: int):
        self._ring = ring
        self.position = position  # absolute index of the next sample this reader gets
        self.samples_lost = 0  # total samples overwritten before this reader got them

    @property
    def available(self) -> int:
        """Samples written but not yet read (may exceed capacity if this reader fell behind)."""
        return self._ring.write_position - self.position

    def read(self, max_samples: int | None = None) -> tuple[np.ndarray, int]:
        """Take the unread audio, oldest first.

        Returns:
            (samples, lost): ``samples`` is a new contiguous (n,) float32 array, at most
            ``max_samples`` long; ``lost`` counts samples that were overwritten before this
            reader got them (they precede ``samples`` on the stream clock). When the
            reader fell more than a capacity behind, it jumps to the oldest audio still held.
        """
        return self._ring._read(self, max_samples)

    def close(self) -> None:
        self._ring._remove_reader(self)


class RingBuffer:
    """Fixed-size ring of float32 mono samples with an absolute write position.

    Args:
        capacity: samples held; older audio is overwritten (and counted as lost by any
            reader that had not read it yet).
    """

    def __init__(self, capacity: int):
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0, got {capacity}")
        self.capacity = int(capacity)
        self._buffer = np.zeros(self.capacity, dtype=np.float32)
        self._lock = threading.Lock()
        self._readers: list[RingReader] = []
        self.write_position = 0  # absolute index of the next sample to be written
        self._gaps: list[tuple[int, int]] = []  # [start, end) stretches with no audio
        self.data_written = threading.Condition(self._lock)

    def add_reader(self, from_now: bool = True) -> RingReader:
        """A new cursor, starting at the current write position (or the oldest sample held)."""
        with self._lock:
            start = self.write_position if from_now else self.oldest_position
            reader = RingReader(self, start)
            self._readers.append(reader)
            return reader

    @property
    def oldest_position(self) -> int:
        """Absolute index of the oldest sample still in the ring."""
        return max(0, self.write_position - self.capacity)

    def write(self, block: np.ndarray) -> None:
        """Append (n,) samples. Called from the audio thread: no allocation for n <= capacity."""
        n = len(block)
        if n == 0:
            return
        with self._lock:
            if n > self.capacity:  # keep only the newest capacity samples
                skipped = n - self.capacity
                self.write_position += skipped
                block = block[skipped:]
                n = self.capacity
            start = self.write_position % self.capacity
            first = min(n, self.capacity - start)
            self._buffer[start : start + first] = block[:first]
            if first < n:
                self._buffer[: n - first] = block[first:]
            self.write_position += n
            self.data_written.notify_all()

    def write_silence(self, n: int) -> None:
        """Advance the write position by ``n`` zero samples (analysed like any audio)."""
        with self._lock:
            self._advance_with_zeros(n)

    def write_gap(self, n: int) -> None:
        """Advance the clock by ``n`` samples that never arrived (e.g. the device was gone).

        Readers skip the gap and count it in ``lost``, exactly like overwritten audio.
        """
        if n <= 0:
            return
        with self._lock:
            start = self.write_position
            self._advance_with_zeros(n)
            oldest = self.oldest_position
            self._gaps = [g for g in self._gaps if g[1] > oldest]
            self._gaps.append((start, start + n))

    def _advance_with_zeros(self, n: int) -> None:
        if n <= 0:
            return
        if n >= self.capacity:
            self._buffer[:] = 0.0
        else:
            start = self.write_position % self.capacity
            first = min(n, self.capacity - start)
            self._buffer[start : start + first] = 0.0
            self._buffer[: n - first] = 0.0
        self.write_position += n
        self.data_written.notify_all()

    def wait_for_data(self, reader: RingReader, timeout_s: float) -> bool:
        """Block until ``reader`` has unread audio or ``timeout_s`` passes; True if it has."""
        with self._lock:
            if self.write_position > reader.position:
                return True
            self.data_written.wait(timeout_s)
            return self.write_position > reader.position

    def slowest_reader_lag(self) -> int:
        """Largest number of unread samples over all readers (0 with no readers)."""
        with self._lock:
            if not self._readers:
                return 0
            return self.write_position - min(r.position for r in self._readers)

    def read_range(self, start: int, end: int) -> tuple[np.ndarray, int]:
        """Copy of samples [start, end) on the stream clock, clipped to what the ring holds.

        Returns:
            (samples, first): the (n,) float32 copy and the absolute index of its first
            sample (later than ``start`` if the oldest part was already overwritten).
        """
        with self._lock:
            first = max(start, self.oldest_position)
            last = min(end, self.write_position)
            if last <= first:
                return np.zeros(0, dtype=np.float32), first
            return self._copy(first, last), first

    def _read(self, reader: RingReader, max_samples: int | None) -> tuple[np.ndarray, int]:
        with self._lock:
            lost = 0
            oldest = self.oldest_position
            if reader.position < oldest:
                lost = oldest - reader.position
                reader.position = oldest
                reader.samples_lost += lost
            for gap_start, gap_end in self._gaps:
                if gap_start <= reader.position < gap_end:
                    lost += gap_end - reader.position
                    reader.samples_lost += gap_end - reader.position
                    reader.position = gap_end
            end = self.write_position
            for gap_start, _ in self._gaps:
                if reader.position < gap_start < end:
                    end = gap_start  # stop at the gap; the next read reports it
            if max_samples is not None:
                end = min(end, reader.position + max_samples)
            samples = self._copy(reader.position, end)
            reader.position = end
            return samples, lost

    def _copy(self, first: int, last: int) -> np.ndarray:
        """Contiguous copy of [first, last); caller holds the lock and checked the bounds."""
        n = last - first
        start = first % self.capacity
        if start + n <= self.capacity:
            return self._buffer[start : start + n].copy()
        head = self.capacity - start
        out = np.empty(n, dtype=np.float32)
        out[:head] = self._buffer[start:]
        out[head:] = self._buffer[: n - head]
        return out

    def _remove_reader(self, reader: RingReader) -> None:
        with self._lock:
            if reader in self._readers:
                self._readers.remove(reader)
