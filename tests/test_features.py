"""Feature parity: streaming == batch exactly, batch == librosa within 1e-4."""

import dataclasses

import librosa
import numpy as np
import pytest

from soundwatch.errors import SoundwatchError
from soundwatch.features import (
    FeatureExtractor,
    FeatureSpec,
    FeatureStream,
    compute_features,
)

SPEC = FeatureSpec()
MFCC_SPEC = dataclasses.replace(SPEC, n_mfcc=20)


@pytest.fixture(scope="module")
def signal():
    rng = np.random.default_rng(0)
    t = np.arange(int(1.3 * SPEC.sample_rate_hz)) / SPEC.sample_rate_hz
    chirp = np.sin(2 * np.pi * (200 + 3000 * t) * t)
    return (0.3 * chirp + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def stream_in_chunks(spec, signal, sizes):
    stream = FeatureStream(spec)
    out, position, i = [], 0, 0
    while position < len(signal):
        size = sizes[i % len(sizes)]
        out.append(stream.push(signal[position : position + size]))
        position += size
        i += 1
    return np.concatenate(out)


@pytest.mark.parametrize("spec", [SPEC, MFCC_SPEC], ids=["logmel", "mfcc"])
@pytest.mark.parametrize("chunk", [1, 37, 160, 1000, 4096, "random"])
def test_streaming_equals_batch_exactly(spec, chunk, signal):
    if chunk == "random":
        sizes = list(np.random.default_rng(1).integers(1, 3000, size=200))
    else:
        sizes = [chunk]
    streamed = stream_in_chunks(spec, signal, sizes)
    batch = compute_features(signal, spec)
    assert batch.shape == (spec.n_frames_for(len(signal)), spec.n_features)
    assert streamed.shape == batch.shape
    np.testing.assert_array_equal(streamed, batch)


def librosa_mel_power(signal, spec):
    return librosa.feature.melspectrogram(
        y=signal, sr=spec.sample_rate_hz, n_fft=spec.n_fft, hop_length=spec.hop_length,
        window=spec.window, center=False, power=2.0, n_mels=spec.n_mels,
        fmin=spec.fmin_hz, fmax=spec.fmax_hz,
    ).T


def test_mel_power_matches_librosa(signal):
    extractor = FeatureExtractor(SPEC)
    from soundwatch.features import frame_signal

    ours = extractor.mel_power(frame_signal(signal, SPEC))
    theirs = librosa_mel_power(signal, SPEC)
    assert ours.shape == theirs.shape
    scale = theirs.max()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * scale)


def test_log_mel_matches_librosa(signal):
    ours = compute_features(signal, SPEC)
    theirs = librosa.power_to_db(librosa_mel_power(signal, SPEC), ref=1.0,
                                 amin=SPEC.log_floor, top_db=None)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)


def test_mfcc_matches_librosa(signal):
    ours = compute_features(signal, MFCC_SPEC)
    log_mel = librosa.power_to_db(librosa_mel_power(signal, MFCC_SPEC).T, ref=1.0,
                                  amin=MFCC_SPEC.log_floor, top_db=None)
    theirs = librosa.feature.mfcc(S=log_mel, n_mfcc=MFCC_SPEC.n_mfcc).T
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)


def test_tone_peaks_in_its_mel_band():
    t = np.arange(SPEC.sample_rate_hz) / SPEC.sample_rate_hz
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    features = compute_features(tone, SPEC)
    mel_centres_hz = librosa.mel_frequencies(SPEC.n_mels + 2, fmin=SPEC.fmin_hz,
                                             fmax=SPEC.fmax_hz)[1:-1]
    expected_band = int(np.argmin(np.abs(mel_centres_hz - 1000)))
    assert abs(int(np.median(features.argmax(axis=1))) - expected_band) <= 1


def test_short_signal_gives_no_frames():
    assert compute_features(np.zeros(SPEC.n_fft - 1), SPEC).shape == (0, SPEC.n_mels)
    stream = FeatureStream(SPEC)
    assert stream.push(np.zeros(100)).shape == (0, SPEC.n_mels)


def test_spec_json_round_trip_and_errors():
    assert FeatureSpec.from_json(MFCC_SPEC.to_json()) == MFCC_SPEC
    with pytest.raises(SoundwatchError, match="unknown keys"):
        FeatureSpec.from_json('{"n_fft": 512, "bogus": 1}')
    with pytest.raises(SoundwatchError, match="fmax_hz"):
        FeatureSpec(fmax_hz=9000)
    with pytest.raises(SoundwatchError, match="mono"):
        compute_features(np.zeros((100, 2)), SPEC)
