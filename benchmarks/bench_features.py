"""Feature extraction: our streaming FeatureStream vs a naive librosa loop, per hop.

A live classifier needs the features of the newest ~1 s window every hop (0.25 s). The
naive way recomputes `librosa.feature.melspectrogram` (and `mfcc`) on the whole window at
every hop; FeatureStream computes only the frames that are new since the last hop. Both
run over the same 60 s of synthetic audio (no ../shared needed); we report seconds of CPU
per second of audio, the speed-up ratio measured in this one run, and the largest
difference between the two (they must agree within 1e-4 relative).
"""

from __future__ import annotations

import dataclasses
import time

import librosa
import numpy as np

from benchmarks.machine import emit
from soundwatch.features import FeatureSpec, FeatureStream

AUDIO_S = 60.0
HOP_S = 0.25
WINDOW_FRAMES = 96


def synthetic_audio(spec: FeatureSpec) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = int(AUDIO_S * spec.sample_rate_hz)
    t = np.arange(n) / spec.sample_rate_hz
    return (0.2 * np.sin(2 * np.pi * (300 + 50 * t) * t)
            + 0.05 * rng.standard_normal(n)).astype(np.float32)


def window_samples(spec: FeatureSpec) -> int:
    return (WINDOW_FRAMES - 1) * spec.hop_length + spec.n_fft


def hop_ends(audio: np.ndarray, spec: FeatureSpec) -> range:
    """Sample positions at which a classifier hop happens (once a full window exists)."""
    hop = int(HOP_S * spec.sample_rate_hz)
    first = -(-window_samples(spec) // hop) * hop
    return range(first, len(audio) + 1, hop)


def naive_loop(audio: np.ndarray, spec: FeatureSpec) -> list[np.ndarray]:
    out = []
    for end in hop_ends(audio, spec):
        # The newest WINDOW_FRAMES complete frames at this hop, recomputed from scratch.
        last = (end - spec.n_fft) // spec.hop_length
        start = (last - WINDOW_FRAMES + 1) * spec.hop_length
        stop = last * spec.hop_length + spec.n_fft
        mel = librosa.feature.melspectrogram(
            y=audio[start:stop], sr=spec.sample_rate_hz, n_fft=spec.n_fft,
            hop_length=spec.hop_length, center=False, n_mels=spec.n_mels,
            fmin=spec.fmin_hz, fmax=spec.fmax_hz)
        log_mel = librosa.power_to_db(mel, ref=1.0, amin=spec.log_floor, top_db=None)
        if spec.n_mfcc:
            log_mel = librosa.feature.mfcc(S=log_mel, n_mfcc=spec.n_mfcc)
        out.append(log_mel.T)
    return out


def streaming_loop(audio: np.ndarray, spec: FeatureSpec) -> list[np.ndarray]:
    hop = int(HOP_S * spec.sample_rate_hz)
    stream = FeatureStream(spec)
    recent = np.zeros((0, spec.n_features), dtype=np.float32)
    out = []
    wanted = set(hop_ends(audio, spec))
    for end in range(hop, len(audio) + 1, hop):
        recent = np.concatenate([recent, stream.push(audio[end - hop : end])])[-WINDOW_FRAMES:]
        if end in wanted:
            out.append(recent)
    return out


def measure(spec: FeatureSpec) -> dict:
    audio = synthetic_audio(spec)
    naive_loop(audio[: spec.sample_rate_hz * 2], spec)  # warm up numba and caches
    streaming_loop(audio[: spec.sample_rate_hz * 2], spec)
    started = time.process_time()
    naive = naive_loop(audio, spec)
    naive_s = time.process_time() - started
    started = time.process_time()
    ours = streaming_loop(audio, spec)
    ours_s = time.process_time() - started
    pairs = list(zip(naive, ours, strict=True))
    # Relative to the window's dynamic range (log values cross zero, so plain relative
    # error is meaningless near 0 dB).
    worst = max(float(np.max(np.abs(a - b)) / np.ptp(a)) for a, b in pairs)
    return {
        "naive_librosa_cpu_s_per_audio_s": naive_s / AUDIO_S,
        "streaming_cpu_s_per_audio_s": ours_s / AUDIO_S,
        "speedup": naive_s / ours_s,
        "max_difference_relative_to_range": worst,
        "windows_compared": len(pairs),
    }


def main() -> None:
    spec = FeatureSpec()
    results = {
        "audio_s": AUDIO_S, "hop_s": HOP_S, "window_frames": WINDOW_FRAMES,
        "log_mel": measure(spec),
        "mfcc_20": measure(dataclasses.replace(spec, n_mfcc=20)),
    }
    emit("features", "streaming features per hop vs naive librosa recompute per hop", results)


if __name__ == "__main__":
    main()
