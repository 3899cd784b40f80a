"""Open the source a user asked for: a file (--file) or a microphone (--device)."""

from __future__ import annotations

from soundwatch.audio.source import AudioSource


def open_source(
    file: str | None, device: str | None, sample_rate_hz: int, paced: bool = True
) -> AudioSource:
    """A :class:`FileSource` resampled to ``sample_rate_hz`` when ``file`` is given, else a
    :class:`MicrophoneSource` on ``device`` (index or name part; None: the default)."""
    if file:
        from soundwatch.audio.files import FileSource

        return FileSource(file, sample_rate_hz=sample_rate_hz, paced=paced)
    from soundwatch.audio.capture import MicrophoneSource

    return MicrophoneSource(device)
