"""What every audio source gives the engine: a ring of mono float32 audio at a known rate.

A source owns its :class:`~soundwatch.audio.ring.RingBuffer` and fills it from its own
thread (PortAudio's callback for a microphone, a replay thread for a file). The engine
reads the ring and never calls back into the source except through start/stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from soundwatch.audio.ring import RingBuffer
from soundwatch.errors import SoundwatchError

RING_SECONDS = 30.0  # audio held for late readers and for clip pre-roll
# Rates a device or a file header may claim: a tiny rate makes resampling to the model
# rate blow a small file up by the ratio, a huge one sizes the ring in gigabytes.
SAMPLE_RATE_RANGE_HZ = (1000, 768_000)


def check_sample_rate(rate_hz, what: str) -> int:
    """``rate_hz`` as an int when within SAMPLE_RATE_RANGE_HZ; else a SoundwatchError
    naming ``what`` (e.g. the file) and the range."""
    low, high = SAMPLE_RATE_RANGE_HZ
    if not low <= rate_hz <= high:
        raise SoundwatchError(f"{what} has a sample rate of {rate_hz} Hz; soundwatch reads "
                              f"{low}-{high} Hz. Is the file damaged? Convert it, e.g. with "
                              "`ffmpeg -i IN -ar 16000 out.wav`.")
    return int(rate_hz)


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
        self.sample_rate_hz = check_sample_rate(sample_rate_hz, f"the audio source {self.name}")
        self.ring = RingBuffer(int(round(ring_seconds * self.sample_rate_hz)))
        self.stats = SourceStats()
        self.error: str | None = None
        self.warnings: list[str] = []  # what was wrong with the input and what was done

    @property
    def finished(self) -> bool:
        return False

    @property
    def realtime(self) -> bool:
        """Audio arrives at the pace it was recorded (a microphone, a paced replay)."""
        return True

    @property
    def live(self) -> bool:
        """The audio is heard now (a microphone), not read from a recording, paced or
        not: only a live input can stop being heard."""
        return self.realtime

    @property
    def duration_s(self) -> float | None:
        """The whole stream's length when known in advance (a file), else None."""
        return None

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
