"""The DC blocker (soundwatch.audio.dc_blocker): the one-pole high-pass it is meant to be,
the same output however the audio is cut into calls, and an offset taken out at once."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from soundwatch.audio.dc_blocker import DcBlocker

RATE = 16000


def stream(seconds: float, offset: float = 0.02, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (offset + 0.1 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


@pytest.mark.parametrize("corner_hz", [0.5, 20.0])
def test_it_is_the_one_pole_high_pass_scipy_computes(corner_hz):
    """y[n] = x[n] - x[n-1] + r y[n-1], started from the first 0.1 s's mean: as
    scipy.signal.lfilter computes it, bit for bit (the models were measured with it)."""
    audio = stream(30.0)
    blocker = DcBlocker(RATE, corner_hz)
    ours = blocker.process(audio)
    offset = float(np.mean(audio[:blocker.start_samples]))
    theirs, _ = lfilter([1.0, -1.0], [1.0, -blocker.pole], audio.astype(np.float64),
                        zi=np.array([-offset]))
    assert np.array_equal(ours, theirs.astype(np.float32))
    assert ours.dtype == np.float32 and abs(float(np.mean(ours[RATE * 5:]))) < 2e-3


def test_any_cut_into_calls_gives_the_same_output_bit_for_bit():
    """The live engine feeds it 100 ms blocks, the offline scoring a whole file at once:
    both hear the same audio."""
    audio = stream(20.0, seed=3)
    whole = DcBlocker(RATE).process(audio)
    rng = np.random.default_rng(4)
    for _ in range(3):
        blocker = DcBlocker(RATE)
        parts, done = [blocker.process(audio[:blocker.start_samples])], blocker.start_samples
        while done < len(audio):
            n = int(rng.integers(1, 9000))
            parts.append(blocker.process(audio[done:done + n]))
            done += n
        assert np.array_equal(np.concatenate(parts), whole)


def test_a_reset_starts_afresh_from_the_new_audios_offset():
    blocker = DcBlocker(RATE)
    blocker.process(stream(2.0, offset=0.3))
    blocker.reset()
    after = blocker.process(stream(2.0, offset=-0.2, seed=1))
    assert abs(float(np.mean(after))) < 5e-3  # no step from the old offset to ring on
