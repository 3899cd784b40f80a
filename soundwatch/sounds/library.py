"""The user's sounds file: ``sounds.json`` in the user data folder, versioned.

Format (``"format": "soundwatch-sounds"``, ``"version": 1``): ``"sounds"`` is a list of
:meth:`UserSound.to_dict` objects. Writes go to a temporary file that replaces the old one,
so a crash never leaves half a file; a file that cannot be read is never overwritten.
A change (:func:`update_sounds`) reads the file again and writes it back under an
exclusive lock, so that two soundwatch processes changing it at once (a retrain on the
command line while the window learns a sound) each keep the other's change.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from soundwatch.command import command_name
from soundwatch.errors import SoundwatchError
from soundwatch.jsonout import write_json_file
from soundwatch.sounds.head import Head

try:
    import fcntl
except ImportError:  # not a POSIX system: changes are not serialised between processes
    fcntl = None

log = logging.getLogger(__name__)

FORMAT = "soundwatch-sounds"
VERSION = 1
FILE_NAME = "sounds.json"
MAX_LABEL_CHARS = 40
# A sound's own min_duration_s at most (a minute of sound before an event is announced:
# longer would never be announced within the detector's max_duration_s parts).
MAX_MIN_DURATION_S = 60.0


REMOVED_FILE_NAME = "removed_sounds.json"  # when each removed sound was removed


def default_sounds_path() -> Path:
    """``sounds.json`` in the user data folder (``$SOUNDWATCH_DATA_DIR`` overrides)."""
    from soundwatch.config import user_data_dir

    return user_data_dir() / FILE_NAME


def _removed_path() -> Path:
    return default_sounds_path().with_name(REMOVED_FILE_NAME)


def removed_times() -> dict[str, str]:
    """{:func:`label_key` of a removed sound: when it was last removed (UTC ISO-8601)}."""
    try:
        data = json.loads(_removed_path().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}  # none yet, or unreadable: nothing is forgotten (never an error)
    if not isinstance(data, dict):
        return {}
    removed: dict[str, str] = {}  # keyed again: an older soundwatch's keys kept spaces
    for name, when in data.items():
        if isinstance(name, str) and isinstance(when, str):
            key = label_key(name)
            removed[key] = max(when, removed.get(key, ""))
    return removed


def note_removed(label: str) -> None:
    """Remember that the sound ``label`` was removed now: the corrections that named it
    until now (they live in each place's event database) teach no sound of that name
    again (:func:`removed_at`), so a removed sound cannot come back by itself.

    Raises:
        SoundwatchError: the file cannot be written.
    """
    from soundwatch.times import iso_utc

    with file_lock(_removed_path(), "the removed sounds file"):
        removed = removed_times()
        removed[label_key(label)] = iso_utc(datetime.now(timezone.utc))
        write_json_file(_removed_path(), removed, "the removed sounds file")


def removed_at(label: str) -> str | None:
    """When a sound of this name (as :func:`label_key` reads it) was last removed (UTC
    ISO-8601, comparable as text with a correction's ``created_at``); None: never."""
    return removed_times().get(label_key(label))


@dataclass(frozen=True)
class UserSound:
    """One learnt sound.

    Attributes:
        label: its name, used as a label everywhere.
        head: the fitted :class:`~soundwatch.sounds.head.Head`.
        model_version: the ``embedding_version`` of the model it was learnt on (its
            ``model_version`` for models that name none).
        embedding_dim: that embedding's size.
        info: how it was learnt (examples, windows, leave-one-out recall, time, ...).
        min_duration_s: the detector's ``min_duration_s`` for this sound (None: the
            detector-wide value); applied by
            :func:`~soundwatch.sounds.apply.with_sound_settings`.
    """

    label: str
    head: Head
    model_version: str
    embedding_dim: int
    info: dict = field(default_factory=dict)
    min_duration_s: float | None = None

    def to_dict(self) -> dict:
        data = {"label": self.label, "model_version": self.model_version,
                "embedding_dim": self.embedding_dim,
                "weights": [float(v) for v in self.head.weights],
                "bias": self.head.bias, "threshold_logit": self.head.threshold_logit,
                "info": self.info}
        if self.min_duration_s is not None:
            data["min_duration_s"] = self.min_duration_s
        return data

    @classmethod
    def from_dict(cls, data: dict) -> UserSound:
        """Raises KeyError/TypeError/ValueError on a malformed entry."""
        weights = np.asarray(data["weights"], dtype=np.float64)
        dim = int(data["embedding_dim"])
        if weights.shape != (dim,) or not np.all(np.isfinite(weights)):
            raise ValueError(f"weights must be {dim} finite numbers")
        label = check_label(str(data["label"]))
        min_duration_s = data.get("min_duration_s")
        if min_duration_s is not None:
            min_duration_s = float(min_duration_s)
            if not 0.0 <= min_duration_s <= MAX_MIN_DURATION_S:
                raise ValueError(f"min_duration_s must be 0 to {MAX_MIN_DURATION_S:g} "
                                 f"seconds, got {min_duration_s:g}")
        bias, threshold = float(data["bias"]), float(data["threshold_logit"])
        if not (np.isfinite(bias) and np.isfinite(threshold)):
            raise ValueError(f"bias and threshold_logit must be finite numbers, got {bias} "
                             f"and {threshold}")
        return cls(label=label, head=Head(weights, bias, threshold),
                   model_version=str(data["model_version"]), embedding_dim=dim,
                   info=dict(data.get("info") or {}), min_duration_s=min_duration_s)


def check_label(label: str) -> str:
    """``label`` stripped, or SoundwatchError when it cannot be a label."""
    if not label.strip():
        raise SoundwatchError(f"{label!r} cannot name a sound: a name cannot be empty or "
                              "only spaces; e.g. 'doorbell' or 'dryer buzzer'")
    label = label.strip()
    if not label or len(label) > MAX_LABEL_CHARS or not label.isprintable() or "," in label:
        raise SoundwatchError(
            f"{label!r} cannot name a sound: use 1 to {MAX_LABEL_CHARS} printable "
            "characters without commas, e.g. 'doorbell' or 'dryer buzzer'")
    return label


def label_key(label: str) -> str:
    """``label`` as it reads: its Unicode compatibility form (NFKC: full-width letters as
    plain ones), case folded, without spaces, underscores and hyphens. Two labels with
    the same key (``smoke alarm``, ``Smoke_Alarm``, ``smokealarm``, ``Door Bell`` and
    ``doorbell``) are the same label to a reader of the timeline or an alert, so a new
    one is refused."""
    return re.sub(r"[\s_-]+", "", unicodedata.normalize("NFKC", label).casefold())


def label_named(name: str, labels) -> str:
    """The one label among ``labels`` that ``name`` reads as (:func:`label_key`: "Smoke
    Alarm" is ``smoke_alarm``, "front door" your "Front Door"); ``name`` itself when it
    is one of them, or reads as none or as several (for the caller's own error)."""
    labels = list(labels)
    if name in labels:
        return name
    key = label_key(name)
    matches = [label for label in labels if label_key(label) == key]
    return matches[0] if len(matches) == 1 else name


def read_sounds(path: str | Path | None = None, fix: str | None = None,
                skip_malformed: bool = False,
                skipped: list[str | None] | None = None) -> list[UserSound]:
    """The sounds in ``path`` (default: :func:`default_sounds_path`); none if it is missing.

    Args:
        fix: what the user should do about a bad file (default: for the user's own sounds
            file, move it aside and import an export into the fresh one).
        skip_malformed: leave out a malformed sound, or a second one of a name, with a
            warning naming it, instead of raising (for listening: one damaged sound must
            not silence the others; commands that write the file back never skip, or the
            damaged one would be lost).
        skipped: with ``skip_malformed``, gets the name of each malformed sound left out
            (None where its name cannot be read).

    Raises:
        SoundwatchError: the file is unreadable, not a sounds file, from a newer version,
            or (unless ``skip_malformed``) has a malformed entry or names a sound twice
            (names the file, the sound and the fix; the file is left as is).
    """
    path = Path(path) if path is not None else default_sounds_path()
    if not path.exists():
        return []
    if fix is None:
        fix = (f"soundwatch will not overwrite it: your sounds are in it. Rename it (e.g. to "
               f"{path.name}.bad) to keep a copy, then restore an export with `{command_name()} "
               f"sounds import FILE` or learn your sounds again with `{command_name()} learn`")
    try:
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise SoundwatchError(
                f"the sounds file {path} is empty: no sounds are in it (it was emptied "
                f"outside soundwatch, which never writes it so). Delete it to start afresh, "
                f"or restore an export into its place with `{command_name()} sounds "
                "import FILE` once it is deleted")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SoundwatchError(f"cannot read the sounds file {path}: {exc}. {fix}.") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SoundwatchError(f"{path} is not a soundwatch sounds file (no \"format\": "
                              f"\"{FORMAT}\"). {fix}.")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise SoundwatchError(f"{path} has sounds file version {version!r}; this soundwatch "
                              f"reads version {VERSION} or older. Upgrade soundwatch.")
    entries = data.get("sounds")
    if not isinstance(entries, list):
        raise SoundwatchError(f"{path}: \"sounds\" must be a list of sounds, got "
                              f"{type(entries).__name__}. {fix}.")
    sounds: list[UserSound] = []
    for index, entry in enumerate(entries):
        named = entry.get("label") if isinstance(entry, dict) else None
        which = f"sound #{index + 1}" + (f" ({named!r})" if isinstance(named, str) else "")
        try:
            sound = UserSound.from_dict(entry)
        except (KeyError, TypeError, ValueError, SoundwatchError) as exc:
            why = f"it has no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
            problem = f"{path}: {which} is malformed ({why}). {fix}."
            if not skip_malformed:
                raise SoundwatchError(problem) from exc
            log.warning("%s Listening goes on with your other sounds.", problem)
            if skipped is not None:
                skipped.append(named.strip() if isinstance(named, str) else None)
            continue
        if any(s.label == sound.label for s in sounds):
            problem = f"{path} names the sound {sound.label!r} twice. {fix}."
            if not skip_malformed:
                raise SoundwatchError(problem)
            log.warning("%s The first one is used.", problem)
            continue
        sounds.append(sound)
    return sounds


def write_sounds(sounds: list[UserSound], path: str | Path | None = None,
                 kept: dict[str, str] | None = None) -> Path:
    """Replace ``path`` (default: :func:`default_sounds_path`) with ``sounds``, atomically.

    Args:
        kept: an export's {label: base64 of the file of what it was learnt from}
            (:func:`soundwatch.sounds.retrain.kept_bytes`), under ``"kept"``; readers of
            the sounds alone ignore it.

    Raises:
        SoundwatchError: the folder or file cannot be written.
    """
    path = Path(path) if path is not None else default_sounds_path()
    data = {"format": FORMAT, "version": VERSION, "sounds": [s.to_dict() for s in sounds]}
    if kept:
        data["kept"] = kept
    write_json_file(path, data, "the sounds file")
    return path


@contextmanager
def file_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock (``flock``) on ``path``'s ``.lock`` file beside it: other
    soundwatch processes that change ``path`` wait until it is released.

    Raises:
        SoundwatchError: the lock file cannot be made (names ``what`` and the folder).
    """
    if fcntl is None:
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a")  # noqa: SIM115 (held open while locked)
    except OSError as exc:
        raise SoundwatchError(f"cannot write {what} {path}: {exc}. Check the folder's "
                              "permissions and free space.") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update_sounds(change: Callable[[list[UserSound]], list[UserSound]],
                  path: str | Path | None = None) -> Path:
    """Change the sounds file ``path`` (default: :func:`default_sounds_path`): read it
    again, pass its sounds to ``change``, write what it returns, all under the file's
    lock (:func:`file_lock`). Work that takes seconds (learning, retraining) is done
    before, on a copy read earlier; only its result is merged here, so a sound another
    process changed meanwhile keeps that change.

    Raises:
        SoundwatchError: the file cannot be read or written, or ``change`` refuses.
    """
    path = Path(path) if path is not None else default_sounds_path()
    with file_lock(path, "the sounds file"):
        return write_sounds(change(read_sounds(path)), path)


def read_exported_kept(path: str | Path) -> dict[str, object]:
    """An export's ``"kept"`` ({label: base64 text}, as found: checked when restored);
    {} when it has none.

    Raises:
        SoundwatchError: ``"kept"`` is there but not a table of sounds.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}  # read_sounds has said why
    kept = data.get("kept", {}) if isinstance(data, dict) else {}
    if not isinstance(kept, dict):
        raise SoundwatchError(f"{path}: \"kept\" must be a table of the sounds' examples, "
                              f"got {type(kept).__name__}; nothing was imported. Export the "
                              "sounds again, or delete \"kept\" to import them without")
    return kept
