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

    The recursion is computed in numpy, a sub-block at a time, in closed form: within a sub-block that starts after output ``y_b``, ``y[i] = r^(i+1) * (y_b +
    sum_k<=i r^-(k+1) * (x[k] - x[k-1]))``. Sub-blocks are counted from the start of the
    stream, whatever the calls' lengths, and a running sum is carried across a call's end
    as the first term of the next one's: the output is the same, bit for bit, however the
    audio is cut into calls (the live engine's blocks and the offline scoring's one call
    agree exactly), and within 1e-12 of ``scipy.signal.lfilter``, whose import alone took
    1.5 s of every command's start.
    """

    def __init__(self, sample_rate_hz: int, corner_hz: float = DC_BLOCKER_CORNER_HZ):
        self.pole = 1.0 - 2.0 * np.pi * corner_hz / sample_rate_hz
        self.start_samples = max(1, int(round(START_BLOCK_S * sample_rate_hz)))
        # as long as r^-length stays under 2: the closed form loses no precision (3536
        # samples at the 0.5 Hz corner and 16 kHz)
        self.sub_block = int(np.clip(np.log(2.0) / -np.log(self.pole), 16, 4096))
        steps = np.arange(1, self.sub_block + 1, dtype=np.float64)
        self._growth = self.pole ** steps  # r^(i+1)
        self._shrink = self.pole ** -steps  # r^-(i+1)
        self._started = False

    def reset(self) -> None:
        """The next audio does not follow on from the last (a gap): start afresh."""
        self._started = False

    def process(self, audio: np.ndarray) -> np.ndarray:
        """(n,) float32 ``audio`` without its DC offset, (n,) float32."""
        audio = np.asarray(audio, dtype=np.float32)
        if not len(audio):
            return audio
        samples = audio.astype(np.float64)
        if not self._started:
            self._started = True
            self._last_input = float(np.mean(samples[:self.start_samples]))
            self._base = 0.0  # the output before the current sub-block
            self._position = 0  # samples of the current sub-block done
            self._running_sum = 0.0  # sum_k r^-(k+1) * (x[k] - x[k-1]) over those
        steps = np.diff(samples, prepend=self._last_input)  # x[k] - x[k-1]
        self._last_input = float(samples[-1])
        out = np.empty(len(samples), dtype=np.float64)
        done = 0
        while done < len(samples):
            start = self._position
            n = min(self.sub_block - start, len(samples) - done)
            terms = steps[done:done + n] * self._shrink[start:start + n]
            sums = np.cumsum(np.concatenate(([self._running_sum], terms)))[1:]
            out[done:done + n] = self._growth[start:start + n] * (self._base + sums)
            self._running_sum = float(sums[-1])
            self._position += n
            done += n
            if self._position == self.sub_block:
                self._base, self._position, self._running_sum = float(out[done - 1]), 0, 0.0
        return out.astype(np.float32)
