"""Samples that are not numbers: found and silenced wherever audio comes in.

A NaN or infinity in the input would spread through the resampler's and the feature
code's arithmetic to every score near it (NaN scores never cross a threshold, so a file
with scattered NaN gave no events). Every door audio enters by (file decoding, live
capture, the engine's read of any source's ring) calls :func:`silence_nonfinite` and
counts what it replaced, so the count can be reported.
"""

from __future__ import annotations

import math

import numpy as np


def silence_nonfinite(block: np.ndarray) -> int:
    """Replace NaN and ±inf in ``block`` (any shape, float) by 0.0, in place.

    Returns:
        How many values were replaced (0 for a clean block, with no allocation).
    """
    # The common case costs one sum and no array: a sum in float64 is finite exactly when
    # every float32 value is.
    if math.isfinite(np.sum(block, dtype=np.float64)):
        return 0
    bad = ~np.isfinite(block)
    block[bad] = 0.0
    return int(np.count_nonzero(bad))
