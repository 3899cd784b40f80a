"""Noisy copies of a learnt sound's examples (numpy only).

Examples are usually recorded close to the sound with little else going on, but the
sound is then heard in a room with noise. Each example is also mixed with synthesised
coloured noise (white, pink, brown: the spectral slopes of fans, rain and traffic rumble)
at a few signal-to-noise ratios, so that the head also learns what the sound looks like
in noise (:func:`noisy_copies`). Given recordings of the place itself (its recent audio
in the window, ``--negatives`` files on the command line), each example can also be mixed
into excerpts of them (:func:`place_copies`): the sound as this room's own noise masks it
(off by default, see :data:`soundwatch.sounds.learn.PLACE_SNRS_DB`). No other recording is
used: nothing the user did not give is needed, and nothing test audio holds leaks into
learning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from soundwatch.sounds.trim import frame_power

# Noise colour -> exponent of the power spectrum's slope (power ~ 1 / f**exponent).
COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
# A frame within this many dB of the loudest frame holds the sound (for its level).
ACTIVE_RANGE_DB = 30.0


def coloured_noise(n_samples: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """(n_samples,) float64 noise of unit RMS whose power falls as 1 / f**exponent."""
    spectrum = np.fft.rfft(rng.standard_normal(max(n_samples, 2)))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=max(n_samples, 2))[:n_samples]
    return noise / max(float(np.sqrt(np.mean(np.square(noise)))), 1e-12)


def active_rms(audio: np.ndarray, sample_rate_hz: int) -> float:
    """RMS of ``audio`` over its 10 ms frames within ACTIVE_RANGE_DB of the loudest (the
    sound's own level, not diluted by the silence around it); 0 when silent."""
    power = frame_power(audio, sample_rate_hz)
    if len(power) == 0 or power.max() <= 0.0:
        return 0.0
    return float(np.sqrt(np.mean(power[power >= power.max() * 10 ** (-ACTIVE_RANGE_DB / 10)])))


def noisy_copies(audio: np.ndarray, sample_rate_hz: int, snrs_db: tuple[float, ...],
                 seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``audio`` (n,) mixed with coloured noise at each of ``snrs_db`` (sound's active
    RMS over the noise's RMS, in dB), one colour after another.

    Returns:
        (mixed, noise) pairs of float32 (n,) arrays clipped to [-1, 1]: the noisy copy
        and the noise alone (a negative: the head must not learn the noise as the
        sound). A silent ``audio`` gives none.
    """
    level = active_rms(audio, sample_rate_hz)
    if level <= 0.0:
        return []
    rng = np.random.default_rng(seed)
    colours = list(COLOURS.values())
    copies = []
    for i, snr_db in enumerate(snrs_db):
        noise = coloured_noise(len(audio), colours[i % len(colours)], rng)
        noise *= level * 10 ** (-snr_db / 20)
        copies.append((np.clip(audio + noise, -1.0, 1.0).astype(np.float32),
                       np.clip(noise, -1.0, 1.0).astype(np.float32)))
    return copies


def place_copies(audio: np.ndarray, sample_rate_hz: int, place: Sequence[np.ndarray],
                 snrs_db: tuple[float, ...], seed: int = 0
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``audio`` (n,) mixed into an excerpt of the place's own audio at each of
    ``snrs_db`` (the sound's active RMS over the excerpt's RMS, in dB).

    Args:
        audio: (n,) float32 example at ``sample_rate_hz``.
        place: (m_i,) float32 recordings of the place at the same rate; each excerpt is
            ``n`` samples from a random position in their concatenation (looped when
            shorter than ``n``).
        snrs_db: one copy per value.
        seed: the excerpts' positions.

    Returns:
        (mixed, excerpt) pairs of float32 (n,) arrays clipped to [-1, 1], as
        :func:`noisy_copies`; none when ``audio`` is silent or there is no place audio.
        An excerpt that is digital silence is mixed as it is (the sound alone).
    """
    level = active_rms(audio, sample_rate_hz)
    bed = np.concatenate([np.asarray(p, dtype=np.float32) for p in place]) if place else None
    if level <= 0.0 or bed is None or len(bed) == 0:
        return []
    rng = np.random.default_rng(seed)
    copies = []
    for snr_db in snrs_db:
        start = int(rng.integers(0, max(1, len(bed) - len(audio) + 1)))
        excerpt = np.resize(bed[start:start + len(audio)], len(audio)).astype(np.float64)
        rms = float(np.sqrt(np.mean(np.square(excerpt))))
        if rms > 0.0:
            excerpt *= level * 10 ** (-snr_db / 20) / rms
        copies.append((np.clip(audio + excerpt, -1.0, 1.0).astype(np.float32),
                       np.clip(excerpt, -1.0, 1.0).astype(np.float32)))
    return copies
