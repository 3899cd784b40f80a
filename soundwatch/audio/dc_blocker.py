"""The DC blocker: a stream's constant offset taken out before anything measures or hears it.

Many cheap inputs add a DC offset (a constant, e.g. 0.02 of full scale). It is no sound,
yet it read as background level and, through the feature window's leakage into the low
mel bands, moved the model's scores: a quiet dog bark 20 dB under an offset of 0.02 went
from 0.82 to 0.57 in its deciding window, and from an event to none. Both the levels
(:mod:`soundwatch.audio.levels`) and the features the model hears (the live
:class:`~soundwatch.engine.Engine` and the offline :func:`~soundwatch.scoring.score_stream`,
one path for both) take the audio through this filter first.

The filter: a one-pole high-pass, ``y[n] = x[n] - x[n-1] + r * y[n-1]`` with its -3 dB
corner at :data:`DC_BLOCKER_CORNER_HZ` (J. O. Smith, "Introduction to Digital Filters",
DC blocker). Training computes its features without it. The corner is low so that the
model hears what it learnt from: on 40 ESC-50 clips (every 50th) the shipped model's
window scores moved by up to 0.10 with a 5 Hz corner, 0.05 at 0.5 Hz (clips with an
offset of their own, e.g. a mean of 0.0055, move most); the DCASE office cross-check gave
the same recall, label by label, with and without it at 0.5 Hz (19.1 %). A new offset (an
input's gain changed) is gone in about a second (time constant 0.32 s).
"""

from __future__ import annotations

import numpy as np

DC_BLOCKER_CORNER_HZ = 0.5  # the -3 dB corner (Hz): see the module's docstring
START_BLOCK_S = 0.1  # a fresh start takes the mean of this much audio as the offset


class DcBlocker:
    """Streams audio through the DC blocker, its state carried from one call to the next.

    Args:
        sample_rate_hz: the rate of the audio it is given.
        corner_hz: the -3 dB corner.

    A fresh start (or :meth:`reset`, after a gap) takes the mean of its first
    :data:`START_BLOCK_S` as the offset held all along, so an offset gives no step for the
    filter to ring on, and one noisy sample is not taken for it.

    The recursion runs in plain Python, in float64, in the order
    ``scipy.signal.lfilter([1, -1], [1, -r])`` computes it (its transposed direct form
    II): the same output bit for bit, however the audio is cut into calls, without
    importing scipy.signal, which alone took 1.5 s of every command's start. It costs
    about 0.26 s of CPU per minute of audio (0.4 % of a core live).
    """

    def __init__(self, sample_rate_hz: int, corner_hz: float = DC_BLOCKER_CORNER_HZ):
        self.pole = 1.0 - 2.0 * np.pi * corner_hz / sample_rate_hz
        self.start_samples = max(1, int(round(START_BLOCK_S * sample_rate_hz)))
        self._state: float | None = None  # lfilter's z: r * y[n-1] - x[n-1]

    def reset(self) -> None:
        """The next audio does not follow on from the last (a gap): start afresh."""
        self._state = None

    def process(self, audio: np.ndarray) -> np.ndarray:
        """(n,) float32 ``audio`` without its DC offset, (n,) float32."""
        audio = np.asarray(audio, dtype=np.float32)
        if not len(audio):
            return audio
        samples = audio.astype(np.float64)
        state = self._state
        if state is None:  # the float32 audio's mean, as it always was
            state = -float(np.mean(audio[:self.start_samples]))
        pole = self.pole
        out = samples.tolist()
        for index, sample in enumerate(out):
            filtered = sample + state
            out[index] = filtered
            state = pole * filtered - sample
        self._state = state
        return np.array(out, dtype=np.float32)
