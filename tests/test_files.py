"""File decoding, resampling, replay through the engine, and bad-file errors."""

import time

import numpy as np
import pytest
import soundfile
from conftest import silence, tone

from soundwatch.audio.files import END_SILENCE_S, FileSource, load_audio
from soundwatch.engine import Engine, EngineSink
from soundwatch.errors import SoundwatchError
from soundwatch.features import FeatureSpec

SPEC = FeatureSpec()


def dominant_hz(signal, sample_rate_hz):
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return np.argmax(spectrum) * sample_rate_hz / len(signal)


@pytest.mark.parametrize("rate_hz", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", "PCM_24")])
def test_any_rate_channels_and_format_resample_to_16k(tmp_path, rate_hz, channels, fmt, subtype):
    signal = tone(440.0, 1.0, rate_hz)
    data = np.stack([signal] * channels, axis=1) if channels == 2 else signal
    path = tmp_path / f"x.{fmt.lower()}"
    soundfile.write(str(path), data, rate_hz, format=fmt, subtype=subtype)
    decoded, decoded_rate = load_audio(path, 16000)
    assert decoded_rate == 16000
    assert decoded.dtype == np.float32 and decoded.ndim == 1
    assert abs(len(decoded) - 16000) <= 2
    assert abs(dominant_hz(decoded, 16000) - 440.0) < 3.0
    assert 0.45 < np.max(np.abs(decoded[100:-100])) < 0.55


def test_ogg_is_decoded(tmp_path):
    path = tmp_path / "x.ogg"
    soundfile.write(str(path), tone(1000.0, 1.0, 16000), 16000, format="OGG", subtype="VORBIS")
    decoded, _ = load_audio(path, 16000)
    assert abs(dominant_hz(decoded, 16000) - 1000.0) < 5.0


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(SoundwatchError, match=r"empty.wav is empty \(0 samples\)"):
        load_audio(path)
    blank = tmp_path / "blank.wav"
    blank.write_bytes(b"")
    with pytest.raises(SoundwatchError, match=r"blank.wav is empty \(0 bytes\): was the "):
        load_audio(blank)


@pytest.mark.parametrize("content", [b"this is not audio at all" * 10, b"RIFF\x00\x00"])
def test_corrupt_file_is_a_clear_error_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(SoundwatchError, match=r"cannot decode audio file .*broken.wav"):
        load_audio(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(SoundwatchError, match="not found"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(SoundwatchError, match="folder"):
        load_audio(tmp_path)


class Collect(EngineSink):
    def __init__(self):
        self.frames, self.first_samples, self.stopped_at = [], [], None

    def on_frames(self, frames, first_sample):
        self.frames.append(frames)
        self.first_samples.append(first_sample)

    def on_stop(self, end_sample):
        self.stopped_at = end_sample


def test_fast_replay_through_engine_gives_every_frame(tmp_path):
    signal = np.concatenate([silence(0.5, 44100), tone(3000.0, 1.0, 44100), silence(0.5, 44100)])
    path = tmp_path / "x.wav"
    soundfile.write(str(path), signal, 44100)
    source = FileSource(path, sample_rate_hz=16000, paced=False)
    sink = Collect()
    engine = Engine(source, SPEC, [sink])
    engine.start()
    assert engine.wait(30)
    frames = np.concatenate(sink.frames)
    # the file, then END_SILENCE_S of silence (a file heard to its end, as the room goes on)
    n_samples = len(load_audio(path, 16000)[0]) + int(END_SILENCE_S * 16000)
    assert len(frames) == SPEC.n_frames_for(n_samples)
    # Frame batches tile the stream clock with no holes.
    counts = np.cumsum([0] + [len(f) for f in sink.frames[:-1]])
    np.testing.assert_array_equal(np.array(sink.first_samples), counts * SPEC.hop_length)
    loud = frames.max(axis=1) > frames.max() - 20
    onset_s = np.argmax(loud) * SPEC.hop_s
    assert abs(onset_s - 0.5) < 0.05
    assert sink.stopped_at == n_samples
    assert engine.stats.samples_lost == 0


def test_paced_replay_takes_real_time(tmp_path):
    path = tmp_path / "x.wav"
    soundfile.write(str(path), tone(500.0, 0.6, 16000), 16000)
    source = FileSource(path, paced=True)
    engine = Engine(source, SPEC, [Collect()])
    started = time.monotonic()
    engine.start()
    assert engine.wait(10)
    assert time.monotonic() - started >= 0.55
