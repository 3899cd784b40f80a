"""Open the source a user asked for: a file (--file) or a microphone (--device)."""

from __future__ import annotations

from soundwatch.audio.source import AudioSource


def open_source(
    file: str | None, device: str | None, sample_rate_hz: int, paced: bool = True,
    wait_for_device: bool = False,
) -> AudioSource:
    """A :class:`FileSource` resampled to ``sample_rate_hz`` when ``file`` is given, else a
    :class:`MicrophoneSource` on ``device`` (index or name part; None: the default), which
    waits for a device that is not there when ``wait_for_device``."""
    if file:
        from soundwatch.audio.files import FileSource

        return FileSource(file, sample_rate_hz=sample_rate_hz, paced=paced)
    from soundwatch.audio.capture import MicrophoneSource

    return MicrophoneSource(device, wait=wait_for_device)
