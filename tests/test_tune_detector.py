"""The detector sweep's per-class choice for labels no tuning clip has
(``benchmarks.tune_detector.tune_unheard_labels``), with the analytic test model."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.tune_detector import UNHEARD_GRID, tune_unheard_labels
from soundwatch.detect import DetectorSettings
from soundwatch.features import FeatureExtractor
from soundwatch.model import Classifier
from soundwatch.scoring import score_stream
from soundwatch.train.event_eval import TruthEvent
from tests.model_factory import make_test_model, noise_burst, silence, tone

RATE = 16000

BANDS = {"tone_1k": (900.0, 1100.0), "tone_3k": (2800.0, 3200.0),
         "tone_6k": (5800.0, 6200.0), "noise": None}
BASE = DetectorSettings(threshold_on=0.8, threshold_off=0.6, min_duration_s=0.5,
                        warmup_s=0.0)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return Classifier(make_test_model(tmp_path_factory.mktemp("m") / "m.onnx", bands=BANDS),
                      threads=1)


def scored(classifier, signal):
    return score_stream(signal.astype(np.float32), classifier, classifier.hop_frames_for(None),
                        FeatureExtractor(classifier.spec))


def test_a_label_without_clips_gets_the_most_sensitive_setting_that_adds_no_false_event(
        classifier):
    # Truth: 1 kHz tones only. tone_3k is never a truth clip but a 3 kHz tone in hiss
    # (which blurs its contrast to a middling score) sounds in the background audio;
    # tone_6k never sounds at all.
    clips = np.concatenate([silence(1.0), tone(1000, 1.5), silence(2.0), tone(1000, 1.5),
                            silence(1.0)])
    truth = [TruthEvent("tone_1k", 1.0, 2.5, "a"), TruthEvent("tone_1k", 4.5, 6.0, "b")]
    faint = noise_burst(4.0, amplitude=0.05) + np.pad(tone(3000, 2.0), RATE)
    streams = [(scored(classifier, clips), truth)]
    backgrounds = [("background", scored(classifier, faint))]
    peak_3k = float(scored(classifier, faint).score_max[classifier.labels.index("tone_3k")])
    assert 0.3 < peak_3k < 0.8  # the faint tone sits inside the grid: a real choice

    chosen = tune_unheard_labels(classifier, BASE, streams, backgrounds)
    assert "tone_1k" not in chosen  # it has clips: tune_per_class decides for it
    lowest = (min(UNHEARD_GRID["threshold_on"]), min(UNHEARD_GRID["min_duration_s"]))
    six = chosen["tone_6k"]["settings"]
    assert (six["threshold_on"], six["min_duration_s"]) == lowest
    three = chosen["tone_3k"]["settings"]
    # below the faint tone's peak it would fire on the background: never chosen there
    assert three["threshold_on"] > peak_3k or three["min_duration_s"] > 0.0
    assert chosen["tone_3k"]["false"] == [0, 0]
    assert three["threshold_off"] == pytest.approx(three["threshold_on"] - 0.2)

