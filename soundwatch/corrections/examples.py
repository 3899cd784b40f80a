"""The audio a correction keeps as an example.

A corrected event's audio comes from its saved clip (copied, so the clip folder's disk
budget cannot delete it) or, in the window, from the engine's ring while the event is
still in its last 30 s (:func:`ring_audio`). From the command line only a clip exists;
``events missed`` also takes a recording of the moment (``--audio``). Examples are
FLAC files in ``corrections/`` beside the event database, their names prefixed with the
database's file name (:func:`example_key`): databases of several places may share a folder,
and their event ids repeat.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from soundwatch.errors import SoundwatchError
from soundwatch.text import file_name_safe

FOLDER_NAME = "corrections"
# Audio kept around an event cut from the ring (the clips' own default rolls).
RING_PRE_ROLL_S = 1.0
RING_POST_ROLL_S = 1.0
# Characters kept of a database name or a label in an example's file name.
NAME_PART_CHARS = 40


def examples_dir(database_path: str | Path) -> Path:
    """The folder of kept examples: ``corrections/`` beside the database (beside the file
    itself when the path is a symbolic link)."""
    return database_folder(database_path) / FOLDER_NAME


def database_folder(database_path: str | Path) -> Path:
    """The folder the database file really lives in (links followed)."""
    return Path(database_path).resolve().parent


def example_key(database_path: str | Path, key: str) -> str:
    """``key`` (an event id, a time) made unique across the databases of one folder: the
    database's file name (links followed, file-system safe) before it."""
    return f"{file_name_safe(Path(database_path).resolve().name, NAME_PART_CHARS)}-{key}"


def example_name(kind: str, label: str | None, key: str, suffix: str = ".flac") -> str:
    """A file name for an example: kind, label (file-system safe) and a unique key."""
    return f"{key}_{kind}_{file_name_safe(label or 'none', NAME_PART_CHARS)}{suffix}"


def keep_file(source: str | Path, folder: Path, name: str) -> Path:
    """Copy ``source`` (a clip or a recording) into ``folder`` as ``name``.

    Raises:
        SoundwatchError: it cannot be read or the copy cannot be written.
    """
    target = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as exc:
        raise SoundwatchError(f"cannot keep {source} as an example in {folder}: {exc}. "
                              "Check the folder's permissions and free space.") from exc
    return target


def keep_samples(samples: np.ndarray, sample_rate_hz: int, folder: Path, name: str) -> Path:
    """Write (n,) float32 ``samples`` as a FLAC example ``name`` in ``folder``.

    Raises:
        SoundwatchError: it cannot be written.
    """
    import soundfile

    target = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        audio = np.clip(np.nan_to_num(samples, nan=0.0), -1.0, 1.0)
        soundfile.write(str(target), audio, sample_rate_hz, format="FLAC", subtype="PCM_16")
    except (OSError, RuntimeError) as exc:
        raise SoundwatchError(f"cannot write the example {target}: {exc}. Check the "
                              "folder's permissions and free space.") from exc
    return target


def ring_audio(monitor, session_id: int, start_s: float, end_s: float) -> np.ndarray | None:
    """The audio of ``[start_s, end_s)`` (stream seconds of ``session_id``) with a second
    around it, from a running :class:`~soundwatch.monitor.Monitor`'s ring; None when
    the monitor runs another session or the ring no longer holds the start."""
    if monitor is None or getattr(monitor, "session_id", None) != session_id:
        return None
    rate = monitor.sample_rate_hz
    start = max(0, int((start_s - RING_PRE_ROLL_S) * rate))
    end = int((end_s + RING_POST_ROLL_S) * rate)
    samples, first = monitor.engine.audio.read_range(start, end)
    if len(samples) == 0 or first > int(start_s * rate):
        return None
    return samples
