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
import threading
import time
from dataclasses import dataclass

import numpy as np

from soundwatch.audio.downmix import channel_to_use, downmix_loss_text
from soundwatch.audio.native_stderr import library_messages_held
from soundwatch.audio.sanitize import silence_nonfinite
from soundwatch.audio.source import AudioSource
from soundwatch.command import command_name
from soundwatch.errors import SoundwatchError

log = logging.getLogger(__name__)

BLOCK_SECONDS = 0.02  # ~20 ms callbacks: low latency, few Python calls per second
DOWNMIX_CHECK_SECONDS = 2.0  # the mix's energy is compared with the channels' this often


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
        from soundwatch.command import suggest

        asked = "" if selector is None or str(selector).strip() == "" else (
            f" (--device {str(selector)!r} was asked for)")
        found = (f"no input device found{asked}: plug in a microphone (or, with PulseAudio "
                 "or PipeWire, check that it runs), or replay a file")
        raise SoundwatchError(
            f"{found} with " + suggest("listen --headless --file PATH"),
            in_window=f"{found} with Replay file… (then Retry here once it is plugged in)")
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
            f"Run `{command_name()} devices` to see them."
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
            f"input devices are: {listing}. Run `{command_name()} devices` to see them."
        )
    names = "; ".join(f"{d.index} '{d.name}'" for d in matches)
    raise SoundwatchError(
        f"input device '{text}' is ambiguous, it matches: {names}. "
        "Give the index or a longer part of the name."
    )


class MicrophoneSource(AudioSource):
    """Captures one input device into the ring, downmixed to mono, at its native rate.

    If the device stops delivering (unplugged, its PulseAudio source unloaded), ``poll()``
    notices within ``STALL_SECONDS``, closes the stream and retries every
    ``RETRY_SECONDS``; when the device is back, the missing time goes into the ring as a
    gap (readers see it as lost samples) and capture resumes on its own.
    """

    STALL_SECONDS = 1.0  # no callback for this long while running: the device is gone
    FIRST_CALLBACK_SECONDS = 5.0  # PulseAudio may take ~2 s to deliver the first block
    RETRY_SECONDS = 1.0

    def __init__(self, device: str | int | None = None, ring_seconds: float | None = None):
        self.selector = device
        self.device = find_input_device(device)
        kwargs = {} if ring_seconds is None else {"ring_seconds": ring_seconds}
        super().__init__(int(round(self.device.default_sample_rate_hz)), **kwargs)
        self.name = self.device.name
        self.channels = max(1, min(self.device.max_input_channels, 2))
        self.blocksize = max(64, int(self.sample_rate_hz * BLOCK_SECONDS))
        self._mono = np.zeros(self.blocksize * 4, dtype=np.float32)
        self._stream = None
        self._wanted = False  # start() was called and stop() was not
        self._opened_at_s = 0.0
        self._last_callback_s: float | None = None
        self._lost_since_s: float | None = None  # set while the device is gone
        self._gap_from_s: float | None = None  # a gap the next block must follow
        self._next_retry_s = 0.0
        self.reconnects = 0
        self.first_callback = threading.Event()
        # Summed squares since the last downmix check, written by the callback only.
        self._channel_energy = np.zeros(self.channels)
        self._mix_energy = 0.0
        self._next_downmix_check_s = 0.0
        self.channel_used: int | None = None  # None: the channels' average

    @property
    def running(self) -> bool:
        return self._wanted

    @property
    def connected(self) -> bool:
        return self._stream is not None and self._lost_since_s is None

    def start(self) -> None:
        """Open and start the stream; a second call does nothing."""
        if self._wanted:
            return
        self.error = None
        self._open()
        self._wanted = True
        log.info(
            "capturing from %d '%s' at %d Hz, %d channel(s), %d-sample blocks",
            self.device.index, self.device.name, self.sample_rate_hz, self.channels,
            self.blocksize,
        )

    def stop(self) -> None:
        """Stop and close the stream; safe to call twice or before start."""
        self._wanted = False
        self._close()

    def poll(self) -> None:
        if not self._wanted:
            return
        now = time.monotonic()
        if now >= self._next_downmix_check_s:
            self._next_downmix_check_s = now + DOWNMIX_CHECK_SECONDS
            self.check_downmix()
        if self._lost_since_s is None:
            if self._stalled(now):
                self._on_device_lost(now)
            return
        if now >= self._next_retry_s:
            self._try_reconnect(now)

    def check_downmix(self) -> None:
        """Average the channels, or use the loudest alone while averaging loses the sound
        (see :mod:`soundwatch.audio.downmix`); judged on the audio since the last check."""
        energy, mix = self._channel_energy.copy(), self._mix_energy
        self._channel_energy[:] = 0.0
        self._mix_energy = 0.0
        channel = channel_to_use(energy, mix)
        if channel == self.channel_used:
            return
        if channel is None:
            log.warning("input '%s': its channels no longer cancel; averaging them again",
                        self.device.name)
        else:
            message = (f"input '{self.device.name}': averaging its {self.channels} channels "
                       f"{downmix_loss_text(energy, mix)}; using channel {channel + 1} alone")
            log.warning("%s", message)
            if message not in self.warnings:
                self.warnings.append(message)
        self.channel_used = channel

    def _stalled(self, now: float) -> bool:
        if self._stream is None:
            return True
        if self._last_callback_s is None:
            return now - self._opened_at_s > self.FIRST_CALLBACK_SECONDS
        return now - self._last_callback_s > self.STALL_SECONDS

    def _on_device_lost(self, now: float) -> None:
        self._lost_since_s = self._last_callback_s or now
        self._next_retry_s = now + self.RETRY_SECONDS
        self.error = (
            f"input device '{self.device.name}' stopped delivering audio; "
            f"retrying every {self.RETRY_SECONDS:.0f} s"
        )
        log.warning("%s", self.error)
        self._close()

    def _try_reconnect(self, now: float) -> None:
        self._next_retry_s = now + self.RETRY_SECONDS
        try:
            # ALSA and PortAudio print ~5 lines of their own per failed attempt
            with library_messages_held():
                self.device = find_input_device(self.device.name)
                self._open()
        except SoundwatchError as exc:
            log.debug("reconnect failed: %s", exc)
            self._close()
            return
        missing_s = time.monotonic() - self._lost_since_s
        # The gap goes in with the new stream's first block, measured then: the stream
        # delivers it up to a second or two after it opens, and a gap measured here was
        # that much short, so every reconnection moved later events earlier on the wall
        # clock (helper-52: 1 s or so each, adding up).
        if self._gap_from_s is None:  # (a stream lost before its first block: the earliest)
            self._gap_from_s = self._lost_since_s
        log.warning("input device '%s' is back after %.1f s", self.device.name, missing_s)
        self._lost_since_s = None
        self.error = None
        self.reconnects += 1

    def _open(self) -> None:
        sd = _sounddevice()
        self._last_callback_s = None
        try:
            stream = sd.InputStream(
                device=self.device.index,
                samplerate=self.sample_rate_hz,
                channels=self.channels,
                dtype="float32",
                blocksize=self.blocksize,
                callback=self._callback,
            )
            self._opened_at_s = time.monotonic()
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise SoundwatchError(
                f"cannot open input device {self.device.index} '{self.device.name}' at "
                f"{self.sample_rate_hz} Hz, {self.channels} channel(s): {exc}. Check that it is "
                "plugged in and not used exclusively by another program, or pick another "
                f"with --device (see `{command_name()} devices`)."
            ) from exc
        self._stream = stream

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        # Closing a stream whose device vanished can block inside PortAudio/ALSA: do it
        # on a throwaway thread so the engine worker never hangs on it.
        closer = threading.Thread(target=_close_quietly, args=(stream,), daemon=True)
        closer.start()
        closer.join(timeout=2.0)

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
        nonfinite = silence_nonfinite(mono)
        if indata.shape[1] > 1:
            for channel in range(indata.shape[1]):
                column = indata[:, channel]
                self._channel_energy[channel] += float(np.dot(column, column))
            self._mix_energy += float(np.dot(mono, mono))
            if self.channel_used is not None:
                mono[:] = indata[:, self.channel_used]
                nonfinite = silence_nonfinite(mono)
        if nonfinite:
            self.stats.nonfinite_samples += nonfinite
        if self._gap_from_s is not None:  # the first block after a reconnection
            started_s = time.monotonic() - frames / self.sample_rate_hz
            self.ring.write_gap(max(0, int(round((started_s - self._gap_from_s)
                                                 * self.sample_rate_hz))))
            self._gap_from_s = None
        self.ring.write(mono)
        self.stats.blocks += 1
        self.stats.frames += frames
        self._last_callback_s = time.monotonic()
        if not self.first_callback.is_set():
            self.first_callback.set()


def _close_quietly(stream) -> None:
    try:
        stream.abort()
    except Exception:  # the device is already gone; nothing left to stop
        pass
    try:
        stream.close()
    except Exception:
        pass
