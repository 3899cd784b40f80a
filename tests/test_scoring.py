"""The offline path (soundwatch.scoring) gives what the live Monitor gives on the same audio."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile
from model_factory import make_test_model, scene, write_scene

from soundwatch.audio.files import FileSource, load_audio, with_end_silence
from soundwatch.detect import DetectorSettings
from soundwatch.model import Classifier
from soundwatch.monitor import Monitor, MonitorListener
from soundwatch.scoring import detect_events, detect_stream, score_stream

RATE = 16000
PARTS = [("silence", 1.0), ("tone_1k", 1.0), ("silence", 1.0), ("noise", 0.8), ("silence", 0.3),
         ("tone_3k", 2.4), ("tone_1k", 0.8), ("silence", 0.4), ("noise", 1.2), ("silence", 1.0)]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return Classifier(make_test_model(tmp_path_factory.mktemp("model") / "test.onnx"))


class Collect(MonitorListener):
    def __init__(self):
        self.notices, self.scores, self.ends = [], [], []
        self.stopped = threading.Event()

    def on_scores(self, scores, smoothed, end_sample):
        self.scores.append(scores.copy())
        self.ends.append(end_sample)

    def on_event_started(self, event):
        self.notices.append(event)

    def on_event(self, event):
        self.notices.append(event)

    def on_stop(self):
        self.stopped.set()


@pytest.mark.parametrize("settings", [
    DetectorSettings(),
    DetectorSettings(hop_s=0.05, smoothing_hops=3, min_duration_s=0.2, merge_gap_s=0.3,
                     max_duration_s=1.0, warmup_s=0.0),
])
def test_offline_path_gives_the_monitors_scores_and_events(classifier, tmp_path, settings):
    path, _ = write_scene(tmp_path / "scene.wav", PARTS)
    monitor = Monitor(FileSource(path, RATE, paced=False), classifier, settings)
    live = Collect()
    monitor.add_listener(live)
    monitor.start()
    assert monitor.wait(60) and monitor.error is None

    signal, _ = load_audio(path, RATE)
    # a replay hears the file, then a second of silence (END_SILENCE_S)
    scored, events = detect_stream(with_end_silence([signal], RATE), classifier, settings)
    assert scored.end_samples.tolist() == live.ends
    np.testing.assert_allclose(scored.scores, np.stack(live.scores), rtol=1e-5, atol=1e-6)
    ended = [e for e in live.notices if not e.ongoing]
    assert len(ended) >= 4
    assert events == ended
    assert all(e.snr_db is not None for e in events)  # measured as the monitor does
    # detect_events sees scores only, no audio: the same events, without their levels,
    # spanning their windows; the measured ones span the tone within them.
    unmeasured = detect_events(classifier, scored, settings, with_started=True)
    assert [(e.label, e.event_id, e.ongoing, e.peak) for e in unmeasured] == [
        (e.label, e.event_id, e.ongoing, e.peak) for e in live.notices]
    assert all(e.snr_db is None for e in unmeasured)
    window = classifier.window_samples
    for windows, sound in zip(unmeasured, live.notices, strict=True):
        assert windows.start_sample <= sound.start_sample < windows.start_sample + window
        if not sound.ongoing:
            assert windows.end_sample - window < sound.end_sample <= windows.end_sample


def test_blocks_of_any_size_give_the_same_windows(classifier):
    signal, _ = scene(PARTS)
    whole = score_stream(signal, classifier)
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(len(signal), 40, replace=False))
    blocks = score_stream(iter(np.split(signal, cuts)), classifier)
    assert blocks.end_samples.tolist() == whole.end_samples.tolist()
    assert blocks.n_samples == whole.n_samples == len(signal)
    np.testing.assert_allclose(blocks.scores, whole.scores, rtol=1e-5, atol=1e-6)


def test_a_stream_shorter_than_a_window(classifier):
    short = np.zeros(classifier.window_samples // 2, np.float32)
    assert len(score_stream(short, classifier).scores) == 0
    padded = score_stream(short, classifier, pad_to_window=True)
    assert len(padded.scores) == 1 and padded.end_samples[0] == classifier.window_samples


def test_without_kept_windows_the_events_and_summaries_are_the_same(classifier):
    signal, _ = scene(PARTS)
    kept, events = detect_stream(signal, classifier)
    summary, same_events = detect_stream(iter([signal[:30000], signal[30000:]]), classifier,
                                         keep_windows=False)
    assert same_events == events and len(events) >= 4
    assert len(summary.scores) == 0 and summary.n_windows == len(kept.scores)
    np.testing.assert_allclose(summary.mean, kept.scores.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(summary.score_max, kept.scores.max(axis=0), rtol=1e-5, atol=1e-6)


def test_window_levels_are_the_mean_power_of_each_windows_audio(classifier):
    signal, _ = scene([("silence", 0.7), ("tone_1k", 0.6), ("silence", 1.2), ("noise", 0.5)])
    scored = score_stream(signal, classifier)
    assert len(scored.levels_dbfs) == scored.n_windows
    for start, end, level in zip(scored.start_samples, scored.end_samples,
                                 scored.levels_dbfs, strict=True):
        # whole 10 ms blocks only: the window's last partial block is left out
        whole = signal[start:start + (end - start) // 160 * 160].astype(np.float64)
        # (about the running mean: this zero-mean signal's blocks differ from it by less)
        assert level == pytest.approx(10 * np.log10(np.mean(whole ** 2)), abs=0.01)


def test_a_dc_offset_is_no_sound_to_the_levels(classifier):
    # a cheap input's offset (0.02, -34 dBFS) must not read as background noise: the
    # quiet windows would all become "active" and the SNR of every sound drop
    signal, _ = scene([("silence", 2.0), ("tone_1k", 0.6), ("silence", 3.0)])
    plain = score_stream(signal, classifier)
    offset = score_stream(signal + np.float32(0.02), classifier)
    settled = plain.end_samples > 16000  # the running mean needs its first second
    assert np.abs(offset.levels_dbfs - plain.levels_dbfs)[settled].max() < 0.5
    assert offset.levels_dbfs[settled].min() < -60  # silence stays silence


def test_the_active_mean_leaves_out_windows_far_below_the_loudest(classifier):
    """A short tone in a long near-silence: every window's mean dilutes it, the windows
    within ACTIVE_RANGE_DB of the loudest do not; fed whole or in odd blocks, the same."""
    from soundwatch.scoring import ACTIVE_RANGE_DB

    signal, _ = scene([("silence", 0.2), ("tone_1k", 0.6), ("silence", 6.0)])
    scored = score_stream(signal, classifier)
    tone = classifier.labels.index("tone_1k")
    active = scored.levels_dbfs >= scored.levels_dbfs.max() - ACTIVE_RANGE_DB
    assert 0 < active.sum() < scored.n_windows / 3
    assert scored.active_mean[tone] > 2 * scored.mean[tone]
    # within one LEVEL_BIN_DB bin of the exact selection
    assert scored.active_mean[tone] == pytest.approx(
        scored.scores[active, tone].mean(), abs=0.05)
    blocks = [signal[i:i + 999] for i in range(0, len(signal), 999)]
    again = score_stream(iter(blocks), classifier, keep_windows=False)
    assert again.levels_dbfs is None
    np.testing.assert_allclose(again.active_mean, scored.active_mean, atol=1e-6)


def test_clip_summary_accuracy_of_a_run_scores_its_clips_through_the_app_path(
        classifier, tmp_path):
    """Tone clips in long near-silence are labelled by their active windows; the figure
    is cached in the fold folder, and a fold without its model gives none."""
    import json
    import shutil

    import soundfile

    from soundwatch.train.clip_summary import CACHE_NAME, folds_active_accuracy

    run = tmp_path / "fold1"
    run.mkdir()
    shutil.copy(classifier.path, run / "model.onnx")
    files, targets = [], []
    for k, (kind, label) in enumerate([("tone_1k", "tone_1k"), ("tone_3k", "tone_3k")]):
        signal, _ = scene([("silence", 0.3), (kind, 0.6), ("silence", 4.0)])
        path = tmp_path / f"clip{k}.wav"
        soundfile.write(str(path), signal, RATE)
        files.append(str(path))
        targets.append(classifier.labels.index(label))
    np.savez(run / "test_scores.npz", files=np.array(files), targets=np.array(targets),
             competing=np.arange(len(classifier.labels)))
    gathered = folds_active_accuracy({1: run})
    assert gathered["folds_active_mean"] == {1: 1.0} and gathered["active_range_db"] == 10.0
    cached = json.loads((run / CACHE_NAME).read_text())
    assert cached["active_mean"] == 1.0 and cached["clips"] == 2
    (run / "model.onnx").unlink()  # the cache answers now
    assert folds_active_accuracy({1: run})["active_mean"] == 1.0
    (run / CACHE_NAME).unlink()
    assert folds_active_accuracy({1: run}) == {}  # no model, no figure


def test_a_dc_offset_changes_no_score_offline_or_live(tmp_path):
    """A cheap input's DC offset is no sound: through the shipped model's features it
    moved scores by up to 0.18 (a quiet dog bark lost its event). The engine (live) and
    score_stream (offline) both take it out before the features."""
    from soundwatch.model import shipped_model_path

    classifier = Classifier(shipped_model_path())
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 4) / 16000
    quiet = (0.01 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
             + 0.002 * rng.standard_normal(len(t))).astype(np.float32)
    offset = quiet + np.float32(0.05)
    clean_scores = score_stream(quiet, classifier).scores
    np.testing.assert_allclose(score_stream(offset, classifier).scores, clean_scores,
                               atol=1e-3)
    path = tmp_path / "offset.wav"
    soundfile.write(str(path), offset, 16000, subtype="FLOAT")
    live = []

    class Scores(MonitorListener):
        def on_scores(self, scores, smoothed, end_sample):
            live.append(np.array(scores))

    monitor = Monitor(FileSource(path, 16000, paced=False), classifier)
    monitor.add_listener(Scores())
    monitor.start()
    assert monitor.wait(60)
    # (the replay's last windows hear the silence after the file: END_SILENCE_S)
    np.testing.assert_allclose(np.array(live)[:len(clean_scores)], clean_scores, atol=1e-3)
