"""Retrain one of the user's sounds from its corrections.

Positives: the windows it was learnt from (kept by ``soundwatch learn`` in
``sound_examples/`` in the user data folder, one file per sound: :func:`kept_path`) plus
the loud windows of every corrected event said to be it (confirmed, relabelled to it,
marked as missed).
Negatives: the shipped generic set, the place's own recordings given at learning, and,
weighted as hard negatives (:data:`~soundwatch.sounds.head.HARD_NEGATIVE_SHARE`), every
window of the events rejected as it ("not this", or relabelled to another sound) and the
windows the user's other sounds were learnt from; the threshold then rises above the
rejected events where the sound's own windows allow it (:func:`raise_above_rejected`).
A new sound (a name first given with ``events relabel --new``) is learnt from its
corrections alone once it has :data:`~soundwatch.sounds.learn.MIN_EXAMPLES`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import io
import logging
import pickle
import time
import zipfile
import zlib
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np

from soundwatch.audio.files import load_audio
from soundwatch.command import command_name
from soundwatch.errors import SoundwatchError
from soundwatch.sounds.apply import embedding_dim
from soundwatch.sounds.head import NEGATIVE_RATE_AT_THRESHOLD, Head, fit_head
from soundwatch.sounds.learn import (
    LEARNT_MIN_DURATION_S,
    MIN_EXAMPLES,
    embed_signal,
    signal_windows,
)
from soundwatch.sounds.library import UserSound, removed_at
from soundwatch.sounds.negatives import generic_negatives
from soundwatch.text import file_name_safe
from soundwatch.unusual.settings import UNUSUAL_LABEL

log = logging.getLogger(__name__)

FOLDER_NAME = "sound_examples"
# What a damaged kept file raises on reading (a truncated zip, corrupt compressed data).
DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)
# After a retrain, the threshold rises this far (in logits) above the highest window of
# the events rejected as the sound, so that they stop firing, but keeps at least
# KEEP_POSITIVE_SHARE of the positive windows the fitted threshold passed.
# (benchmarks/corrections_retrain_cost.json: keeping 80 % or all of them instead found
# the same on the tuning sounds; what a rejection costs comes from the refit itself.)
REJECTED_MARGIN_LOGIT = 0.1
KEEP_POSITIVE_SHARE = 0.5
# SNRs (dB) at which each kept example is mixed into the rejected events' audio, as
# positives (see retrain_sound); chosen with benchmarks/bench_corrections.py --tune.
REJECTED_PLACE_SNRS_DB: tuple[float, ...] = (6.0, 12.0)
# A corrected event's clip whose own stretch of the room fires the retrained sound is
# refitted with that stretch as a hard negative (see retrain_sound). Off: on
# benchmarks/bench_corrections.py's tuning sounds it cost a little (confirmed events: 56 %
# found on the corrected stream with 8 false events, against 60 % with 4; on the reported
# ones, 48 % with 12 against 52 % with 3), although without it a clip of a sound 10 dB
# above a steady fan teaches the fan, and the sound then fires on the fan alone
# (tests/test_learn_method.py; CORRECTED_LOUD_IN_ROOM below takes most of that).
ROOM_GUARD = False
# A corrected event's clip stands for the sound only in its windows in the upper half of
# its range of levels, from its room (the pre- and post-roll) to its loudest
# (learn.loud_windows with in_room): within 10 dB of the loudest alone took the windows
# of the room's noise too when the sound stood less than about 10 dB over it, which then
# fired the sound on that noise alone (helper-51: one drawer confirmed over pink noise
# scored 0.85 on the noise alone, 0.22 with this; tests/test_learn_method.py: a chime
# confirmed 6 dB over a fan, 2 events on the fan alone, none with this). On
# benchmarks/bench_corrections.py's tuning sounds (corrections_in_room_tune.json), on the
# stream the corrections never heard: confirming, 52 % found with 11 false events before,
# 46 % with 9 with this; confirming and rejecting, 48 % / 8 and 46 % / 6. Requiring the
# windows to stand 3 or 6 dB over the clip's quietest instead (CORRECTED_ABOVE_ROOM_DB)
# found 48 % / 11 and 46 % / 12 confirming: no better.
CORRECTED_LOUD_IN_ROOM = True
CORRECTED_ABOVE_ROOM_DB: float | None = None
# A corrected example whose sound stands less than this far (dB) over its own room (the
# loudest window-long stretch against its quietest) teaches that room's noise as
# part of the sound: a key drop confirmed 9 dB over a running tap made the retrained
# sound fire on every other sound over the tap (helper-46). Such retrains say so.
NOISY_EXAMPLE_DB = 12.0


def kept_path(label: str) -> Path:
    """Where the windows a sound was learnt from are kept (user data folder):
    ``sound_examples/<label, other characters as _>-<10 hex digits of its SHA-256>.npz``,
    so labels that read alike (``x y``, ``x_y``, ``X_Y``) never share a file."""
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:10]
    return _legacy_kept_path(label).with_name(f"{file_name_safe(label)}-{digest}.npz")


def _legacy_kept_path(label: str) -> Path:
    """Where soundwatch before the hashed names kept them: ``<label, as _>.npz``, shared
    by labels that differ only in other characters; read only when it holds ``label``."""
    from soundwatch.config import user_data_dir

    return user_data_dir() / FOLDER_NAME / f"{file_name_safe(label)}.npz"


def _kept_label(path: Path) -> str | None:
    """The label whose windows ``path`` keeps (None: no such file, or unreadable)."""
    try:
        with np.load(path) as data:
            return str(data["label"])
    except (*DAMAGED, pickle.UnpicklingError):
        return None


def kept_files(label: str) -> list[Path]:
    """The files that keep ``label``'s windows: its own, and an older soundwatch's shared
    name when that file holds ``label`` (not another sound's)."""
    return [path for path in (kept_path(label), _legacy_kept_path(label))
            if path.is_file() and _kept_label(path) == label]


class Kept(NamedTuple):
    """What a learnt sound was learnt from (see :func:`save_kept`)."""

    positives: np.ndarray  # (k, dim) float32 windows of the sound
    own_negatives: np.ndarray  # (m, dim) float32 windows of the place (and added noise)
    example_audio: list[np.ndarray]  # each example's audio, (n_i,) float32; [] if none kept
    place_windows: int = 0  # own_negatives' first rows that are the place's recording


def save_kept(label: str, kept: dict, model_version: str) -> Path:
    """Keep a learnt sound's windows (float16: 2 kB per 1024-d window) and, when ``kept``
    has ``example_audio``, its examples' audio (float16, concatenated, with their
    lengths) in :func:`kept_path`; an older soundwatch's file of the same sound is
    removed.

    Raises:
        SoundwatchError: the file cannot be written.
    """
    path = kept_path(label)
    audio = list(kept.get("example_audio") or [])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez_compressed(
                handle, label=label, model_version=model_version,
                positives=kept["positives"].astype(np.float16),
                own_negatives=kept["own_negatives"].astype(np.float16),
                example_audio=np.concatenate([np.zeros(0, np.float16)] + [
                    np.asarray(a, np.float16) for a in audio]),
                example_lengths=np.array([len(a) for a in audio], np.int64),
                place_windows=np.int64(kept.get("place_windows", 0)))
    except OSError as exc:
        raise SoundwatchError(f"cannot keep the examples of {label!r} in {path}: {exc}. "
                              "Check the folder's permissions and free space.") from exc
    for old in kept_files(label)[1:]:  # stale: the new file is read first anyway
        with contextlib.suppress(OSError):
            old.unlink()
    return path


def kept_bytes(label: str) -> bytes | None:
    """The file that keeps ``label``'s windows and example audio, as bytes (for an
    export); None when none is kept or it cannot be read."""
    paths = kept_files(label)
    try:
        return paths[0].read_bytes() if paths else None
    except OSError:
        return None


def exported_kept(label: str, text: object) -> bytes:
    """An export's kept file of ``label`` (base64 text, see :func:`kept_bytes`), decoded
    and read through once, so that a damaged one is found before anything is changed.

    Raises:
        SoundwatchError: it is not base64, not a kept file, damaged, or another sound's.
    """
    damaged = (f"the examples exported with {label!r} are damaged, so nothing was "
               "imported: export the sound again, or delete its entry under \"kept\" in "
               "the file to import it without them")
    if not isinstance(text, str):
        raise SoundwatchError(f"{damaged} (not text)")
    try:
        data = base64.b64decode(text, validate=True)
        with np.load(io.BytesIO(data)) as loaded:
            holds = str(loaded["label"])
            for name in loaded.files:
                np.asarray(loaded[name])
    except (*DAMAGED, binascii.Error) as exc:
        raise SoundwatchError(f"{damaged} ({type(exc).__name__}: {exc})") from exc
    if holds != label:
        raise SoundwatchError(f"the examples exported with {label!r} are those of {holds!r}, "
                              "so nothing was imported: export the sound again")
    return data


def restore_kept(label: str, data: bytes) -> Path:
    """Write a kept file of ``label`` checked by :func:`exported_kept` to
    :func:`kept_path`.

    Raises:
        SoundwatchError: it cannot be written.
    """
    path = kept_path(label)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise SoundwatchError(f"cannot keep the examples of {label!r} in {path}: {exc}. "
                              "Check the folder's permissions and free space.") from exc
    return path


def remove_kept(label: str) -> list[Path]:
    """Delete the files that keep ``label``'s windows (:func:`kept_files`); the paths
    deleted.

    Raises:
        SoundwatchError: a file cannot be deleted (names it).
    """
    removed = []
    for path in kept_files(label):
        try:
            path.unlink()
        except OSError as exc:
            raise SoundwatchError(f"cannot delete the kept examples of {label!r}, {path}: "
                                  f"{exc}. Check the folder's permissions, or delete the "
                                  "file yourself") from exc
        removed.append(path)
    return removed


def load_kept(label: str, model_version: str, dim: int) -> Kept | None:
    """What ``label`` was learnt from on this model, or None (none kept, another
    model's, or unreadable). A file of an older soundwatch keeps no example audio."""
    paths = kept_files(label)
    if not paths:
        if kept_path(label).is_file():  # there, but not readable as this sound's
            log.warning("the examples %r was learnt from, in %s, cannot be read: it is "
                        "retrained from its corrections only; learn it again to mend it",
                        label, kept_path(label))
        return None
    try:
        with np.load(paths[0]) as data:
            if str(data["label"]) != label or str(data["model_version"]) != model_version:
                return None
            positives = np.asarray(data["positives"], np.float32)
            negatives = np.asarray(data["own_negatives"], np.float32)
            audio = (np.asarray(data["example_audio"], np.float32)
                     if "example_audio" in data.files else np.zeros(0, np.float32))
            lengths = (np.asarray(data["example_lengths"], np.int64)
                       if "example_lengths" in data.files else np.zeros(0, np.int64))
            place_windows = (int(data["place_windows"]) if "place_windows" in data.files
                             else 0)
    except DAMAGED as exc:
        log.warning("the examples %r was learnt from, in %s, cannot be read (%s: %s): it is "
                    "retrained from its corrections only; learn it again to mend it", label,
                    paths[0], type(exc).__name__, exc)
        return None
    if positives.ndim != 2 or positives.shape[1] != dim:
        return None
    examples = (np.split(audio, np.cumsum(lengths)[:-1])
                if len(lengths) and lengths.sum() == len(audio) and (lengths > 0).all() else [])
    return Kept(positives, negatives.reshape(-1, dim), examples,
                min(place_windows, len(negatives.reshape(-1, dim))))


def other_sounds_windows(labels, classifier) -> dict[str, np.ndarray]:
    """{label: (k, dim) float32 windows it was learnt from} for each of ``labels`` (the
    user's other sounds) with kept windows on this model's embedding."""
    dim = embedding_dim(classifier)
    found = {label: load_kept(label, classifier.embedding_version, dim) for label in labels}
    return {label: kept.positives for label, kept in found.items() if kept is not None}


def retrain_sound(label: str, classifier, store, current: UserSound | None,
                  others: Sequence[str] = ()) -> UserSound:
    """Fit ``label``'s head again with its corrections.

    Args:
        label: the sound's name.
        classifier: the :class:`~soundwatch.model.Classifier` (with an embedding).
        store: the event database holding the corrections (None: none yet).
        current: the sound as it is now (None: a new sound).
        others: the user's other sounds: the windows they were learnt from are negatives.

    Returns:
        The retrained :class:`UserSound`; ``info["retrained"]`` says from what.

    Raises:
        SoundwatchError: too few examples (corrections whose kept example file is
            gone are left out, and counted in ``info["retrained"]["gone_examples"]``),
            or a model without an embedding.
    """
    started = time.perf_counter()
    if not classifier.has_embedding:
        raise SoundwatchError(f"the model {classifier.path} exports no embedding, so it "
                              "cannot learn sounds: use the shipped model")
    dim = embedding_dim(classifier)
    version = classifier.embedding_version
    positive_rows, negative_rows, databases = correction_rows(label, store, current)
    missing = [row["example_path"] for row in positive_rows + negative_rows
               if not Path(row["example_path"]).is_file()]
    if missing:  # deleted by hand: retrained from the rest (refusing had no way out)
        log.warning("%d kept example(s) of %r are gone, e.g. %s: retrained without them",
                    len(missing), label, missing[0])
        positive_rows = [row for row in positive_rows if row["example_path"] not in missing]
        negative_rows = [row for row in negative_rows if row["example_path"] not in missing]
    positive_rows = distinct_moments(positive_rows)
    kept = load_kept(label, version, dim)
    original = len((current.info if current else {}).get("examples", [])) if kept else 0
    if original + len(positive_rows) < MIN_EXAMPLES:
        raise SoundwatchError(
            f"{label!r} has {original + len(positive_rows)} example(s) "
            f"({original} from learning, {len(positive_rows)} from corrections); learning "
            f"needs {MIN_EXAMPLES}: confirm or relabel more events as {label!r}, or learn it "
            f"with `{command_name()} learn`")
    corrected_audio = [load_audio(row["example_path"], classifier.sample_rate_hz)[0]
                       for row in positive_rows]
    rejected_audio = [load_audio(row["example_path"], classifier.sample_rate_hz)[0]
                      for row in negative_rows]
    rejected = [embed_signal(audio, classifier)[0] for audio in rejected_audio]
    # The sound heard within the rejected events' audio (mostly the room's own noise) is
    # still the sound: without these copies, teaching that this noise is not the sound
    # also taught that the sound in this noise is not.
    placed = [signal_windows(example, classifier, snrs_db=(), place=rejected_audio,
                             place_snrs_db=REJECTED_PLACE_SNRS_DB).placed
              for example in (kept.example_audio if kept and rejected_audio else [])]
    generic = generic_negatives(version, dim)
    own = kept.own_negatives if kept is not None else np.zeros((0, dim), np.float32)
    if generic is None and not len(own) and not rejected and not positive_rows:
        raise SoundwatchError(f"no negatives for {label!r} on model version {version}: "
                              "reject some of its false alarms, or learn it with "
                              f"`{command_name()} learn --negatives`")
    # The threshold rate it was learnt with (stricter when its windows include copies in
    # the place's audio, see soundwatch.sounds.learn.PLACE_NEGATIVE_RATE).
    rate = (current.info if current and kept else {}).get("negative_rate",
                                                           NEGATIVE_RATE_AT_THRESHOLD)
    # ... and at most this share of the place's own recording (None: learnt without one,
    # or by an older soundwatch)
    place_rate = (current.info if current and kept else {}).get("place_rate")
    # the place's false alarms and the user's other sounds: what it must not be
    other_windows = other_sounds_windows([o for o in others if o != label], classifier)

    def fit(in_room: bool):
        """The head, its positives and negatives, and the corrected clips' stretches of
        the room alone; ``in_room``: those clips' sound windows must stand above their
        room, which is then a hard negative (learn.loud_windows)."""
        positives = [kept.positives] if kept else []
        negatives = [] if generic is None else [generic.embedding]
        rooms = []
        for row, audio in zip(positive_rows, corrected_audio, strict=True):
            windows = signal_windows(audio, classifier, name=row["example_path"],
                                     in_room=in_room or CORRECTED_LOUD_IN_ROOM,
                                     above_room_db=CORRECTED_ABOVE_ROOM_DB)
            positives.append(np.concatenate([windows.clean, windows.noisy]))
            negatives.append(windows.noise)  # the noise of its noisy copies
            rooms.append(windows.room)
        own_start = sum(len(n) for n in negatives)
        negatives.append(own)
        calibratable = np.ones(own_start + len(own), bool)
        if generic is not None:
            calibratable[:len(generic.embedding)] = generic.calibrate
        in_place = np.zeros(len(calibratable), bool)
        in_place[own_start:own_start + (kept.place_windows if kept else 0)] = True
        positives = np.concatenate(positives + placed)
        negatives = np.concatenate(negatives)
        hard_parts = rejected + (rooms if in_room else []) + list(other_windows.values())
        hard = np.concatenate(hard_parts) if hard_parts else None
        if len(negatives):
            head = fit_head(positives, negatives, negative_rate=rate, hard_negatives=hard,
                            calibratable=calibratable, place=in_place,
                            place_rate=place_rate)
        else:  # a model without generic negatives: these are all there is
            head = fit_head(positives, hard, negative_rate=rate)
        return (raise_above_rejected(head, positives, rejected), positives, negatives,
                np.concatenate([np.zeros((0, dim), np.float32), *rooms]))

    head, positives, negatives, rooms = fit(in_room=False)
    # A confirmed clip of the sound well above a steady noise (a fan, an exercise bike):
    # its windows within LOUD_RANGE_DB of the loudest include the noise alone, which was
    # then learnt as the sound and fired everywhere in that room. Its own stretch of the
    # room firing the sound says so: fit again with that stretch as what it is not.
    room_guard = bool(ROOM_GUARD and len(rooms)
                      and (head.logits(rooms) >= head.threshold_logit).any())
    if room_guard:
        head, positives, negatives, rooms = fit(in_room=True)
    still_firing = sum(bool(head.logits(windows).max() >= head.threshold_logit)
                       for windows in rejected if len(windows))
    # Its own examples (learnt and confirmed), before and after: teaching what it is not
    # can cost some of what it is, and the user must hear of that.
    own = [embed_signal(audio, classifier)[0] for audio in
           list(kept.example_audio if kept else []) + corrected_audio if len(audio)]
    own_before = (firing_examples(current.head, own)
                  if current is not None and current.model_version == version else None)
    noisy = sum(over_room_db(audio, classifier.sample_rate_hz, classifier.window_samples)
                < NOISY_EXAMPLE_DB for audio in corrected_audio)
    info = dict(current.info) if current else {"examples": []}
    info["retrained"] = {
        "noisy_corrected_examples": noisy,
        "learnt_examples": original, "corrected_positives": len(positive_rows),
        "rejected_examples": len(negative_rows), "rejected_still_firing": still_firing,
        "own_examples": len(own), "own_firing": firing_examples(head, own),
        "own_firing_before": own_before,
        "gone_examples": len(missing),
        "other_sounds": len(other_windows),
        # where its corrections are: `sounds retrain` reads them there again by default
        "database": str(Path(store.path).resolve()) if store is not None else None,
        # every database whose corrections it learnt from: the next retrain reads them
        # all, whichever one it is run from
        "databases": databases,
        "positive_windows": len(positives),
        "negative_windows": len(negatives),
        "room_guard": room_guard,
        "retrain_s": round(time.perf_counter() - started, 2),
        "retrained_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return UserSound(label=label, head=head, model_version=version, embedding_dim=dim,
                     info=info, min_duration_s=(current.min_duration_s if current
                                                else LEARNT_MIN_DURATION_S))


def correction_rows(label: str, store, current: UserSound | None
                    ) -> tuple[list[dict], list[dict], list[str]]:
    """(positives, negatives, databases): the corrections of ``label`` with kept audio
    (see :func:`~soundwatch.corrections.record.example_rows`) in ``store`` (None: none)
    and in every other database the sound was retrained from before (``current``'s
    ``info["retrained"]["databases"]``), and the resolved paths of the databases they
    came from, ``store``'s first. The sounds are the user's, but corrections live in
    each place's database: a correction made in one is not dropped by a retrain run
    from another. A remembered database that is gone is left out with a warning; one
    that cannot be read now is remembered for the next retrain."""
    from soundwatch.corrections.record import example_rows
    from soundwatch.store import EventStore

    here = str(Path(store.path).resolve()) if store is not None else None
    positives, negatives = example_rows(store, label) if store is not None else ([], [])
    databases = [here] if here and (positives or negatives) else []
    retrained = ((current.info if current else {}).get("retrained") or {})
    earlier = retrained.get("databases") or [retrained.get("database")]
    for path in dict.fromkeys(p for p in earlier if p and p != here):
        if not Path(path).is_file():
            log.warning("%r was retrained with corrections in %s, which is gone: retrained "
                        "without them", label, path)
            continue
        try:
            with EventStore(path, read_only=True) as other:
                more_positives, more_negatives = example_rows(other, label)
        except SoundwatchError as exc:
            log.warning("the corrections of %r in %s cannot be read now (%s): retrained "
                        "without them, and read again next time", label, path, exc)
            databases.append(path)
            continue
        if more_positives or more_negatives:
            positives, negatives = positives + more_positives, negatives + more_negatives
            databases.append(path)
    def made(row: dict) -> str:  # when the correction was made: oldest first, as in one
        return row["created_at"]

    removed = removed_at(label)  # a sound of that name removed since: not this one's
    if removed is not None:
        positives = [row for row in positives if made(row) > removed]
        negatives = [row for row in negatives if made(row) > removed]
    return sorted(positives, key=made), sorted(negatives, key=made), databases


def raise_above_rejected(head: Head, positives: np.ndarray,
                         rejected: list[np.ndarray]) -> Head:
    """``head`` with its threshold raised just above the rejected events' highest window
    (REJECTED_MARGIN_LOGIT), as a model label's learnt threshold is, but never so far
    that fewer than KEEP_POSITIVE_SHARE of the positive windows the fitted threshold
    passes still pass: then as far as that allows (some rejected events may still fire).

    Args:
        head: the fitted head.
        positives: (n_pos, dim) the windows it was fitted to recognise.
        rejected: each rejected event's (k_i, dim) windows.
    """
    peaks = [float(head.logits(w).max()) for w in rejected if len(w)]
    wanted = max(peaks, default=-np.inf) + REJECTED_MARGIN_LOGIT
    if wanted <= head.threshold_logit:
        return head
    passing = np.sort(head.logits(positives))
    passing = passing[passing >= head.threshold_logit]
    if not len(passing):
        return head
    # the highest threshold that still passes KEEP_POSITIVE_SHARE of them
    ceiling = float(passing[int(np.floor(len(passing) * (1 - KEEP_POSITIVE_SHARE)))])
    return dataclasses.replace(head, threshold_logit=max(head.threshold_logit,
                                                         min(wanted, ceiling)))


UNUSUAL_NOT_RETRAINED = (
    f"{UNUSUAL_LABEL!r} is not a learnt sound, nothing to retrain: the unusual-sound profile "
    "learns what is normal here by itself as it listens (a sound heard often enough stops "
    "being unusual). To make it fire less, raise `[unusual] distance_ratio` in the config "
    f"file (fewer, stranger sounds); to learn the place afresh: `{command_name()} unusual reset`")


def distinct_moments(rows: list[dict]) -> list[dict]:
    """Correction rows (oldest first) with one per moment: two events over the same
    audio (a clock alarm and a telephone ring at once, both said to be this sound) are
    one example, not two (the newer row is kept)."""
    from soundwatch.corrections.record import same_moment, stored_utc

    kept: list[dict] = []
    for row in rows:
        moment = (stored_utc(row["start_time"]), stored_utc(row["end_time"]))
        kept = [k for k in kept if not same_moment(*moment, stored_utc(k["start_time"]),
                                                   stored_utc(k["end_time"]))]
        kept.append(row)
    return kept


def retrain_and_save(label: str, classifier, store) -> tuple[UserSound | None, str]:
    """Retrain ``label`` (one of the user's sounds, or a new one) and save it in the
    sounds file. Returns (the sound, or None when it could not be learnt yet, and a line
    saying what happened): too few examples is not an error here, they are kept."""
    from soundwatch.sounds.library import read_sounds, update_sounds

    if label == UNUSUAL_LABEL:
        return None, UNUSUAL_NOT_RETRAINED
    try:
        sounds = read_sounds()
        current = next((s for s in sounds if s.label == label), None)
        sound = retrain_sound(label, classifier, store, current,
                              others=[s.label for s in sounds])
        update_sounds(lambda now: [s for s in now if s.label != label] + [sound])
    except SoundwatchError as exc:
        return None, f"{label!r} not retrained: {exc}"
    return sound, f"{label!r} retrained {retrain_summary(label, sound.info['retrained'])}"


def retrain_after_undo(label: str, classifier, store) -> tuple[UserSound | None, str]:
    """Retrain ``label`` after a correction of it was taken back, as
    :func:`retrain_and_save` does (the sound, or None, and a line saying what happened).
    A sound learnt from corrections alone that now has fewer than MIN_EXAMPLES is no
    longer one of the user's sounds (it would go on firing as learnt from the example
    taken back); its corrections stay, and enough new ones learn it again."""
    from soundwatch.sounds.library import read_sounds, update_sounds

    sound, line = retrain_and_save(label, classifier, store)
    if sound is not None:
        return sound, line
    current = next((s for s in read_sounds() if s.label == label), None)
    if current is None or current.info.get("examples"):
        return None, line  # learnt from recordings: it keeps what it was learnt from
    update_sounds(lambda now: [s for s in now if s.label != label])
    remove_kept(label)
    return None, (f"{label!r} was learnt from corrections alone and now has fewer than "
                  f"the {MIN_EXAMPLES} examples that takes, so it is no longer one of your "
                  f"sounds (its corrections are kept: with {MIN_EXAMPLES} again it is "
                  "learnt again)")


def over_room_db(audio: np.ndarray, sample_rate_hz: int, window_samples: int) -> float:
    """How far (dB) a corrected clip's sound stands over its room, as the model's windows
    hear it: the mean power of its loudest window-long stretch over that of its quietest
    (the room: a clip's pre-roll is about a window long). A short sound fills a small
    part of a window, so the room's noise weighs more in what the window holds than the
    sound's peak suggests. 0 for silence."""
    from soundwatch.sounds.trim import FRAME_S, frame_power

    power = frame_power(audio, sample_rate_hz)
    if len(power) == 0 or power.max() <= 0.0:
        return 0.0
    width = max(1, min(len(power), int(round(window_samples / (FRAME_S * sample_rate_hz)))))
    windows = np.convolve(power, np.full(width, 1.0 / width), mode="valid")
    return float(10.0 * np.log10(max(float(windows.max()), 1e-20)
                                 / max(float(windows.min()), 1e-20)))


def firing_examples(head, examples: list[np.ndarray]) -> int:
    """How many of ``examples`` (each a (n_windows, dim) embedding array) have a window
    at or above ``head``'s threshold: would be heard."""
    return sum(bool(len(windows) and head.logits(windows).max() >= head.threshold_logit)
               for windows in examples)


def retrain_summary(label: str, info: dict) -> str:
    """What a retrain learnt from (``info``: a sound's ``info["retrained"]``), with what
    to do when rejected events would still fire."""
    text = (f"from {info['learnt_examples']} learnt and {info['corrected_positives']} "
            f"corrected example(s) against {info['rejected_examples']} rejected one(s) "
            f"({info['rejected_still_firing']} of those would still fire)"
            + (f" and {info['other_sounds']} other sound(s) of yours"
               if info.get("other_sounds") else ""))
    if len(info.get("databases") or ()) > 1:
        text += f", from the corrections in {len(info['databases'])} event databases"
    if info.get("own_examples"):
        before = info.get("own_firing_before")
        text += (f"; it hears {info['own_firing']} of its {info['own_examples']} own "
                 "example(s)" + (f" ({before} before)" if before is not None
                                 and before != info["own_firing"] else ""))
        if before is not None and info["own_firing"] < before:
            text += (": teaching it what it is not cost some of what it is. If it now "
                     f"misses real ones, take the correction back ({undo_hint()}) or give it "
                     "more examples")
    if info.get("noisy_corrected_examples"):
        text += (f"; {info['noisy_corrected_examples']} corrected example(s) hold the sound "
                 f"less than {NOISY_EXAMPLE_DB:g} dB over the room's noise, so it may now "
                 "also fire on other sounds in that noise: if it does, reject those events "
                 f"(each retrains it), or take this correction back ({undo_hint()})")
    if info.get("gone_examples"):
        text += (f"; {info['gone_examples']} corrected example(s) whose kept file is gone "
                 "were left out")
    if info["rejected_still_firing"]:
        text += (f"; those score like its own examples. Give it examples that tell them "
                 f"apart (`{command_name()} learn {label!r} FILE... --replace`, or confirm more "
                 f"of its real events), or raise its threshold: "
                 f"[detection.classes.\"{label}\"] threshold_on in the config file")
    return text


def undo_hint() -> str:
    """How a correction is taken back, in the window and on the command line (retrain
    messages are shown in both)."""
    return (f"in the window, right-click its event and Undo; or `{command_name()} events "
            f"undo EVENT`, or `{command_name()} events undo --correction N` for a missed "
            "mark")
