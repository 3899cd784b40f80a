"""Score the user's sounds beside the model's labels.

:class:`WithUserSounds` stands in for a :class:`~soundwatch.model.Classifier`: its labels
are the model's followed by the user's sounds, and :meth:`WithUserSounds.score` appends
each sound's score (from the window's embedding) to the model's scores. The monitor, the
offline path, the detector, watch list, thresholds, database and alerts then treat the
user's sounds as labels like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from soundwatch.command import command_name
from soundwatch.detect import ClassSettings
from soundwatch.errors import SoundwatchError
from soundwatch.sounds.library import UserSound, label_named, read_sounds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UnloadedSounds:
    """The user's sounds that could not be scored, for settings that name them.

    Attributes:
        labels: their names, where known.
        any_name: True when some names are not known (an unreadable sounds file): any
            name the labels lack may be one of them.
        why: the reason, in words (the warning said it in full).
    """

    labels: frozenset[str]
    any_name: bool
    why: str
    removed: frozenset[str] = frozenset()  # label_key()s of sounds removed since
    detail: str = ""  # the whole reason, with its fix (the warning's words)

    def holds(self, name: str) -> bool:
        return self.any_name or name in self.labels or self.was_removed(name)

    def was_removed(self, name: str) -> bool:
        from soundwatch.sounds.library import label_key

        return label_key(name) in self.removed


def usable_sounds(classifier, sounds: list[UserSound]) -> list[UserSound]:
    """The sounds that fit ``classifier`` (same model version and embedding size, and a
    label the model does not have); the others are skipped with a warning."""
    if not sounds:
        return []
    if not classifier.has_embedding:
        log.warning("the model %s exports no embedding: your %d sound(s) are not scored",
                    classifier.path, len(sounds))
        return []
    dim = embedding_dim(classifier)
    version = classifier.embedding_version
    kept = []
    for sound in sounds:
        if sound.label in classifier.labels:
            log.warning("your sound %r is not scored: the model has a label of that name",
                        sound.label)
        elif sound.embedding_dim != dim or sound.model_version != version:
            log.warning("your sound %r was learnt on model version %s; this model is "
                        f"version %s: learn it again with `{command_name()} learn`", sound.label,
                        sound.model_version, version)
        else:
            kept.append(sound)
    return kept


def embedding_dim(classifier) -> int:
    """The size of ``classifier``'s embedding (one call on a silent window)."""
    window = np.full((1, classifier.window_frames, classifier.spec.n_features),
                     classifier.spec.silence_value, np.float32)
    return int(classifier.score(window)[1].shape[1])


class WithUserSounds:
    """A classifier whose labels include the user's sounds.

    Args:
        classifier: the :class:`~soundwatch.model.Classifier` (must export an embedding).
        sounds: sounds that fit it (see :func:`usable_sounds`).

    Every other attribute is the classifier's.
    """

    def __init__(self, classifier, sounds: list[UserSound],
                 unloaded: UnloadedSounds | None = None):
        self.classifier = classifier
        self.sounds = list(sounds)
        self.labels = tuple(classifier.labels) + tuple(s.label for s in self.sounds)
        self.user_labels = tuple(s.label for s in self.sounds)
        self.unloaded_sounds = unloaded  # those left out (see without_unloaded_sounds)

    def __getattr__(self, name):
        return getattr(self.classifier, name)

    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Like :meth:`Classifier.score`; scores are (batch, n_model_labels + n_sounds)."""
        scores, embedding = self.classifier.score(windows)
        if not self.sounds:
            return scores, embedding
        if embedding is None:  # an empty batch
            return np.zeros((len(scores), len(self.labels)), np.float32), embedding
        extra = np.stack([s.head.scores(embedding) for s in self.sounds], axis=1)
        return np.concatenate([scores, extra], axis=1).astype(np.float32), embedding


# A learnt sound scores only in windows at least this far above the background (dB; the
# SNR gate, soundwatch.audio.snr_gate). Measured with benchmarks/bench_learn_sound.py's
# tuning sounds and streams (5 examples, the place's recording; benchmarks/
# snr_gate_choice.py): a minimum of 0, 1 or 2 dB took 4 of the 18 false events (those on
# steady noise, as loud as the background) and none of the 51 sounds found; from 3 dB on,
# sounds found were lost. The middle of the flat stretch leaves room both ways. Gating
# only an event's start (not every window) took 1 of the 18: every window it is.
USER_SOUND_MIN_SNR_DB = 1.0


def sound_min_snrs(classifier) -> dict[str, float]:
    """{label: min_snr_db} of ``classifier``'s user sounds (each has one)."""
    return {sound.label: USER_SOUND_MIN_SNR_DB for sound in getattr(classifier, "sounds", ())}


def sound_min_durations(classifier) -> dict[str, float]:
    """{label: min_duration_s} of ``classifier``'s user sounds that have their own."""
    return {sound.label: sound.min_duration_s for sound in getattr(classifier, "sounds", ())
            if sound.min_duration_s is not None}


def with_sound_settings(settings, classifier):
    """``settings`` (a :class:`~soundwatch.detect.DetectorSettings`) with each of
    ``classifier``'s user sounds' own ``min_duration_s`` and ``min_snr_db`` as class
    overrides (see :func:`with_sound_values`). ``settings`` itself when ``classifier``
    scores no user sounds."""
    return with_sound_values(settings, sound_min_durations(classifier),
                             sound_min_snrs(classifier))


def with_sound_values(settings, min_durations: dict[str, float],
                      min_snrs: dict[str, float] | None = None):
    """``settings`` with the user's sounds' ``{label: min_duration_s}`` and
    ``{label: min_snr_db}`` filled in where the class has none of its own in the config;
    a detector-wide ``min_snr_db`` the user set applies to their sounds too, so it is
    not overridden."""
    classes = dict(settings.classes)
    fills = [("min_duration_s", min_durations)]
    if settings.min_snr_db is None:
        fills.append(("min_snr_db", min_snrs or {}))
    for name, values in fills:
        for label, value in values.items():
            current = classes.get(label, ClassSettings())
            if getattr(current, name) is None:
                classes[label] = replace(current, **{name: value})
    return settings if classes == settings.classes else replace(settings, classes=classes)


def with_user_sounds(classifier, path: str | Path | None = None):
    """``classifier`` with the user's sounds from ``path`` (default: the user data
    folder's) appended, or ``classifier`` itself when none fit. An unreadable sounds
    file is reported as a warning (with its fix) and listening goes on without it; a
    malformed sound in it, likewise, without that one.
    """
    from soundwatch.sounds.library import removed_times

    skipped: list[str | None] = []
    removed = frozenset(removed_times())  # settings may still name a sound removed since
    try:
        read = read_sounds(path, skip_malformed=True, skipped=skipped)
    except SoundwatchError as exc:
        log.warning("your sounds are not scored: %s", exc)
        return WithUserSounds(classifier, [], UnloadedSounds(
            frozenset(), True, "your sounds file could not be read", removed, str(exc)))
    sounds = usable_sounds(classifier, read)
    left_out = [s.label for s in read if s not in sounds] + skipped
    unloaded = (UnloadedSounds(frozenset(n for n in left_out if n is not None),
                               None in left_out, "your sound could not be loaded", removed)
                if left_out or removed else None)
    return WithUserSounds(classifier, sounds, unloaded) if sounds or unloaded else classifier


def without_unloaded_sounds(settings, classifier):
    """``settings`` (a :class:`~soundwatch.detect.DetectorSettings`) without the names
    of ``classifier``'s user sounds that could not be loaded (:func:`with_user_sounds`
    warned why), in the watch and ignore lists and per-class settings: listening goes
    on without them, with a warning naming them, as it goes on without the sounds.

    Raises:
        SoundwatchError: the watch list named only such sounds (nothing would be heard).
    """
    unloaded = getattr(classifier, "unloaded_sounds", None)
    if unloaded is None:
        return settings
    known = set(classifier.labels)

    def missing(name: str) -> bool:
        return name not in known and unloaded.holds(name)

    named = sorted({n for n in (*settings.watch, *settings.ignore, *settings.classes)
                    if missing(n)})
    if not named:
        return settings
    names = ", ".join(map(repr, named))
    removed = [n for n in named if unloaded.was_removed(n)]
    why = (f"removed with `{command_name()} sounds remove`" if len(removed) == len(named)
           else f"{unloaded.why} (see the warning above)")
    watch = tuple(n for n in settings.watch if not missing(n))
    if settings.watch and not watch:
        raise SoundwatchError(
            f"the watch list names only {names}, not loaded: {why}. Nothing would be "
            "heard: learn or restore your sounds, or watch other labels (--watch, "
            "[detection] watch)")
    log.warning("the settings name %s, which %s: %s. Listening goes on without %s; take "
                "%s out of the settings file", names,
                "is not loaded" if len(named) == 1 else "are not loaded", why,
                "it" if len(named) == 1 else "them", "it" if len(named) == 1 else "them")
    return replace(settings, watch=watch,
                   ignore=tuple(n for n in settings.ignore if not missing(n)),
                   classes={k: v for k, v in settings.classes.items() if not missing(k)})


def with_label_names(settings, labels):
    """``settings`` (a :class:`~soundwatch.detect.DetectorSettings`) with each name in its
    watch and ignore lists and per-class settings that is not one of ``labels`` but reads
    as exactly one of them (:func:`~soundwatch.sounds.library.label_named`: "front door"
    for your sound "Front Door", "Dog" for ``dog``) spelt as that label. A name that reads
    as no label, or as several, is left for the detector's error. Per-class settings
    under both spellings keep the exact one's, with a warning."""
    def spelt(name: str) -> str:
        return label_named(name, labels)

    renamed = sorted({(n, spelt(n)) for n in (*settings.watch, *settings.ignore,
                                              *settings.classes) if spelt(n) != n})
    if not renamed:
        return settings
    log.info("read as the labels they name: %s",
             ", ".join(f"{name!r} as {label!r}" for name, label in renamed))
    classes = {}
    for name, values in settings.classes.items():
        label = spelt(name)
        if label in classes or (label != name and label in settings.classes):
            log.warning("[detection.classes.\"%s\"] and [detection.classes.\"%s\"] name "
                        "the same label: the settings under %r are used", name, label,
                        label)
            if label != name:
                continue
        classes[label] = values

    def unique(names) -> tuple[str, ...]:
        return tuple(dict.fromkeys(spelt(n) for n in names))

    return replace(settings, watch=unique(settings.watch), ignore=unique(settings.ignore),
                   classes=classes)
