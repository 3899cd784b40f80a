"""The ``unusual`` label: scored beside the model's (and the user's) labels.

:class:`WithUnusual` stands in for a classifier: its labels are the wrapped classifier's
followed by ``unusual``. For each window it

1. measures the window's kNN distance ratio to the place's :class:`~.profile.Profile`
   (see there), and maps it to a score so that ``distance_ratio`` lands on the detector's
   default ``threshold_on``: ``score = sigmoid(SLOPE * ln(ratio / distance_ratio) +
   logit(threshold_on))``;
2. sets that score to 0 when another label *explains* the window: a label (not one of the
   model's background labels) whose raw score reaches its own ``threshold_on`` in the
   detection settings, watched or not: a dog that barks is a dog, not an unusual sound;
   and to 0 while the profile is warming up (fewer than ``warmup_windows`` windows);
3. then adds the window to the profile with probability ``hop_s / add_every_s`` (so the
   profile adapts: a sound that goes on long enough becomes normal), and saves the
   profile every ``save_every_s`` of listening and on :meth:`WithUnusual.close`.

The detector, watch list, thresholds, database and alerts then treat ``unusual`` like any
label. Adapting: a steady new sound (a new fridge) has ``neighbours`` windows in the
profile after about ``neighbours * add_every_s`` of it (75 s with the defaults), and from
then on is as near to the profile as normal sounds are: it stops being unusual within a
few minutes of being on; a short sound that recurs does so once it has sounded for about
that long in all.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from soundwatch.detect import DetectorSettings
from soundwatch.errors import SoundwatchError
from soundwatch.unusual.profile import Profile, stored_profile_id
from soundwatch.unusual.settings import UNUSUAL_LABEL, UnusualSettings

log = logging.getLogger(__name__)

# Score slope per unit of ln(ratio): from threshold_on (0.7) at distance_ratio down to the
# detector's threshold_off (0.5) at about 0.9 x distance_ratio.
SLOPE = 8.0


class WithUnusual:
    """A classifier whose last label is ``unusual``.

    Args:
        classifier: a classifier that exports an embedding (a
            :class:`~soundwatch.model.Classifier`, possibly with the user's sounds).
        profile: the place's profile (learnt further as windows are scored).
        settings: the ``[unusual]`` settings.
        detection: the detection settings (their per-label ``threshold_on`` decide what
            explains a window).
        hop_s: seconds between scored windows (the monitor's hop).
        path: where the profile is saved, as ``profile_path`` (None: kept in memory only,
            e.g. for a replayed recording, which is not this place's microphone). The
            classifier's own ``path`` (the model file) stays reachable.
        seed: of the random choice of windows added (tests pass one).

    Every other attribute is the wrapped classifier's.
    """

    def __init__(self, classifier, profile: Profile, settings: UnusualSettings,
                 detection: DetectorSettings, hop_s: float, path: str | Path | None = None,
                 seed: int | None = None):
        self.classifier = classifier
        self.profile = profile
        self.unusual_settings = settings
        self.profile_path = Path(path) if path is not None else None
        self.labels = tuple(classifier.labels) + (UNUSUAL_LABEL,)
        self.hop_s = float(hop_s)
        self._seed = seed
        self._add_probability = min(1.0, self.hop_s / settings.add_every_s)
        self._save_every_windows = max(1, round(settings.save_every_s / self.hop_s))
        self._windows_since_save = 0
        self._saved_id: str | None = None  # the profile id last written to ``path``
        self._rng = np.random.default_rng(seed)
        on = DetectorSettings.threshold_on
        self._logit_on = math.log(on / (1.0 - on))
        self.set_detection(detection)

    def __getattr__(self, name):
        return getattr(self.classifier, name)

    def fresh(self) -> WithUnusual:
        """A copy with an empty profile kept in memory only (for a replayed recording,
        which must not teach the place's profile)."""
        s = self.unusual_settings
        profile = Profile(self.profile.dim, self.profile.model_version, s.max_windows,
                          s.neighbours, self._seed)
        return WithUnusual(self.classifier, profile, s, self._detection, self.hop_s,
                           None, self._seed)

    def set_detection(self, detection: DetectorSettings) -> None:
        """Use these detection settings' thresholds for what explains a window."""
        self._detection = detection
        background = set(self.classifier.metadata.background_labels)
        labels = self.classifier.labels
        self._explain_on = np.array([detection.class_values(label)[0] for label in labels],
                                    np.float32)
        self._explains = np.array([label not in background for label in labels], bool)

    @property
    def warm(self) -> bool:
        """Whether the profile holds enough windows to call one unusual."""
        return self.profile.size >= self.unusual_settings.warmup_windows

    def unusual_scores(self, scores: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """(n, n_labels) scores of the wrapped labels and (n, dim) embedding -> (n,)
        float32 ``unusual`` scores in [0, 1] (0 when explained or still warming up)."""
        if not self.warm:
            return np.zeros(len(scores), np.float32)
        ratio = np.maximum(self.profile.ratio(embedding), 1e-6)
        z = SLOPE * np.log(ratio / self.unusual_settings.distance_ratio) + self._logit_on
        unusual = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        explained = ((scores >= self._explain_on) & self._explains).any(axis=1)
        return np.where(explained, 0.0, unusual).astype(np.float32)

    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Like :meth:`Classifier.score`; scores are (batch, n_labels + 1), the last
        column ``unusual``. Scored windows then join the profile (see the module)."""
        scores, embedding = self.classifier.score(windows)
        if embedding is None or len(scores) == 0:
            return np.zeros((len(scores), len(self.labels)), np.float32), embedding
        unusual = self.unusual_scores(scores, embedding)
        self._learn(embedding)
        return np.concatenate([scores, unusual[:, None]], axis=1).astype(np.float32), embedding

    def _learn(self, embedding: np.ndarray) -> None:
        chosen = self._rng.random(len(embedding)) < self._add_probability
        if chosen.any():
            self.profile.add(embedding[chosen])
        self._windows_since_save += len(embedding)
        if self.profile_path is not None and self._windows_since_save >= self._save_every_windows:
            self.save()

    def save(self) -> None:
        """Save the profile to ``path`` (nothing without one). A profile reset meanwhile
        (`soundwatch unusual reset` removed or replaced the file) is adopted: this one
        starts again from nothing. A failed write is logged; listening goes on."""
        self._windows_since_save = 0
        if self.profile_path is None:
            return
        if self._saved_id is not None and stored_profile_id(self.profile_path) != self._saved_id:
            log.warning("the unusual-sound profile %s was reset: learning a new one",
                        self.profile_path)
            self.profile.reset()
        try:
            self.profile.save(self.profile_path)
            self._saved_id = self.profile.profile_id
        except SoundwatchError as exc:
            log.warning("%s", exc)

    def close(self) -> None:
        """Save the profile (call when listening stops)."""
        self.save()


def open_profile(path: str | Path | None, settings: UnusualSettings, model_version: str,
                 dim: int, seed: int | None = None) -> Profile:
    """The profile at ``path``, or a new empty one when there is none (or ``path`` is None).

    A profile that cannot be read, or was learnt on another model, is moved aside
    (``<name>.unreadable-<UTC time>`` / ``<name>.other-model-<UTC time>``, kept for the
    user, never deleted) with a warning, and a new one is started: nothing else is lost.
    """
    new = Profile(dim, model_version, settings.max_windows, settings.neighbours, seed)
    if path is None or not Path(path).exists():
        return new
    path = Path(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    try:
        profile = Profile.load(path, settings.max_windows, settings.neighbours, seed)
    except SoundwatchError as exc:
        aside = path.with_name(f"{path.name}.unreadable-{stamp}")
        log.warning("%s Moved it to %s; learning a new profile.", exc, aside)
        _move_aside(path, aside)
        return new
    if profile.model_version != model_version or profile.dim != dim:
        aside = path.with_name(f"{path.name}.other-model-{stamp}")
        log.warning("the unusual-sound profile %s was learnt on model version %s (this is "
                    "%s): moved it to %s; learning a new one", path, profile.model_version,
                    model_version, aside)
        _move_aside(path, aside)
        return new
    return profile


def _move_aside(path: Path, aside: Path) -> None:
    try:
        path.replace(aside)
    except OSError as exc:
        log.warning("cannot move %s aside (%s); it is left as is", path, exc)


REPLAY_SEED = 0


def with_unusual(classifier, settings: UnusualSettings, detection: DetectorSettings,
                 hop_s: float, path: str | Path | None = None, seed: int | None = None):
    """``classifier`` with the ``unusual`` label appended, or ``classifier`` itself when
    unusual sounds are off, the model exports no embedding, or it already has a label
    named ``unusual`` (each logged).

    Args:
        path: the profile file (None: an in-memory profile, not saved).
    """
    if not settings.enabled:
        return classifier
    if not classifier.has_embedding:
        log.warning("the model %s exports no embedding: no unusual-sound events",
                    classifier.path)
        return classifier
    if UNUSUAL_LABEL in classifier.labels:
        log.warning("the model (or one of your sounds) has a label named %r: no "
                    "unusual-sound events", UNUSUAL_LABEL)
        return classifier
    from soundwatch.sounds.apply import embedding_dim

    profile = open_profile(path, settings, classifier.embedding_version,
                           embedding_dim(classifier), seed)
    return WithUnusual(classifier, profile, settings, detection, hop_s, path, seed)


def listening_classifier(classifier, settings, path: str | Path | None):
    """``classifier`` with ``unusual`` as :func:`with_unusual` makes it, from a run's
    settings (``settings.unusual``, ``settings.detection``; defaults where they lack one).

    Args:
        path: the place's profile file (a microphone), or None (a replayed recording:
            a profile learnt from the recording alone, not saved).
    """
    unusual = getattr(settings, "unusual", None) or UnusualSettings()
    detection = getattr(settings, "detection", None) or DetectorSettings()
    hop_s = classifier.hop_frames_for(detection.hop_s) * classifier.spec.hop_s
    # A recording's profile is seeded, so replaying the same file gives the same events.
    return with_unusual(classifier, unusual, detection, hop_s, path,
                        seed=REPLAY_SEED if path is None else None)


def base_classifier(classifier):
    """The model under any wrappers (the user's sounds, ``unusual``)."""
    while "classifier" in vars(classifier):
        classifier = classifier.classifier
    return classifier
