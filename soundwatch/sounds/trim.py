"""Trim a recorded example to the part that holds the sound (numpy only)."""

from __future__ import annotations

import numpy as np

from soundwatch.audio.levels import power_to_dbfs

FRAME_S = 0.01
# 10 ms frames within this many dB of the loudest frame hold the sound.
TRIM_RANGE_DB = 20.0
# Audio kept before the first and after the last loud frame.
MARGIN_S = 0.25


def loudest_dbfs(audio: np.ndarray, sample_rate_hz: int) -> float:
    """The mean power of the loudest 10 ms frame of ``audio``, in dBFS (-inf-ish when
    empty or silent)."""
    return float(power_to_dbfs(float(frame_power(audio, sample_rate_hz).max(initial=0.0))))


def trim_to_loud(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """``audio`` (n,) float32 from MARGIN_S before its first to MARGIN_S after its last
    10 ms frame within TRIM_RANGE_DB of its loudest (all of it when it is silent)."""
    power = frame_power(audio, sample_rate_hz)
    if len(power) == 0 or power.max() <= 0.0:
        return audio
    loud = np.flatnonzero(power >= power.max() * 10 ** (-TRIM_RANGE_DB / 10))
    frame = int(FRAME_S * sample_rate_hz)
    margin = int(MARGIN_S * sample_rate_hz)
    start = max(0, int(loud[0]) * frame - margin)
    end = min(len(audio), (int(loud[-1]) + 1) * frame + margin)
    return audio[start:end]


def frame_power(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """(n_frames,) float64 mean power of each whole 10 ms frame of ``audio`` about the
    recording's mean (a DC offset is no sound)."""
    frame = max(1, int(FRAME_S * sample_rate_hz))
    n = len(audio) // frame
    if n == 0:
        return np.zeros(0)
    frames = audio[:n * frame].reshape(n, frame).astype(np.float64)
    return np.mean(np.square(frames - frames.mean()), axis=1)
