"""Microphone capture through PortAudio (sounddevice), and input-device lookup.

Threads: PortAudio calls :meth:`MicrophoneSource._callback` on its own audio thread. The
callback only downmixes into a preallocated scratch block, writes the ring and bumps
counters: no logging, no allocation, no blocking. Everything else runs on the caller's
thread.

The stream runs at the device's own default rate and channel count (many devices refuse
16 kHz); the engine resamples to the model rate outside the callback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from soundwatch.audio.source import AudioSource
from soundwatch.errors import SoundwatchError

log = logging.getLogger(__name__)

BLOCK_SECONDS = 0.02  # ~20 ms callbacks: low latency, few Python calls per second


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    default_sample_rate_hz: float
    is_default: bool


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise SoundwatchError(
            f"PortAudio is not available ({exc}); install it with "
            "`sudo apt-get install libportaudio2` (Debian/Ubuntu)"
        ) from exc
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """All devices with at least one input channel, in PortAudio's order."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        host_apis = sd.query_hostapis()
        default_input = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise SoundwatchError(f"cannot list audio devices: {exc}") from exc
    if default_input is None or default_input < 0:
        default_input = next(
            (api["default_input_device"] for api in host_apis if api["default_input_device"] >= 0),
            -1,
        )
    found = []
    for device in devices:
        if device["max_input_channels"] < 1:
            continue
        found.append(
            InputDevice(
                index=device["index"],
                name=device["name"],
                host_api=host_apis[device["hostapi"]]["name"],
                max_input_channels=device["max_input_channels"],
                default_sample_rate_hz=device["default_samplerate"],
                is_default=device["index"] == default_input,
            )
        )
    return found


def find_input_device(selector: str | int | None) -> InputDevice:
    """The input device named by an index or a case-insensitive name substring.

    ``None`` or ``""`` picks the default input. An unknown or ambiguous selector raises a
    :class:`SoundwatchError` that lists the candidates.
    """
    devices = list_input_devices()
    if not devices:
        raise SoundwatchError(
            "no input device found: plug in a microphone, or replay a file with "
            "`soundwatch listen --headless --file PATH`"
        )
    listing = "; ".join(f"{d.index} '{d.name}'" for d in devices)
    if selector is None or str(selector).strip() == "":
        default = next((d for d in devices if d.is_default), devices[0])
        return default
    text = str(selector).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        for device in devices:
            if device.index == index:
                return device
        raise SoundwatchError(
            f"unknown input device index {index}; input devices are: {listing}. "
            "Run `soundwatch devices` to see them."
        )
    exact = [d for d in devices if d.name.lower() == text.lower()]
    if len(exact) == 1:
        return exact[0]
    matches = [d for d in devices if text.lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SoundwatchError(
            f"unknown input device '{text}': no input device name contains it; "
            f"input devices are: {listing}. Run `soundwatch devices` to see them."
        )
    names = "; ".join(f"{d.index} '{d.name}'" for d in matches)
    raise SoundwatchError(
        f"input device '{text}' is ambiguous, it matches: {names}. "
        "Give the index or a longer part of the name."
    )


class MicrophoneSource(AudioSource):
    """Captures one input device into the ring, downmixed to mono, at its native rate."""

    def __init__(self, device: str | int | None = None, ring_seconds: float | None = None):
        self.device = find_input_device(device)
        kwargs = {} if ring_seconds is None else {"ring_seconds": ring_seconds}
        super().__init__(int(round(self.device.default_sample_rate_hz)), **kwargs)
        self.name = self.device.name
        self.channels = max(1, min(self.device.max_input_channels, 2))
        self.blocksize = max(64, int(self.sample_rate_hz * BLOCK_SECONDS))
        self._mono = np.zeros(self.blocksize * 4, dtype=np.float32)
        self._stream = None
        self.first_callback_seen = False

    @property
    def running(self) -> bool:
        return self._stream is not None and self._stream.active

    def start(self) -> None:
        """Open and start the stream; a second call does nothing."""
        if self._stream is not None:
            return
        sd = _sounddevice()
        self.error = None
        try:
            stream = sd.InputStream(
                device=self.device.index,
                samplerate=self.sample_rate_hz,
                channels=self.channels,
                dtype="float32",
                blocksize=self.blocksize,
                callback=self._callback,
                finished_callback=self._on_finished,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise SoundwatchError(
                f"cannot open input device {self.device.index} '{self.device.name}' at "
                f"{self.sample_rate_hz} Hz, {self.channels} channel(s): {exc}. Check that it is "
                "plugged in and not used exclusively by another program, or pick another "
                "with --device (see `soundwatch devices`)."
            ) from exc
        self._stream = stream
        log.info(
            "capturing from %d '%s' at %d Hz, %d channel(s), %d-sample blocks",
            self.device.index, self.device.name, self.sample_rate_hz, self.channels,
            self.blocksize,
        )

    def stop(self) -> None:
        """Stop and close the stream; safe to call twice or before start."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            stream.stop()
        finally:
            stream.close()

    def _callback(self, indata: np.ndarray, frames: int, time_info, status) -> None:
        # PortAudio's thread: keep it to arithmetic on preallocated arrays.
        if status:
            if status.input_overflow:
                self.stats.overflows += 1
            else:
                self.stats.status_flags += 1
        if frames > len(self._mono):
            mono = indata.mean(axis=1)  # rare: a host that ignores blocksize
        else:
            mono = self._mono[:frames]
            if indata.shape[1] == 1:
                mono[:] = indata[:, 0]
            else:
                np.mean(indata, axis=1, out=mono)
        self.ring.write(mono)
        self.stats.blocks += 1
        self.stats.frames += frames
        self.first_callback_seen = True

    def _on_finished(self) -> None:
        if self._stream is not None:  # not a stop() we asked for: the device went away
            self.error = f"input device '{self.device.name}' stopped delivering audio"
