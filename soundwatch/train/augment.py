"""Augmentation on log-mel windows (numpy, no torch): crops, gain, mixing, SpecAugment.

Everything works on dB features, so the features are computed once and cached. Mixing two
sounds adds their *powers*: ``10 log10(10^(a/10) + 10^(b/10))``, which is what the
features of the summed waveforms are on average (the cross term of two independent sounds
averages to zero). Gain is a constant added in dB.

Shapes: a window is (window_frames, n_features) float32 dB; a batch (batch, frames, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """How strongly to augment; the defaults are the shipped recipe."""

    gain_db: float = 6.0  # random gain in [-gain_db, +gain_db]
    mixup_prob: float = 0.5  # share of labelled windows mixed with another one
    mixup_alpha: float = 1.0  # Beta(alpha, alpha) mixing weight
    background_prob: float = 0.5  # share of windows mixed into background noise
    snr_db_min: float = 0.0
    snr_db_max: float = 20.0
    time_masks: int = 2
    time_mask_frames: int = 12  # widest time mask
    freq_masks: int = 2
    freq_mask_bands: int = 8  # widest frequency mask


def window_energy_db(features: np.ndarray, window_frames: int) -> np.ndarray:
    """Mean power (dB) of every window start: (n_frames, n) -> (max(1, n_frames - w + 1),)."""
    frame_power = np.mean(10.0 ** (features.astype(np.float64) / 10.0), axis=1)
    if len(features) <= window_frames:
        return np.array([10.0 * np.log10(max(frame_power.mean() if len(frame_power) else 0.0,
                                              1e-12))])
    cumulative = np.concatenate([[0.0], np.cumsum(frame_power)])
    window_power = (cumulative[window_frames:] - cumulative[:-window_frames]) / window_frames
    return 10.0 * np.log10(np.maximum(window_power, 1e-12))


def loud_window_starts(features: np.ndarray, window_frames: int,
                       margin_db: float = 20.0) -> np.ndarray:
    """Window starts whose energy is within ``margin_db`` of the loudest window.

    Crops from these avoid the silent stretches (padding, pauses) that many clips have,
    which would otherwise teach "silence is a dog bark". Returns (k,) int64, k >= 1.
    """
    energy = window_energy_db(features, window_frames)
    return np.flatnonzero(energy >= energy.max() - margin_db).astype(np.int64)


def crop(features: np.ndarray, start: int, window_frames: int, pad_db: float) -> np.ndarray:
    """``features[start:start + w]``, padded at the end with ``pad_db`` (silence) when the
    clip is shorter: (n_frames, n) -> (w, n) float32."""
    out = features[start: start + window_frames]
    if len(out) < window_frames:
        padded = np.full((window_frames, features.shape[1]), pad_db, dtype=np.float32)
        padded[: len(out)] = out
        return padded
    return out.astype(np.float32, copy=False)


def add_powers_db(a_db: np.ndarray, b_db: np.ndarray) -> np.ndarray:
    """dB of the summed powers, computed stably: log10(10^a + 10^b) = max + log10(1 + ...)."""
    high = np.maximum(a_db, b_db)
    low = np.minimum(a_db, b_db)
    return (high + 10.0 * np.log10(1.0 + 10.0 ** ((low - high) / 10.0))).astype(np.float32)


def mean_power_db(windows: np.ndarray) -> np.ndarray:
    """(batch, frames, n) dB -> (batch,) dB of the mean power of each window."""
    power = np.mean(10.0 ** (windows.astype(np.float64) / 10.0), axis=(1, 2))
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def mix_into_background(windows: np.ndarray, backgrounds: np.ndarray, snr_db: np.ndarray
                        ) -> np.ndarray:
    """Each window over its background at the given SNR: (b, f, n), (b, f, n), (b,) -> dB."""
    shift_db = mean_power_db(windows) - snr_db - mean_power_db(backgrounds)
    return add_powers_db(windows, backgrounds + shift_db[:, None, None].astype(np.float32))


def mixup(windows: np.ndarray, targets: np.ndarray, partner: np.ndarray,
          weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Between-class mixing: powers and targets mixed with ``weight`` (b,) in [0, 1].

    Window i becomes weight_i * its power + (1 - weight_i) * the power of window
    ``partner[i]``; its targets the same blend.
    """
    w = weight.astype(np.float32)[:, None, None]
    a = windows + 10.0 * np.log10(np.maximum(w, 1e-6))
    b = windows[partner] + 10.0 * np.log10(np.maximum(1.0 - w, 1e-6))
    mixed = add_powers_db(a, b)
    blended = weight[:, None] * targets + (1.0 - weight[:, None]) * targets[partner]
    return mixed, blended.astype(np.float32)


def spec_augment(windows: np.ndarray, rng: np.random.Generator, time_masks: int,
                 time_mask_frames: int, freq_masks: int, freq_mask_bands: int) -> np.ndarray:
    """SpecAugment masks (in place): random time and frequency stripes set to the window's
    mean dB value, so masks carry no loudness cue."""
    batch, n_frames, n_features = windows.shape
    fill = windows.mean(axis=(1, 2))
    for i in range(batch):
        for _ in range(time_masks):
            width = int(rng.integers(0, time_mask_frames + 1))
            start = int(rng.integers(0, max(1, n_frames - width + 1)))
            windows[i, start: start + width, :] = fill[i]
        for _ in range(freq_masks):
            width = int(rng.integers(0, freq_mask_bands + 1))
            start = int(rng.integers(0, max(1, n_features - width + 1)))
            windows[i, :, start: start + width] = fill[i]
    return windows


def augment_batch(windows: np.ndarray, targets: np.ndarray, backgrounds: np.ndarray | None,
                  labelled: np.ndarray, config: AugmentConfig, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The full recipe on one batch.

    Args:
        windows: (b, frames, n) dB windows, cropped already (modified, returned).
        targets: (b, n_labels) float32 targets (all zero for negatives).
        backgrounds: (b, frames, n) dB background crops, or None for no mixing.
        labelled: (b,) bool, True where the window is an event (negatives are not mixed up).
        config: the augmentation settings.
        rng: the random generator (seeded per epoch, so runs repeat).

    Returns:
        (windows, targets) after gain, mixup, background mixing and SpecAugment.
    """
    batch = len(windows)
    windows = windows + rng.uniform(-config.gain_db, config.gain_db,
                                    batch).astype(np.float32)[:, None, None]
    events = np.flatnonzero(labelled)
    if config.mixup_prob > 0 and len(events) > 1:
        chosen = events[rng.random(len(events)) < config.mixup_prob]
        if len(chosen):
            partner = np.arange(batch)
            partner[chosen] = rng.choice(events, len(chosen))
            weight = np.ones(batch)
            weight[chosen] = rng.beta(config.mixup_alpha, config.mixup_alpha, len(chosen))
            windows, targets = mixup(windows, targets, partner, weight)
    if backgrounds is not None and config.background_prob > 0:
        chosen = np.flatnonzero(rng.random(batch) < config.background_prob)
        if len(chosen):
            snr = rng.uniform(config.snr_db_min, config.snr_db_max, len(chosen))
            windows[chosen] = mix_into_background(windows[chosen], backgrounds[chosen], snr)
    spec_augment(windows, rng, config.time_masks, config.time_mask_frames,
                 config.freq_masks, config.freq_mask_bands)
    return windows, targets
