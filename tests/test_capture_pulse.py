"""The real microphone path: PulseAudio virtual mic -> PortAudio -> ring -> engine -> features.

Known signals are played into the virtual microphone; the engine's feature frames must
peak in the right mel band, for the right length of time, in the right order.
"""

import time

import librosa
import numpy as np
import pytest
from conftest import silence, sweep, tone, wait_until

from soundwatch.audio.capture import MicrophoneSource, find_input_device, list_input_devices
from soundwatch.engine import Engine, EngineSink
from soundwatch.errors import SoundwatchError
from soundwatch.features import FeatureSpec

pytestmark = pytest.mark.pulse
SPEC = FeatureSpec()
MEL_CENTRES_HZ = librosa.mel_frequencies(SPEC.n_mels + 2, fmin=SPEC.fmin_hz,
                                         fmax=SPEC.fmax_hz)[1:-1]


def band_of(freq_hz):
    return int(np.argmin(np.abs(MEL_CENTRES_HZ - freq_hz)))


class Collect(EngineSink):
    def __init__(self):
        self.frames, self.first_samples, self.gaps = [], [], []

    def on_frames(self, frames, first_sample):
        self.frames.append(frames.copy())
        self.first_samples.append(first_sample)

    def on_gap(self, start_sample, n_samples):
        self.gaps.append((start_sample, n_samples))

    def frame_times_s(self):
        return np.concatenate([
            (first + np.arange(len(f)) * SPEC.hop_length) / SPEC.sample_rate_hz
            for first, f in zip(self.first_samples, self.frames, strict=True)
        ])


def segments(mask):
    """[(start, end)) index runs where mask is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def start_engine(sink):
    source = MicrophoneSource("pulse")
    engine = Engine(source, SPEC, [sink])
    engine.start()
    assert source.first_callback.wait(15), "no audio callback within 15 s"
    return engine


def test_devices_list_the_virtual_microphone(pulse_mic):
    names = [d.name for d in list_input_devices()]
    assert "pulse" in names
    assert find_input_device("PULSE").name == "pulse"
    with pytest.raises(SoundwatchError, match="unknown input device 'no-such-mic'.*pulse"):
        find_input_device("no-such-mic")
    with pytest.raises(SoundwatchError, match="unknown input device index 999"):
        find_input_device(999)


def test_tones_and_sweep_peak_in_the_right_band_at_the_right_time(pulse_mic):
    sink = Collect()
    engine = start_engine(sink)
    try:
        signal = np.concatenate([
            silence(0.3), tone(1000, 1.0), silence(0.5), tone(3000, 1.0), silence(0.5),
            sweep(300, 6000, 1.5), silence(0.5),
        ])
        pulse_mic.play(signal)
        target = engine.position + int(0.3 * SPEC.sample_rate_hz)
        wait_until(lambda: engine.position >= target, 10)
    finally:
        engine.stop()
    frames = np.concatenate(sink.frames)
    times_s = sink.frame_times_s()
    loud = frames.max(axis=1) > frames.max() - 25  # within 25 dB of the loudest frame
    runs = [(a, b) for a, b in segments(loud) if b - a >= 10]
    assert len(runs) == 3, f"expected 3 sounds, found runs {runs}"
    (a1, b1), (a2, b2), (a3, b3) = runs
    assert abs(np.median(frames[a1:b1].argmax(axis=1)) - band_of(1000)) <= 1
    assert abs(np.median(frames[a2:b2].argmax(axis=1)) - band_of(3000)) <= 1
    # Durations and spacing on the stream clock match what was played (framing blurs
    # each edge by up to one n_fft window).
    assert abs((b1 - a1) * SPEC.hop_s - 1.0) < 0.1
    assert abs((b2 - a2) * SPEC.hop_s - 1.0) < 0.1
    assert abs((times_s[a2] - times_s[a1]) - 1.5) < 0.06
    assert abs((times_s[a3] - times_s[a2]) - 1.5) < 0.06
    # The sweep rises through the bands.
    sweep_bands = frames[a3:b3].argmax(axis=1)
    assert np.corrcoef(np.arange(len(sweep_bands)), sweep_bands)[0, 1] > 0.95
    assert sweep_bands[-5:].mean() - sweep_bands[:5].mean() > 30
    assert engine.stats.samples_lost == 0


def test_device_vanishes_and_comes_back(pulse_mic):
    sink = Collect()
    engine = start_engine(sink)
    source = engine.source
    try:
        pulse_mic.play(tone(1000, 0.5))
        pulse_mic.remove()
        assert wait_until(lambda: not source.connected, 10), "the vanished device went unnoticed"
        assert "stopped delivering audio" in source.error
        time.sleep(1.5)  # stay away long enough for a measurable gap
        pulse_mic.restore()
        assert wait_until(lambda: source.connected, 15), "capture did not resume on its own"
        position = engine.position
        pulse_mic.play(tone(3000, 0.6))
        wait_until(lambda: engine.position >= position + SPEC.sample_rate_hz // 2, 10)
    finally:
        engine.stop()
        pulse_mic.restore()
    assert source.reconnects == 1
    assert len(sink.gaps) == 1
    gap_s = sink.gaps[0][1] / SPEC.sample_rate_hz
    assert 1.5 < gap_s < 20
    frames = np.concatenate(sink.frames)
    after_gap = frames[np.array(sink.frame_times_s()) >= sink.gaps[0][0] / SPEC.sample_rate_hz]
    loud = after_gap[after_gap.max(axis=1) > after_gap.max() - 20]
    assert len(loud) > 20
    assert abs(np.median(loud.argmax(axis=1)) - band_of(3000)) <= 1
