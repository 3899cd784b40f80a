"""What every audio source gives the engine: a ring of mono float32 audio at a known rate.

A source owns its :class:`~soundwatch.audio.ring.RingBuffer` and fills it from its own
thread (PortAudio's callback for a microphone, a replay thread for a file). The engine
reads the ring and never calls back into the source except through start/stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from soundwatch.audio.ring import RingBuffer

RING_SECONDS = 30.0  # audio held for late readers and for clip pre-roll


@dataclass
class SourceStats:
    """Counters a source keeps; read from other threads (plain ints, no lock needed)."""

    blocks: int = 0
    frames: int = 0
    overflows: int = 0  # input overflow flags reported by the device
    status_flags: int = 0  # any other callback status flags
    nonfinite_samples: int = 0  # NaN/inf values replaced by silence as they came in


class AudioSource:
    """Base class: ``sample_rate_hz``, ``ring``, ``stats``, ``start()``, ``stop()``.

    ``finished`` is True once a source has nothing more to give (end of a file).
    ``error`` holds a user-facing message when the source failed (device gone).
    """

    name = "source"

    def __init__(self, sample_rate_hz: int, ring_seconds: float = RING_SECONDS):
        self.sample_rate_hz = int(sample_rate_hz)
        self.ring = RingBuffer(int(round(ring_seconds * self.sample_rate_hz)))
        self.stats = SourceStats()
        self.error: str | None = None
        self.warnings: list[str] = []  # what was wrong with the input and what was done

    @property
    def finished(self) -> bool:
        return False

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        """Housekeeping the engine worker calls every loop (~20 Hz): e.g. detect a device
        that went silent and reconnect it. Must return quickly."""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
