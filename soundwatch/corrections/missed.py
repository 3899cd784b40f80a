"""How close a missed sound came: the score a model label held over a marked range.

A "missed one here" mark (``soundwatch events missed``, or the window's stretch bar) of
one of the model's labels says the label should have fired between two times; so does an
event relabelled to another of the model's labels ("it was X": X was missed there). What
lowering its ``threshold_on`` would take (:mod:`soundwatch.corrections.thresholds`) is the
*held peak* of its score there: the highest score the label's smoothed score stayed at or
above for the detector's ``min_duration_s``, the time from the end of the first window to
the end of the last one (:mod:`soundwatch.detect`). A threshold at or under it makes an
event of the range; with ``min_duration_s`` 0 it is the plain peak.

Where the scores come from:

1. the score history (:mod:`soundwatch.score_history`): the windows that overlap the
   range, written by the same model version;
2. else the audio kept for the mark, scored by the model through the app's own windows
   (:func:`soundwatch.scoring.score_stream`, the path `classify` and the monitor use).

:func:`measure_peak` tries them in that order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from soundwatch.detect import DetectorSettings


@dataclass(frozen=True)
class MissedPeak:
    """The score a label held over a missed range.

    Attributes:
        peak: the held peak (a score in [0, 1]); see the module docstring.
        highest: the highest single window's score there.
        source: ``"history"`` or ``"audio"``: where the scores came from.
        windows: windows it was measured over.
    """

    peak: float
    highest: float
    source: str
    windows: int

    def describe(self, label: str, over: str = "the marked range") -> str:
        """One line: what ``label`` held ``over`` (what the range was), and from where."""
        where = ("the score history" if self.source == "history"
                 else "its kept audio, scored by the model")
        return (f"{label!r} held {self.peak:.2f} over {over} (highest window "
                f"{self.highest:.2f}; from {where}, {self.windows} window(s))")


def held_peak(scores: np.ndarray, hop_s: float, settings: DetectorSettings, label: str
              ) -> float:
    """The highest score ``label``'s smoothed score stays at or above for its
    ``min_duration_s`` in ``scores``.

    Args:
        scores: (n,) float raw scores of one label, one per window, ``hop_s`` apart.
        hop_s: seconds between windows (> 0).
        settings: gives the smoothing and the label's ``min_duration_s``.
        label: the label (for its per-class ``min_duration_s``).

    Returns:
        The held peak; 0.0 for no windows. A run shorter than the minimum gives the
        lowest score of the whole run (the best it can do).

    Raises:
        ValueError: ``scores`` is not 1-D or ``hop_s`` is not positive.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (one label's windows), got shape {scores.shape}")
    if not hop_s > 0:
        raise ValueError(f"hop_s must be > 0, got {hop_s}")
    if len(scores) == 0:
        return 0.0
    hops = settings.smoothing_hops
    if hops > 1 and len(scores) >= hops:
        stacked = np.lib.stride_tricks.sliding_window_view(scores, hops)
        scores = np.median(stacked, axis=1) if settings.smoothing == "median" else \
            stacked.mean(axis=1)
    min_duration_s = settings.class_values(label)[2]
    # k windows span (k - 1) hops from the first window's end to the last one's
    needed = min(len(scores), int(math.ceil(min_duration_s / hop_s - 1e-9)) + 1)
    runs = np.lib.stride_tricks.sliding_window_view(scores, needed)
    return float(runs.min(axis=1).max())


def peak_from_history(database_path: str | Path, label: str, start: datetime,
                      end: datetime, settings: DetectorSettings, model_version: str
                      ) -> MissedPeak | None:
    """``label``'s held peak over ``[start, end]`` (aware UTC) from the score history
    beside the database, from windows that overlap the range and were scored by
    ``model_version``; None when the history holds none."""
    from soundwatch.score_history import history_dir, read_history

    folder = history_dir(database_path)
    if not folder.is_dir():
        return None
    best = None
    # a window that ends up to one window length after the range still heard part of it
    for segment in read_history(folder, start, end + timedelta(seconds=10)):
        if label not in segment.labels or segment.model_version != model_version:
            continue
        window_s = segment.window_samples / segment.sample_rate_hz
        keep = ((segment.times > start.timestamp())
                & (segment.times - window_s < end.timestamp()))
        if not keep.any():
            continue
        scores = segment.scores[keep, segment.labels.index(label)]
        found = MissedPeak(held_peak(scores, segment.hop_s, settings, label),
                           float(scores.max()), "history", int(keep.sum()))
        if best is None or found.peak > best.peak:
            best = found
    return best


def peak_from_audio(path: str | Path, label: str, classifier, settings: DetectorSettings
                    ) -> MissedPeak:
    """``label``'s held peak over the recording at ``path`` (:func:`peak_from_samples`).

    Raises:
        SoundwatchError: the file cannot be read; ``label`` is not the model's.
    """
    from soundwatch.audio.files import load_audio

    signal, _ = load_audio(path, classifier.sample_rate_hz)
    return peak_from_samples(signal, label, classifier, settings)


def peak_from_samples(signal: np.ndarray, label: str, classifier,
                      settings: DetectorSettings) -> MissedPeak:
    """``label``'s held peak over ``signal``, scored by ``classifier`` through the app's
    windows at the settings' hop (a signal shorter than a window is padded with silence
    to one).

    Args:
        signal: (n,) float32 audio at ``classifier.sample_rate_hz``.
        label: one of the model's labels.
        classifier: the :class:`~soundwatch.model.Classifier` (or a wrapper of it).
        settings: the detector settings in force (hop, smoothing, min_duration_s).

    Raises:
        SoundwatchError: ``label`` is not the model's.
    """
    from soundwatch.errors import SoundwatchError
    from soundwatch.scoring import score_stream

    if label not in classifier.labels:
        raise SoundwatchError(f"{label!r} is not a label of the model {classifier.path}")
    hop_frames = classifier.hop_frames_for(settings.hop_s)
    scored = score_stream(np.asarray(signal, dtype=np.float32), classifier, hop_frames,
                          pad_to_window=True)
    scores = scored.scores[:, list(classifier.labels).index(label)]
    hop_s = hop_frames * classifier.spec.hop_s
    return MissedPeak(held_peak(scores, hop_s, settings, label), float(scores.max()),
                      "audio", len(scores))


def measure_peak(database_path: str | Path, label: str, start: datetime, end: datetime,
                 classifier, settings: DetectorSettings,
                 audio: str | Path | tuple[np.ndarray, int]) -> MissedPeak:
    """``label``'s held peak over ``[start, end]`` (aware datetimes): from the score
    history beside the database when it holds the range (:func:`peak_from_history`),
    else from ``audio``, the recording of the moment (a file, or (n,) float32 samples at
    ``classifier.sample_rate_hz`` with that rate).

    Raises:
        SoundwatchError: the audio cannot be read, is at another rate, or ``label`` is
            not the model's.
    """
    from soundwatch.errors import SoundwatchError

    found = peak_from_history(database_path, label, start, end, settings,
                              classifier.metadata.model_version)
    if found is not None:
        return found
    if isinstance(audio, tuple):
        samples, rate = audio
        if rate != classifier.sample_rate_hz:
            raise SoundwatchError(f"the audio of the moment is at {rate} Hz and the model "
                                  f"scores {classifier.sample_rate_hz} Hz: pass it at the "
                                  "model's rate")
        return peak_from_samples(samples, label, classifier, settings)
    return peak_from_audio(audio, label, classifier, settings)
