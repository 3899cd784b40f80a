"""Event-level evaluation (recall, latency, false events) with the analytic test model.

The test model's band labels fire once a tone fills about a third of its 0.5 s window, so
recall, the sign and size of the latency, and what counts as a false event are known.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from soundwatch.detect import DetectorSettings
from soundwatch.errors import SoundwatchError
from soundwatch.model import Classifier
from soundwatch.train.event_eval import (
    dcase_report,
    event_stream_report,
    match_events,
    onset_and_end_s,
    place_clips,
    quiet_bed,
    stream_length,
)
from tests.model_factory import make_test_model, noise_burst, silence, tone

RATE = 16000
SETTINGS = DetectorSettings(threshold_on=0.5, threshold_off=0.4, min_duration_s=0.0,
                            merge_gap_s=0.25, warmup_s=0.0)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = make_test_model(tmp_path_factory.mktemp("model") / "m.onnx")
    return Classifier(path, threads=1)


def with_silence(clip: np.ndarray, before_s: float) -> np.ndarray:
    return np.concatenate([silence(before_s), clip, silence(0.5)])


def test_onset_skips_the_clips_own_silence():
    clip = with_silence(tone(1000, 1.0), before_s=0.7)
    onset, end = onset_and_end_s(clip, RATE)
    assert onset == pytest.approx(0.7, abs=0.011)
    assert end == pytest.approx(1.7, abs=0.011)


def test_tones_are_found_with_positive_latency_and_nothing_false(classifier):
    clips = [("tone_1k", f"a{i}", with_silence(tone(1000, 1.5), 0.4)) for i in range(3)]
    clips += [("tone_3k", f"b{i}", with_silence(tone(3000, 1.5), 0.2)) for i in range(2)]
    report = event_stream_report(classifier, clips, quiet_bed(stream_length(clips, RATE)),
                                 SETTINGS)
    assert report["clips"] == 5 and report["recall"] == 1.0
    assert report["per_label_recall"] == {"tone_1k": 1.0, "tone_3k": 1.0}
    assert report["false_events"] == 0
    # A third of the 0.5 s window must be tone: the notice comes ~0.17 s after the onset,
    # give or take a hop (0.1 s).
    assert 0.0 < report["latency_p50_s"] < 0.4
    assert report["latency_p95_s"] >= report["latency_p50_s"]


def test_a_wrong_label_is_a_miss_and_a_false_event(classifier):
    # The clip says tone_3k but sounds like tone_1k.
    clips = [("tone_3k", "liar", with_silence(tone(1000, 1.5), 0.3))]
    report = event_stream_report(classifier, clips, quiet_bed(stream_length(clips, RATE)),
                                 SETTINGS)
    assert report["recall"] == 0.0
    assert report["false_events"] == 1 and report["false_labels"] == {"tone_1k": 1}
    assert report["latency_p50_s"] is None


def test_noise_between_clips_counts_as_false(classifier):
    clips = [("tone_1k", "t", with_silence(tone(1000, 1.0), 0.2)),
             ("noise", "n", noise_burst(1.0))]
    signal, truth = place_clips(clips, quiet_bed(stream_length(clips, RATE)), RATE)
    assert [t.label for t in truth] == ["tone_1k", "noise"]
    assert truth[1].onset_s == pytest.approx(3.0 + 1.7 + 3.0, abs=0.02)
    from soundwatch.train.event_eval import detect_with_notices

    events, notices = detect_with_notices(classifier, signal, SETTINGS)
    result = match_events(events, notices, truth[:1])  # as if the noise were unlabelled
    assert result["found"] == [True]
    assert [e.label for e in result["false_events"]] == ["noise"]


def test_dcase_segments_by_ratio_and_class(tmp_path, classifier, monkeypatch):
    import soundwatch.train.event_eval as event_eval

    monkeypatch.setitem(event_eval.DCASE_LABELS, "phone", "tone_1k")
    monkeypatch.setitem(event_eval.DCASE_LABELS, "knock", "tone_3k")
    for ebr in (-6, 6):
        for k in range(2):
            stem = f"dev_1_ebr_{ebr}_nec_1_poly_0"
            soundfile.write(str(tmp_path / f"{stem}_phone_{k:02d}.flac"),
                            tone(1000, 0.8), RATE)
            soundfile.write(str(tmp_path / f"{stem}_knock_{k:02d}.flac"),  # mislabelled
                            tone(1000, 0.8), RATE)
            soundfile.write(str(tmp_path / f"{stem}_pageturn_{k:02d}.flac"),
                            tone(1000, 0.8), RATE)
    report = dcase_report(classifier, tmp_path, SETTINGS)
    assert report["not_covered"] == {"pageturn": 4}
    assert report["per_label_recall"] == {"tone_1k": 1.0, "tone_3k": 0.0}
    assert report["recall"] == 0.5
    assert report["ebr_-6_db"]["segments"] == 4 and report["ebr_6_db"]["recall"] == 0.5
    with pytest.raises(SoundwatchError, match="no DCASE 2016 segments"):
        dcase_report(classifier, tmp_path / "empty")


def test_a_short_excerpt_is_the_loudest_sound_alone_and_at_most_a_second_long():
    from soundwatch.train.event_eval import short_excerpt

    knock, faint = tone(1000, 0.3), 0.05 * tone(1000, 0.2)
    clip = np.concatenate([silence(0.6), knock, silence(0.8), faint, silence(0.5)])
    excerpt = short_excerpt(clip, RATE)
    assert len(excerpt) / RATE == pytest.approx(0.3, abs=0.021)
    assert np.abs(excerpt).max() > 0.2  # the loud sound, not the faint one
    assert abs(excerpt[0]) < 0.01 and abs(excerpt[-1]) < 0.01  # faded, no click
    hum = tone(500, 3.0)
    assert len(short_excerpt(hum, RATE)) == RATE  # a long sound: one second of it


def test_short_sounds_in_noise_are_reported_per_event_to_background_ratio(classifier):
    from soundwatch.train.event_eval import NOISY_BED_DBFS, short_event_report

    clips = [("tone_1k", f"k{i}", with_silence(tone(1000, 0.4), 0.5)) for i in range(4)]
    hiss = np.random.default_rng(0).standard_normal(10 * RATE).astype(np.float32)
    report = short_event_report(classifier, clips, hiss, SETTINGS, ebrs_db=(0.0, 20.0))
    assert {"ebr_0_db", "ebr_20_db", "recall", "latency_p50_s"} <= set(report)
    assert report["ebr_20_db"]["clips"] == 4 and report["ebr_20_db"]["recall"] == 1.0
    # The test model's tone label needs the tone to own its band's share of the energy;
    # at the noise's own RMS the white noise holds most of it: the ratio is applied.
    assert report["ebr_0_db"]["recall"] == 0.0
    assert report["clips"] == 8 and report["recall"] == 0.5
    assert report["false_events"] == (report["ebr_0_db"]["false_events"]
                                      + report["ebr_20_db"]["false_events"])
    assert NOISY_BED_DBFS == -35.0


def test_the_far_room_is_the_quiet_room_with_every_clip_20_db_quieter(classifier,
                                                                      monkeypatch):
    import soundwatch.train.event_eval as event_eval

    clips = [("tone_1k", f"k{i}", with_silence(tone(1000, 1.0), 0.3)) for i in range(2)]
    hiss = np.random.default_rng(1).standard_normal(10 * RATE).astype(np.float32)
    report = event_eval.fold_event_report(classifier, clips, hiss, SETTINGS)
    assert tuple(report) == event_eval.EVENT_ROOMS
    assert report["far"]["clips"] == 2 and report["far"]["recall"] == 1.0

    heard = []

    def spy(classifier, clips, bed, settings=None):
        heard.append((clips, bed))
        return {}

    monkeypatch.setattr(event_eval, "event_stream_report", spy)
    monkeypatch.setattr(event_eval, "short_event_report", lambda *a, **k: {})
    event_eval.fold_event_report(classifier, clips, hiss, SETTINGS)
    (quiet, quiet_bed_), _, (far, far_bed) = heard
    np.testing.assert_array_equal(quiet_bed_, far_bed)  # the same room
    for (_, _, loud), (_, _, faint) in zip(quiet, far, strict=True):
        ratio_db = 20 * np.log10(np.abs(faint).max() / np.abs(loud).max())
        assert ratio_db == pytest.approx(event_eval.FAR_GAIN_DB, abs=0.01)
    assert event_eval.FAR_GAIN_DB == -20.0


def test_dcase_segments_sit_in_near_silence_not_in_a_second_noise(tmp_path, classifier,
                                                                  monkeypatch):
    import soundwatch.train.event_eval as event_eval

    beds = []
    real_place = event_eval.place_clips
    monkeypatch.setattr(event_eval, "place_clips",
                        lambda clips, bed, rate: beds.append(bed) or real_place(clips, bed,
                                                                                rate))
    soundfile.write(str(tmp_path / "dev_1_ebr_0_nec_1_poly_0_phone_00.flac"),
                    tone(1000, 0.8), RATE)
    monkeypatch.setitem(event_eval.DCASE_LABELS, "phone", "tone_1k")
    dcase_report(classifier, tmp_path, SETTINGS)
    bed_dbfs = 10 * np.log10(np.mean(np.square(beds[0], dtype=np.float64)))
    assert bed_dbfs == pytest.approx(event_eval.DCASE_BED_DBFS, abs=0.5)
    assert event_eval.DCASE_BED_DBFS <= -80.0  # far below the segments' own -55 dBFS
