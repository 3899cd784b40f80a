"""The SNR gate: a label scores only in windows whose sound stands out from the background.

A sound learnt from a few examples (:mod:`soundwatch.sounds`) also scores high, now and
then, on steady noise that merely resembles it, as loud as the background itself (a fan,
traffic, rain): its false events there have an SNR at the floor, while its real ones
stand out by a few dB at least. With a ``min_snr_db`` for a label, each scored window's
SNR is measured and, in a window below it, that label's score counts as 0 for the
detector: no event starts there, and a running one ends as if its score had fallen. The
detector is told what was held back, so that ``--explain``, the near misses and the
window's "Why not?" name the gate (``below_min_snr``).

A window's SNR is :func:`~soundwatch.audio.levels.snr_db` of the window's level (L10 of
its 100 ms blocks, as an event's level) over the noise floor before the window's end
(:meth:`~soundwatch.audio.levels.EventLevels.floor_now_dbfs`: the background, with the
events in progress and just finished kept out of it). In the first ``GATE_FLOOR_S`` of a
stream nothing is held back: a recording that starts with the sound (``soundwatch
classify phone.wav``) measured the sound as its own floor after half a second, and held
it back. After that, while less than ``GATE_FLOOR_S`` of background lies outside the
events, the floor is that of all the audio heard, events included: an event that began in
those first seconds (a steady noise that a learnt sound resembles, heard from the start)
would otherwise keep its own audio out of the floor, and run on ungated. The cost: such a
noise can make one short event at the start of a stream.

The live monitor and :func:`~soundwatch.scoring.detect_stream` call :meth:`SnrGate.apply`
on every window before the detector, and the score history keeps each window's SNR, so
that ``soundwatch rescore`` replays the gate (see :mod:`soundwatch.score_history`).
"""

from __future__ import annotations

import numpy as np

from soundwatch.audio.levels import BLOCK_S, EventLevels, snr_db
from soundwatch.detect import HeldBack

GATE_FLOOR_S = 2.0  # background heard before the gate trusts the floor


def min_snr_vector(labels: tuple[str, ...], min_snr_db: dict[str, float]) -> np.ndarray:
    """(n_labels,) float64: each label's minimum window SNR in dB, -inf where it has none."""
    vector = np.full(len(labels), -np.inf)
    index = {label: i for i, label in enumerate(labels)}
    for label, value in min_snr_db.items():
        if label in index and value is not None:
            vector[index[label]] = float(value)
    return vector


def gate_scores(scores: np.ndarray, window_snr_db, min_snr: np.ndarray) -> np.ndarray:
    """``scores`` with each label whose ``min_snr`` (from :func:`min_snr_vector`) is
    above its window's SNR set to 0; ``scores`` itself when none is.

    Args:
        scores: (n_labels,) one window's, or (n_windows, n_labels).
        window_snr_db: the window's SNR in dB (a float, or None), or (n_windows,) of
            them; None or NaN: not known, nothing held back.
        min_snr: (n_labels,) from :func:`min_snr_vector`.
    """
    if window_snr_db is None:
        return scores
    held = min_snr > np.asarray(window_snr_db, dtype=np.float64)[..., None]  # NaN: False
    if not held.any():
        return scores
    gated = np.array(scores, copy=True)
    gated[held] = 0.0
    return gated


class SnrGate:
    """Measures each window's SNR and holds back the scores of the labels too quiet in it.

    Args:
        labels: the classifier's labels, in score order.
        min_snr_db: ``{label: dB}``; labels not named are never held back.
        levels: the stream's :class:`~soundwatch.audio.levels.EventLevels` (its history
            fed with the audio up to each window's end before :meth:`apply`).
        window_samples: one window's length in samples.

    Threads: the engine worker (or the offline scorer's) only.
    """

    def __init__(self, labels: tuple[str, ...], min_snr_db: dict[str, float],
                 levels: EventLevels, window_samples: int):
        self.min_snr = min_snr_vector(tuple(labels), min_snr_db)
        self.active = bool(np.isfinite(self.min_snr).any())
        self.levels = levels
        self.window_samples = int(window_samples)
        self.last_snr_db: float | None = None  # of the latest window measured
        self.last_held_back: HeldBack | None = None  # of the latest window, for the detector
        self._floor_blocks = int(round(GATE_FLOOR_S / BLOCK_S))

    def window_snr_db(self, end_sample: int) -> float | None:
        """The SNR (dB) of the window that ends at ``end_sample``; None when its level or
        the floor is not known."""
        history = self.levels.history
        level = history.event_level_dbfs(end_sample - self.window_samples, end_sample)
        floor = self.levels.floor_now_dbfs(end_sample, self._floor_blocks)
        if floor is None:  # the events' audio too (see the module docstring)
            floor = history.noise_floor_dbfs(end_sample, (), self._floor_blocks)
        return None if level is None or floor is None else snr_db(level, floor)

    def apply(self, scores: np.ndarray, end_sample: int) -> np.ndarray:
        """``scores`` (n_labels,) of the window ending at ``end_sample``, the labels too
        quiet in it set to 0. Measures the window (``last_snr_db``) only when some label
        has a minimum."""
        self.last_held_back = None
        if not self.active:
            self.last_snr_db = None
            return scores
        self.last_snr_db = self.window_snr_db(end_sample)
        gated = gate_scores(scores, self.last_snr_db, self.min_snr)
        if gated is not scores:
            self.last_held_back = HeldBack(np.asarray(scores), gated != scores,
                                           self.last_snr_db, self.min_snr)
        return gated
