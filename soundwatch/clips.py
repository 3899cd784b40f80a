"""Audio clips around events: FLAC files cut from the engine's ring, within a disk budget.

Each finished event is queued with :meth:`ClipWriter.request`; :meth:`ClipWriter.poll`
writes every queued clip whose post-roll audio has arrived (or all of them at the end of
the stream, with whatever post-roll there is). A clip covers ``[start - pre_roll_s,
end + post_roll_s)``, clipped to what the ring still holds (30 s), and is named by its
UTC start and label, e.g. ``20240501T120001.500Z_dog.flac`` (no number in it: the
session's event count was taken for the event's database id, which ``events reject``
takes and ``events list`` shows beside the clip).

Disk budget: after each write the oldest clips (by modification time) are deleted until
the folder holds at most ``max_mb`` and ``max_files`` of them; a clip is not written when
it would leave less than ``min_free_mb`` free on the disk. A read-only folder, a full disk
or any other error (a name the file system refuses, audio the encoder refuses) is logged
as a warning (once per kind of failure, again after a success) and monitoring goes on
without that clip: no exception leaves :meth:`ClipWriter.poll`. Non-finite samples are
written as silence (NaN) or full scale (infinity). A clip is written to a ``.part`` file
and renamed; ``.part`` files left by a killed run are removed when a writer starts.
Clip paths are absolute, whatever the working folder.

Speech: with a :class:`~soundwatch.privacy.SpeechGuard`, a clip also waits until the
windows after it are scored, then has its speech muted (``speech_muted_s``) or is not
written at all (``withheld``), as ``[privacy] speech`` says.

Threads: used from the engine worker only.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from soundwatch.audio.ring import RingBuffer
from soundwatch.detect import Event
from soundwatch.errors import SoundwatchError
from soundwatch.privacy import SpeechGuard

log = logging.getLogger(__name__)

# ours (an older soundwatch's ended in _e<number>); any other file is left alone
CLIP_NAME = re.compile(r"^\d{8}T\d{6}\.\d{3}Z_[A-Za-z0-9_-]+\.flac$")
MAX_LABEL_CHARS_IN_NAME = 64  # keeps names well under the usual 255-byte limit
FLAC_BYTES_PER_SAMPLE_ESTIMATE = 2  # 16-bit PCM before compression: an upper bound


@dataclass
class ClipResult:
    """What became of one requested clip."""

    event: Event
    row_id: int | None
    path: Path | None  # None: not written (see ``error``)
    deleted: list[Path] = field(default_factory=list)  # older clips removed for the budget
    error: str | None = None
    speech_muted_s: float | None = None  # None: no speech guard; else seconds silenced
    withheld: str | None = None  # why the clip was deliberately not written (speech)


@dataclass
class _Request:
    event: Event
    row_id: int | None
    wall_start: datetime


class ClipWriter:
    """Writes event clips into ``directory``.

    Args:
        directory: the clip folder (created if missing).
        pre_roll_s: audio kept before the event start.
        post_roll_s: audio kept after the event end.
        max_mb: the folder's clips never exceed this many megabytes (10**6 bytes).
        max_files: nor this many files.
        min_free_mb: free disk space a write must leave.
        sample_rate_hz: the rate of the ring the clips are cut from.
        speech_guard: mutes or withholds speech (None: clips keep everything); the
            monitor feeds it every scored window.
    """

    def __init__(self, directory: str | Path, pre_roll_s: float = 1.0, post_roll_s: float = 1.0,
                 max_mb: float = 500.0, max_files: int = 2000, min_free_mb: float = 200.0,
                 sample_rate_hz: int = 16000, speech_guard: SpeechGuard | None = None):
        self.directory = Path(directory).absolute()
        self.pre_roll_samples = int(round(pre_roll_s * sample_rate_hz))
        self.post_roll_samples = int(round(post_roll_s * sample_rate_hz))
        self.max_bytes = int(max_mb * 1e6)
        self.max_files = int(max_files)
        self.min_free_bytes = int(min_free_mb * 1e6)
        self.sample_rate_hz = int(sample_rate_hz)
        self.speech_guard = speech_guard
        self.withheld = 0
        self.written = 0
        self.failed = 0
        self.removed_parts = 0
        self._pending: list[_Request] = []
        self._last_problem: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._warn("cannot create", f"cannot create the clip folder {self.directory}: "
                       f"{exc}; events are still logged, without clips")
            return
        self.removed_parts = self._remove_orphan_parts()

    def _remove_orphan_parts(self) -> int:
        """Delete half-written clips (``<clip name>.part``) a killed run left behind."""
        removed = 0
        try:
            for entry in os.scandir(self.directory):
                if entry.name.endswith(".part") and CLIP_NAME.match(entry.name[:-5]):
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        except OSError as exc:
            log.warning("cannot clean the clip folder %s: %s", self.directory, exc)
        if removed:
            log.info("removed %d half-written clip(s) from %s", removed, self.directory)
        return removed

    @property
    def pending(self) -> int:
        return len(self._pending)

    def request(self, event: Event, row_id: int | None = None,
                wall_start: datetime | None = None) -> None:
        """Queue a clip of a finished ``event`` (``wall_start``: its UTC start, for the name)."""
        wall_start = wall_start or datetime.now(timezone.utc) - timedelta(
            seconds=event.duration_s)
        self._pending.append(_Request(event, row_id, wall_start))

    def poll(self, audio: RingBuffer, final: bool = False) -> list[ClipResult]:
        """Write the queued clips whose post-roll has been captured (all of them if
        ``final``) from ``audio`` (the engine's model-rate ring)."""
        position = audio.write_position
        due, waiting = [], []
        for request in self._pending:
            clip_end = request.event.end_sample + self.post_roll_samples
            ready = final or (position >= clip_end and (
                self.speech_guard is None or self.speech_guard.ready(clip_end)))
            (due if ready else waiting).append(request)
        if not due:
            return []
        self._pending = waiting
        results = []
        for request in due:
            event = request.event
            samples, first = audio.read_range(max(0, event.start_sample - self.pre_roll_samples),
                                              event.end_sample + self.post_roll_samples)
            results.append(self._write(request, samples, first, final))
        return results

    def write_clip(self, event: Event, samples: np.ndarray, wall_start: datetime,
                   row_id: int | None = None, first_sample: int | None = None) -> ClipResult:
        """Write ``samples`` ((n,) float32 at ``sample_rate_hz``, starting at stream sample
        ``first_sample``; default: the event start less the pre-roll) as ``event``'s clip
        now; the speech guard, if any, applies as at the end of a stream."""
        if first_sample is None:
            first_sample = max(0, event.start_sample - self.pre_roll_samples)
        return self._write(_Request(event, row_id, wall_start), samples, first_sample, True)

    # -- internals -----------------------------------------------------------------------

    def _write(self, request: _Request, samples: np.ndarray, first_sample: int,
               final: bool) -> ClipResult:
        import soundfile

        event = request.event
        result = ClipResult(event, request.row_id, None)
        if len(samples) == 0:
            result.error = "no audio left in the ring for this event"
            self.failed += 1
            return result
        if self.speech_guard is not None:
            verdict = self.speech_guard.apply(samples, first_sample, final)
            result.speech_muted_s = verdict.muted_s
            if verdict.audio is None:
                result.withheld = verdict.withheld
                self.withheld += 1
                return result
            samples = verdict.audio
        needed = len(samples) * FLAC_BYTES_PER_SAMPLE_ESTIMATE + self.min_free_bytes
        try:
            if not self.directory.is_dir():  # deleted while listening (a clean-up): again
                self.directory.mkdir(parents=True, exist_ok=True)
                log.warning("the clip folder %s was gone: made again", self.directory)
            free = shutil.disk_usage(self.directory).free
        except OSError as exc:
            return self._fail(result, "unusable", f"clip folder {self.directory} is unusable: "
                              f"{exc}; events are still logged, without clips")
        if not os.access(self.directory, os.W_OK):  # said as it is, not as a full disk
            return self._fail(result, "read-only", f"clip folder {self.directory} is not "
                              "writable (a read-only disk or folder, or its permissions): "
                              "clips are skipped, events are still logged; make it "
                              "writable or set [clips] directory")
        if free < needed:
            return self._fail(result, "disk full", f"disk almost full ({free / 1e6:.0f} MB free "
                              f"at {self.directory}, keeping {self.min_free_bytes / 1e6:.0f} MB "
                              "free); clips are skipped, events are still logged")
        path = self.directory / clip_name(request.wall_start, event)
        temporary = path.with_name(path.name + ".part")
        audio = np.clip(np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
        try:
            soundfile.write(str(temporary), audio, self.sample_rate_hz, format="FLAC",
                            subtype="PCM_16")
            os.replace(temporary, path)  # a kill mid-write never leaves a named half clip
        except Exception as exc:  # OSError, soundfile's RuntimeError/LibsndfileError, ...
            try:
                temporary.unlink(missing_ok=True)
            except OSError:
                pass  # e.g. the folder became read-only: the write error is what to report
            return self._fail(result, "write", f"cannot write clip {path}: {exc}; events are "
                              "still logged, without clips")
        if self._last_problem is not None:
            log.info("clips are being written again to %s", self.directory)
            self._last_problem = None
        self.written += 1
        result.path = path
        result.deleted = self._enforce_budget(keep=path)
        return result

    def _enforce_budget(self, keep: Path) -> list[Path]:
        """Delete the oldest clips until the folder is within max_mb and max_files."""
        clips = []
        try:
            for entry in os.scandir(self.directory):
                if entry.is_file() and CLIP_NAME.match(entry.name):
                    info = entry.stat()
                    clips.append((info.st_mtime, entry.name, info.st_size, Path(entry.path)))
        except OSError as exc:
            log.warning("cannot list the clip folder %s: %s", self.directory, exc)
            return []
        clips.sort()
        total = sum(c[2] for c in clips)
        count = len(clips)
        deleted = []
        for _, _, size, path in clips:
            if total <= self.max_bytes and count <= self.max_files:
                break
            if path == keep:
                continue
            try:
                path.unlink()
            except OSError as exc:
                log.warning("cannot delete old clip %s: %s", path, exc)
                continue
            total -= size
            count -= 1
            deleted.append(path)
        if deleted:
            log.info("disk budget: deleted %d old clip(s)", len(deleted))
        return deleted

    def _fail(self, result: ClipResult, kind: str, message: str) -> ClipResult:
        self.failed += 1
        result.error = message
        self._warn(kind, message)
        return result

    def _warn(self, kind: str, message: str) -> None:
        if self._last_problem != kind:  # once per kind of failure, not once per event
            log.warning(message)
            self._last_problem = kind


def clip_writer_for(settings, classifier, database=None) -> ClipWriter:
    """A ``ClipWriter`` from the ``[clips]`` and ``[privacy]`` sections of ``settings`` (a
    :class:`~soundwatch.config.Settings`) for ``classifier``'s rate, labels and window,
    writing beside the event database ``database`` (default: the settings' own) unless
    ``[clips] directory`` says where.

    Raises:
        SoundwatchError: ``[privacy]`` asks to keep speech out and the model cannot hear
            it, or the clip folder's path is a file (every clip would fail).
    """
    clips = settings.clips
    directory = settings.clip_directory(database)
    if directory.exists() and not directory.is_dir():
        raise SoundwatchError(f"the clip folder {directory} is a file, not a folder: give a "
                              "folder with --clip-dir or [clips] directory")
    return ClipWriter(directory, pre_roll_s=clips.pre_roll_s,
                      post_roll_s=clips.post_roll_s, max_mb=clips.max_mb,
                      max_files=clips.max_files, min_free_mb=clips.min_free_mb,
                      sample_rate_hz=classifier.sample_rate_hz,
                      speech_guard=SpeechGuard.for_classifier(settings.privacy, classifier))


def clip_name(wall_start: datetime, event: Event) -> str:
    """``<UTC start>_<label>.flac`` with the label made filename-safe: one label has one
    event at a time, so its start to the millisecond names it."""
    stamp = wall_start.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"
    label = re.sub(r"[^A-Za-z0-9_-]+", "-", event.label).strip("-")[:MAX_LABEL_CHARS_IN_NAME]
    label = label or "event"
    return f"{stamp}_{label}.flac"
