"""The place's recent audio as learning negatives: the cuts around the examples, reading
the engine's ring, and audio in memory through the same learning path as files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from soundwatch.audio.ring import RingBuffer
from soundwatch.errors import SoundwatchError
from soundwatch.model import Classifier, default_model_path
from soundwatch.sounds.learn import learn_sound
from soundwatch.sounds.place import free_ranges, recent_place_audio
from tests.test_user_sounds import RATE, noise, steady_tone, write_chime_examples


def test_free_ranges_cut_the_examples_and_their_margins_and_drop_short_parts():
    # held [100, 1000); examples at [300, 350) and [320, 400) (overlapping), [900, 2000)
    free = free_ranges(100, 1000, [(900, 2000), (300, 350), (320, 400)], margin_samples=20,
                       min_samples=50)
    assert free == [(100, 280), (420, 880)]
    # a part shorter than min_samples is dropped; nothing excluded: all of it
    assert free_ranges(0, 100, [(60, 70)], 0, 50) == [(0, 60)]
    assert free_ranges(0, 100, [], 10, 1) == [(0, 100)]
    # a range entirely before the held audio, and one covering it all
    assert free_ranges(500, 600, [(0, 10)], 5, 1) == [(500, 600)]
    assert free_ranges(500, 600, [(400, 700)], 0, 1) == []
    with pytest.raises(ValueError, match="ends before it starts"):
        free_ranges(0, 100, [(50, 40)], 0, 1)
    with pytest.raises(ValueError, match="margin_samples must be >= 0"):
        free_ranges(0, 100, [], -1, 1)


def test_recent_place_audio_is_the_ring_without_the_examples_sample_exact():
    rate = 1000
    ring = RingBuffer(30 * rate)
    stream = np.arange(45 * rate, dtype=np.float32)  # sample value = its stream position
    for block in np.array_split(stream, 17):
        ring.write(block)
    # the ring holds [15000, 45000); examples at 20-22 s and 40-41 s, margin 1 s
    place = recent_place_audio(ring, [(20000, 22000), (40000, 41000)], rate,
                               window_samples=960, margin_s=1.0, min_place_s=5.0)
    assert place.ranges == [(15000, 19000), (23000, 39000), (42000, 45000)]
    for (start, end), segment in zip(place.ranges, place.segments, strict=True):
        assert np.array_equal(segment, stream[start:end])
    assert place.seconds == pytest.approx(4 + 16 + 3) and place.held_s == 30.0
    assert place.reason == ""
    # too little left: nothing used, and the reason says how much there was
    short = recent_place_audio(ring, [(15000, 42000)], rate, window_samples=960,
                               margin_s=1.0, min_place_s=5.0)
    assert short.segments == [] and short.seconds == 0.0
    assert short.reason == "only 2 s of recent audio besides the examples (needs 5 s)"


@pytest.fixture(scope="module")
def classifier():
    return Classifier(default_model_path(), threads=1)


def test_negatives_in_memory_learn_exactly_what_the_same_audio_in_a_file_does(
        classifier, tmp_path):
    rng = np.random.default_rng(3)
    examples = write_chime_examples(tmp_path, rng, n=3)
    hum = noise(rng, 6.0, level=0.01) + steady_tone(120.0, 6.0, 0.05)
    path = tmp_path / "hum.wav"
    soundfile.write(str(path), hum, RATE, subtype="FLOAT")
    from_file = learn_sound("chime", examples, classifier, negatives=[path])
    from_memory = learn_sound("chime", examples, classifier, negatives=[hum])
    # 6 s at the model's 0.25 s hop with a 0.96 s window: 21 windows
    for sound in (from_file, from_memory):
        assert sound.info["own_negative_windows"] == 21
        assert sound.info["own_negative_s"] == 6.0
    assert from_file.info["own_negative_files"] == 1 and from_memory.info["own_negative_arrays"] == 1
    assert np.array_equal(from_file.head.weights, from_memory.head.weights)
    assert from_file.head.threshold_logit == from_memory.head.threshold_logit
    with pytest.raises(SoundwatchError, match="1-D float array of samples at 16000 Hz"):
        learn_sound("chime", examples, classifier, negatives=[np.zeros((2, 100), np.float32)])
    bad = hum.copy()
    bad[10] = np.nan
    with pytest.raises(SoundwatchError, match="NaN or infinite"):
        learn_sound("chime", examples, classifier, negatives=[bad])
