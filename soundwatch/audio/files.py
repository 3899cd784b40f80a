"""Audio files: decode (WAV/FLAC/OGG, MP3 where libsndfile has it) and replay into a ring.

Threads: :class:`FileSource` decodes and replays from its own daemon thread, block by block
(memory does not grow with the file), either paced in real time (as a microphone would
deliver it) or as fast as the slowest ring reader keeps up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from soundwatch.audio.decode import AudioDecoder
from soundwatch.audio.source import AudioSource

log = logging.getLogger(__name__)

REPLAY_BLOCK_SECONDS = 0.02
# A file heard to its end is followed by this much digital silence, as live the room goes
# on after a sound: the windows that hold the file's last second are scored, so a sound
# at the very end of a recording (a 1.2 s doorbell clip) can still last min_duration_s.
# Without it, a 1.2 s file gave two windows, and every label in it was "too_short".
# Digital silence is kept out of the noise floor (soundwatch.audio.levels).
END_SILENCE_S = 1.0
# What folders of recordings are searched for (training sets, a replay's source name).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def end_silence(sample_rate_hz: int) -> np.ndarray:
    """(n,) float32 zeros: the END_SILENCE_S heard after a file."""
    return np.zeros(int(round(END_SILENCE_S * sample_rate_hz)), np.float32)


def with_end_silence(blocks: Iterable[np.ndarray], sample_rate_hz: int
                     ) -> Iterator[np.ndarray]:
    """``blocks`` (mono float32), then :func:`end_silence`: a file as it is heard."""
    yield from blocks
    yield end_silence(sample_rate_hz)


def load_audio(path: str | Path, sample_rate_hz: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole file to mono float32, optionally resampled (memory grows with the
    file: stream long files with :class:`~soundwatch.audio.decode.AudioDecoder`).

    Args:
        path: a WAV, FLAC, OGG (or MP3, where the platform's libsndfile decodes it) file.
        sample_rate_hz: the rate wanted; None keeps the file's own rate.

    Returns:
        (signal, rate): (n_samples,) float32 in [-1, 1] and its sample rate in Hz.

    Raises:
        SoundwatchError: missing, unreadable, non-audio or empty file, naming the file.
    """
    decoder = AudioDecoder(path, sample_rate_hz)
    return decoder.read_all(), decoder.sample_rate_hz


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
        self.decoder = AudioDecoder(self.path, sample_rate_hz)
        rate = self.decoder.sample_rate_hz
        super().__init__(rate)
        self.warnings = self.decoder.report.warnings  # grows while the file is read
        self.name = str(self.path)
        self.paced = paced
        self.loop = loop
        self.block = max(1, int(rate * REPLAY_BLOCK_SECONDS))
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        # the stream sample where the file's own audio ended (the silence after it
        # begins: END_SILENCE_S); None while it plays, and when it loops
        self.file_end_sample: int | None = None

    @property
    def duration_s(self) -> float:
        return self.decoder.duration_s

    @property
    def realtime(self) -> bool:
        return self.paced

    @property
    def live(self) -> bool:
        return False

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

    def _replay(self) -> None:
        try:
            start_wall = time.monotonic()
            written = 0
            while not self._stop.is_set():
                for decoded in self.decoder.blocks():
                    written = self._write_all(decoded, start_wall, written)
                    if written is None:
                        return
                    self.stats.nonfinite_samples = self.decoder.report.nonfinite_samples
                if not self.loop:
                    self.file_end_sample = written
                    self._write_all(end_silence(self.sample_rate_hz), start_wall, written)
                    break
        except Exception as exc:  # a file that fails mid-way: the stream ends, and says why
            self.error = str(exc)
            log.error("replay of %s stopped: %s", self.path, exc)
        finally:
            self._done.set()

    def _write_all(self, samples: np.ndarray, start_wall: float, written: int) -> int | None:
        """Write ``samples`` in replay blocks; the new count written, None when stopped."""
        for position in range(0, len(samples), self.block):
            if self._stop.is_set():
                return None
            written += self._write(samples[position:position + self.block], start_wall,
                                   written)
        return written

    def _write(self, block: np.ndarray, start_wall: float, written: int) -> int:
        if self.paced:
            delay = start_wall + written / self.sample_rate_hz - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
        else:
            while (self.ring.slowest_reader_lag() > self.ring.capacity // 2
                   and not self._stop.is_set()):
                self._stop.wait(0.002)
        self.ring.write(block)
        self.stats.blocks += 1
        self.stats.frames += len(block)
        return len(block)
