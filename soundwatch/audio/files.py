"""Audio files: decode (WAV/FLAC/OGG, MP3 where libsndfile has it) and replay into a ring.

Threads: :class:`FileSource` replays from its own daemon thread, either paced in real time
(as a microphone would deliver it) or as fast as the slowest ring reader keeps up.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from soundwatch.audio.resample import resample
from soundwatch.audio.source import AudioSource, check_sample_rate
from soundwatch.errors import SoundwatchError

log = logging.getLogger(__name__)

REPLAY_BLOCK_SECONDS = 0.02


def load_audio(path: str | Path, sample_rate_hz: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a file to mono float32, optionally resampled.

    Args:
        path: a WAV, FLAC, OGG (or MP3, where the platform's libsndfile decodes it) file.
        sample_rate_hz: the rate wanted; None keeps the file's own rate.

    Returns:
        (signal, rate): (n_samples,) float32 in [-1, 1] and its sample rate in Hz.

    Raises:
        SoundwatchError: missing, unreadable, non-audio or empty file, naming the file.
    """
    import soundfile

    path = Path(path)
    if not path.exists():
        raise SoundwatchError(f"audio file not found: {path}")
    if path.is_dir():
        raise SoundwatchError(f"{path} is a folder, not an audio file")
    try:
        data, file_rate_hz = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise SoundwatchError(
            f"cannot decode audio file {path}: {exc}. Supported formats: WAV, FLAC, OGG "
            f"(and MP3 where libsndfile supports it); convert it, e.g. with "
            f"`ffmpeg -i '{path}' out.wav`"
        ) from exc
    if data.shape[0] == 0:
        raise SoundwatchError(f"audio file {path} is empty (0 samples)")
    check_sample_rate(file_rate_hz, f"audio file {path}")  # before resampling sizes anything
    signal = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    if sample_rate_hz is not None and sample_rate_hz != file_rate_hz:
        signal = resample(signal, file_rate_hz, sample_rate_hz)
        file_rate_hz = sample_rate_hz
    return signal, int(file_rate_hz)


class FileSource(AudioSource):
    """Replays a decoded file into the ring.

    Args:
        path: the audio file.
        sample_rate_hz: rate to resample to (the model's), None to keep the file's.
        paced: True replays in real time; False as fast as the slowest reader keeps up
            (the writer waits while any reader has more than half the ring unread).
        loop: start again at the end, for demos.
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate_hz: int | None = None,
        paced: bool = True,
        loop: bool = False,
    ):
        self.path = Path(path)
        self.signal, rate = load_audio(self.path, sample_rate_hz)
        super().__init__(rate)
        self.name = str(self.path)
        self.paced = paced
        self.loop = loop
        self.block = max(1, int(rate * REPLAY_BLOCK_SECONDS))
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()

    @property
    def duration_s(self) -> float:
        return len(self.signal) / self.sample_rate_hz

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._done.clear()
        self._thread = threading.Thread(target=self._replay, name="file-replay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=5)

    def wait_finished(self, timeout_s: float | None = None) -> bool:
        return self._done.wait(timeout_s)

    def _replay(self) -> None:
        try:
            start_wall = time.monotonic()
            written = 0
            position = 0
            while not self._stop.is_set():
                if position >= len(self.signal):
                    if not self.loop:
                        break
                    position = 0
                block = self.signal[position : position + self.block]
                if self.paced:
                    due = start_wall + written / self.sample_rate_hz
                    delay = due - time.monotonic()
                    if delay > 0:
                        self._stop.wait(delay)
                else:
                    while (
                        self.ring.slowest_reader_lag() > self.ring.capacity // 2
                        and not self._stop.is_set()
                    ):
                        self._stop.wait(0.002)
                self.ring.write(block)
                position += len(block)
                written += len(block)
                self.stats.blocks += 1
                self.stats.frames += len(block)
        finally:
            self._done.set()
