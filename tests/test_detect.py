"""EventDetector on synthetic score sequences: exact, hand-checkable timings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from soundwatch.detect import ClassSettings, DetectorSettings, Event, EventDetector
from soundwatch.errors import SoundwatchError

RATE = 16000
HOP = 1600  # 0.1 s per update
PLAIN = DetectorSettings(
    threshold_on=0.5, threshold_off=0.3, smoothing_hops=1, min_duration_s=0.0,
    merge_gap_s=0.0, max_duration_s=100.0, warmup_s=0.0,
)


def make(labels=("a",), settings=PLAIN, **kwargs) -> EventDetector:
    """A detector whose windows are one hop long: window i covers [i, i+1) * HOP when it
    ends at (i + 1) * HOP, so an event over hops i..j spans [i * HOP, (j + 1) * HOP)."""
    return EventDetector(list(labels), settings, RATE, window_samples=HOP, **kwargs)


def run(detector: EventDetector, columns: list[list[float]], flush: bool = True,
        first_end: int = HOP) -> list[Event]:
    """Feed one score vector per hop; window i ends at first_end + i * HOP."""
    notices = []
    end = first_end
    for column in columns:
        notices += detector.update(np.array(column, dtype=np.float32), end)
        end += HOP
    if flush:
        notices += detector.flush(end - HOP)
    return notices


def ended(notices: list[Event]) -> list[Event]:
    return [n for n in notices if not n.ongoing]


def one_class(values: list[float]) -> list[list[float]]:
    return [[v] for v in values]


def test_hysteresis_gives_exact_onset_and_offset():
    detector = make()
    # hop index:          0    1    2    3    4    5    6    7
    values = one_class([0.0, 0.6, 0.4, 0.35, 0.2, 0.45, 0.0, 0.0])
    events = ended(run(detector, values))
    assert len(events) == 1
    event = events[0]
    # on at hop 1 (0.6 >= 0.5); stays on through 0.4 and 0.35 (>= off 0.3); off at hop 4.
    assert event.start_sample == 1 * HOP and event.end_sample == 4 * HOP
    assert event.peak == pytest.approx(0.6)
    assert event.mean == pytest.approx((0.6 + 0.4 + 0.35) / 3)
    # 0.45 at hop 5 is above "off" but below "on": no new event.


def test_without_hysteresis_the_same_sequence_would_chatter():
    detector = make(settings=PLAIN.with_overrides(threshold_off=0.5))
    values = one_class([0.0, 0.6, 0.4, 0.6, 0.4, 0.6, 0.0])
    assert len(ended(run(detector, values))) == 3
    detector = make()
    assert len(ended(run(detector, values))) == 1


def test_started_notice_comes_at_onset_and_precedes_the_end():
    detector = make()
    notices = run(detector, one_class([0.0, 0.9, 0.9, 0.9, 0.0, 0.0]), flush=False)
    assert [n.ongoing for n in notices] == [True, False]
    started, finished = notices
    assert started.event_id == finished.event_id
    assert started.start_sample == finished.start_sample == 1 * HOP
    assert started.end_sample == 2 * HOP  # announced by the onset window (ends at 2 HOP)
    assert finished.end_sample == 4 * HOP


def test_started_notice_is_delivered_by_the_onset_update():
    detector = make()
    assert detector.update(np.array([0.1]), HOP) == []
    notices = detector.update(np.array([0.8]), 2 * HOP)
    assert len(notices) == 1 and notices[0].ongoing
    assert detector.active_labels == ["a"]


def test_min_duration_drops_short_events_and_delays_the_announcement():
    detector = make(settings=PLAIN.with_overrides(min_duration_s=0.25))
    # above for 2 hops (first to last window end: 0.1 s), then for 4 hops (0.3 s)
    values = one_class([0, 0.9, 0.9, 0, 0, 0.9, 0.9, 0.9, 0.9, 0, 0])
    notices = run(detector, values)
    events = ended(notices)
    assert len(events) == 1
    assert events[0].start_sample == 5 * HOP and events[0].duration_s == pytest.approx(0.4)
    started = [n for n in notices if n.ongoing]
    assert len(started) == 1
    # announced once above for 0.25 s: by the window of hop 8 (ends 0.3 s after hop 5's)
    assert started[0].end_sample == 9 * HOP


def test_threshold_sure_announces_at_once_and_keeps_a_short_sound():
    settings = PLAIN.with_overrides(min_duration_s=0.25, threshold_sure=0.85)
    # a 2-hop sound at 0.9 (too short for 0.25 s, but sure), a 2-hop one at 0.8 (neither),
    # and a 4-hop one that only reaches 0.9 in its third window
    values = one_class([0, 0.9, 0.9, 0, 0, 0.8, 0.8, 0, 0, 0.6, 0.7, 0.9, 0.7, 0, 0])
    notices = run(make(settings=settings), values)
    events = ended(notices)
    assert [(e.start_sample // HOP, e.end_sample // HOP) for e in events] == [(1, 3), (9, 13)]
    started = {n.start_sample // HOP: n.end_sample // HOP for n in notices if n.ongoing}
    # the first is announced by its first window; the last by the window that reached 0.9
    # (hop 11, 0.2 s after its first: before min_duration_s would have allowed)
    assert started == {1: 2, 9: 12}
    without = ended(run(make(settings=settings.with_overrides(threshold_sure=None)), values))
    assert [e.start_sample // HOP for e in without] == [9]


def test_threshold_sure_per_class_and_its_checks():
    settings = PLAIN.with_overrides(
        min_duration_s=0.5, threshold_sure=0.85,
        classes={"b": ClassSettings(threshold_sure=0.95), "c": ClassSettings(threshold_on=0.9)})
    detector = make(labels=("a", "b", "c"), settings=settings)
    events = ended(run(detector, [[0, 0, 0], [0.9, 0.9, 0.92], [0, 0, 0], [0, 0, 0]]))
    # "b" needs 0.95; "c" raised its threshold_on above the detector-wide sure threshold,
    # which turns sure off for it rather than making it fire below its own threshold_on
    assert [e.label for e in events] == ["a"]
    assert settings.class_sure("c") is None and settings.class_sure("b") == 0.95
    with pytest.raises(SoundwatchError, match="threshold_sure must be in"):
        PLAIN.with_overrides(threshold_sure=0.4)
    with pytest.raises(SoundwatchError, match="classes.b.threshold_sure"):
        PLAIN.with_overrides(classes={"b": ClassSettings(threshold_sure=1.5)})


def test_gap_merge_joins_events_separated_by_a_short_dip():
    detector = make(settings=PLAIN.with_overrides(merge_gap_s=0.25))
    # above 0.3 s, below 0.2 s (merged), above 0.2 s, below 0.4 s (not merged), above
    values = one_class([0, 0.9, 0.9, 0.9, 0, 0, 0.9, 0.9, 0, 0, 0, 0, 0.9, 0, 0, 0, 0])
    events = ended(run(detector, values))
    assert [(e.start_sample // HOP, e.end_sample // HOP) for e in events] == [(1, 8), (12, 13)]
    assert events[0].mean == pytest.approx(0.9)  # the dip is not averaged in


def test_merge_gap_delays_the_end_notice_by_at_most_the_gap():
    settings = PLAIN.with_overrides(merge_gap_s=0.25)
    notices = run(make(settings=settings), one_class([0.9, 0.9, 0, 0, 0, 0]), flush=False)
    finished = ended(notices)
    assert len(finished) == 1 and finished[0].end_sample == 2 * HOP
    # the end is known once a window starts more than 0.25 s after it: hop 5 (0.5 s)
    assert ended(run(make(settings=settings), one_class([0.9, 0.9, 0, 0, 0]),
                     flush=False)) == []


def test_max_duration_splits_a_long_event_into_continuations():
    detector = make(settings=PLAIN.with_overrides(max_duration_s=1.0))
    values = one_class([0.9] * 25 + [0.0])
    notices = run(detector, values)
    events = ended(notices)
    assert [round(e.duration_s, 3) for e in events] == [1.0, 1.0, 0.5]
    assert events[0].continued_from is None
    assert events[1].continued_from == events[0].event_id
    assert events[2].continued_from == events[1].event_id
    assert events[1].start_sample == events[0].end_sample
    starts = [n for n in notices if n.ongoing]
    assert [s.event_id for s in starts] == [e.event_id for e in events]


def test_an_event_of_exactly_max_duration_is_not_split_into_an_empty_continuation():
    detector = make(settings=PLAIN.with_overrides(max_duration_s=0.3))
    events = ended(run(detector, one_class([0.9] * 3 + [0.0] * 3)))
    assert [(e.start_sample // HOP, e.end_sample // HOP) for e in events] == [(0, 3)]
    # one window more: the continuation holds that window, with its score
    events = ended(run(make(settings=PLAIN.with_overrides(max_duration_s=0.3)),
                       one_class([0.9] * 3 + [0.8] + [0.0] * 3)))
    assert [(e.start_sample // HOP, e.end_sample // HOP) for e in events] == [(0, 3), (3, 4)]
    assert events[1].peak == pytest.approx(0.8) and events[1].mean == pytest.approx(0.8)


def test_warmup_suppresses_onsets_then_lets_a_lasting_sound_start():
    detector = make(settings=PLAIN.with_overrides(warmup_s=0.35))
    # high from the first hop; windows end at 0.1, 0.2, ... s; warm until 0.35 s
    events = ended(run(detector, one_class([0.9] * 6 + [0.0])))
    assert len(events) == 1
    assert events[0].start_sample == 3 * HOP  # the first window ending after 0.35 s


def test_warmup_restarts_after_reset():
    detector = make(settings=PLAIN.with_overrides(warmup_s=0.25))
    run(detector, one_class([0.0] * 5), flush=False)
    detector.flush(5 * HOP)
    detector.reset(10 * HOP)
    notices = run(detector, one_class([0.9] * 5 + [0.0]), first_end=11 * HOP)
    events = ended(notices)
    # warm until 12.5 HOP: the first window ending after that ends at 13 HOP
    assert len(events) == 1 and events[0].start_sample == 12 * HOP


def test_median_smoothing_ignores_a_single_hop_spike():
    detector = make(settings=PLAIN.with_overrides(smoothing="median", smoothing_hops=3))
    assert ended(run(detector, one_class([0, 0, 0.95, 0, 0, 0]))) == []
    detector = make(settings=PLAIN.with_overrides(smoothing="mean", smoothing_hops=3))
    assert ended(run(detector, one_class([0, 0, 0.95, 0.95, 0, 0, 0])))  # 0.63 mean


def test_smoothing_shifts_no_edge():
    """A median stands for its middle hop: the event covers exactly the loud hops 4..9."""
    detector = make(settings=PLAIN.with_overrides(smoothing="median", smoothing_hops=3))
    events = ended(run(detector, one_class([0] * 4 + [0.9] * 6 + [0] * 4)))
    assert len(events) == 1
    assert events[0].start_sample == 4 * HOP and events[0].end_sample == 10 * HOP


def test_an_event_spans_the_windows_that_detected_it():
    detector = EventDetector(["a"], PLAIN, RATE, window_samples=8000)
    events = ended(run(detector, one_class([0, 0, 0.9, 0.9, 0]), first_end=10 * HOP))
    # windows ending at 12 and 13 HOP were above: from 12 HOP - 0.5 s to 13 HOP
    assert events[0].start_sample == 12 * HOP - 8000
    assert events[0].end_sample == 13 * HOP


def test_overlapping_windows_bridge_a_one_hop_dip():
    """With 0.5 s windows every 0.1 s, a one-hop dip leaves the windows around it
    overlapping: one event, even without a merge gap."""
    detector = EventDetector(["a"], PLAIN, RATE, window_samples=8000)
    events = ended(run(detector, one_class([0] * 3 + [0.9] * 5 + [0] + [0.9] * 5 + [0] * 12),
                       first_end=10 * HOP))
    assert len(events) == 1


def test_flush_closes_an_open_event_at_the_last_audio_seen():
    detector = make()
    notices = run(detector, one_class([0, 0.9, 0.9, 0.9]), flush=False)
    assert ended(notices) == []
    closing = detector.flush(10 * HOP)
    assert len(closing) == 1 and not closing[0].ongoing
    assert closing[0].start_sample == 1 * HOP and closing[0].end_sample == 4 * HOP
    assert detector.flush(11 * HOP) == []


def test_flush_keeps_the_windows_still_in_the_smoothing_buffer():
    detector = make(settings=PLAIN.with_overrides(smoothing="median", smoothing_hops=3))
    assert ended(run(detector, one_class([0, 0, 0.9, 0.9, 0.9]), flush=False)) == []
    [closing] = ended(detector.flush(5 * HOP))
    # the smoothed values reached hop 3 only; the flush adds hop 4, still above "off"
    assert (closing.start_sample, closing.end_sample) == (2 * HOP, 5 * HOP)


def test_classes_are_independent_and_notices_are_time_ordered():
    detector = make(("a", "b"))
    columns = [[0, 0], [0.9, 0], [0.9, 0.9], [0, 0.9], [0, 0.9], [0, 0]]
    notices = run(detector, columns)
    assert [(n.label, n.ongoing) for n in notices] == [
        ("a", True), ("b", True), ("a", False), ("b", False)]
    assert [n.end_sample for n in notices] == sorted(n.end_sample for n in notices)


def test_per_class_thresholds_override_the_defaults():
    settings = PLAIN.with_overrides(classes={"b": ClassSettings(threshold_on=0.8)})
    detector = EventDetector(["a", "b"], settings, RATE)
    events = ended(run(detector, [[0, 0], [0.7, 0.7], [0.7, 0.7], [0, 0]]))
    assert [e.label for e in events] == ["a"]
    assert settings.class_values("b") == (0.8, 0.3, 0.0)


def test_watch_and_ignore_lists_and_background_labels():
    columns = [[0, 0, 0], [0.9, 0.9, 0.9], [0.0, 0.0, 0.0]]
    labels = ["a", "b", "silence"]
    detector = EventDetector(labels, PLAIN, RATE, background_labels=("silence",))
    assert {e.label for e in ended(run(detector, columns))} == {"a", "b"}
    detector = EventDetector(labels, PLAIN.with_overrides(watch=("b",)), RATE)
    assert {e.label for e in ended(run(detector, columns))} == {"b"}
    detector = EventDetector(labels, PLAIN.with_overrides(ignore=("a",)), RATE)
    assert {e.label for e in ended(run(detector, columns))} == {"b", "silence"}
    detector = EventDetector(labels, PLAIN.with_overrides(watch=("silence",)), RATE,
                             background_labels=("silence",))
    assert {e.label for e in ended(run(detector, columns))} == {"silence"}


def test_unwatching_a_label_mid_event_ends_that_event_instead_of_losing_it():
    detector = make(labels=("a", "b"))
    notices = run(detector, [[0, 0], [0.9, 0.9], [0.9, 0.9]], flush=False)
    assert sorted(n.label for n in notices if n.ongoing) == ["a", "b"]
    detector.set_settings(PLAIN.with_overrides(watch=("b",)))
    notices = detector.update(np.array([0.9, 0.9], dtype=np.float32), 4 * HOP)
    assert [(e.label, e.ongoing, e.start_sample, e.end_sample) for e in notices] == [
        ("a", False, 1 * HOP, 3 * HOP)]
    later = run(detector, [[0.9, 0.9], [0.0, 0.0]], first_end=5 * HOP)
    assert [e.label for e in ended(later)] == ["b"]


def test_unknown_labels_in_settings_are_refused_with_the_model_labels():
    with pytest.raises(SoundwatchError, match=r"'dgo' in the watch list.*dog"):
        EventDetector(["dog", "cat"], PLAIN.with_overrides(watch=("dgo",)), RATE)


@pytest.mark.parametrize("change, key", [
    ({"threshold_on": 1.2}, "threshold_on"),
    ({"threshold_off": -0.1}, "threshold_off"),
    ({"threshold_on": 0.3, "threshold_off": 0.5}, "must not exceed"),
    ({"smoothing_hops": 0}, "smoothing_hops"),
    ({"smoothing": "gauss"}, "smoothing"),
    ({"min_duration_s": 5.0, "max_duration_s": 1.0}, "min_duration_s"),
    ({"classes": {"a": ClassSettings(threshold_on=2.0)}}, "classes.a.threshold_on"),
])
def test_invalid_settings_are_refused_naming_the_key(change, key):
    with pytest.raises(SoundwatchError, match=key):
        PLAIN.with_overrides(**change)


def test_settings_can_be_retuned_live_without_losing_the_event():
    detector = make()
    notices = run(detector, one_class([0.9, 0.9]), flush=False)
    detector.set_settings(PLAIN.with_overrides(threshold_on=0.7, threshold_off=0.6))
    notices += run(detector, one_class([0.5, 0.0]), first_end=3 * HOP)
    events = ended(notices)
    # 0.5 is above the old "off" but below the new one: the event ended with hop 1
    assert len(events) == 1 and events[0].end_sample == 2 * HOP


def test_random_sequences_keep_the_invariants():
    rng = np.random.default_rng(3)
    noise = rng.random(600)
    values = np.clip(np.convolve(noise, np.ones(8) / 8, mode="same") * 1.6 - 0.3, 0, 1)
    settings = DetectorSettings(threshold_on=0.7, threshold_off=0.5, smoothing_hops=3,
                                min_duration_s=0.2, merge_gap_s=0.3, max_duration_s=2.0,
                                warmup_s=0.3)
    notices = run(EventDetector(["a"], settings, RATE, window_samples=4800), one_class(values))
    events = ended(notices)
    assert len(events) >= 3
    starts = [n for n in notices if n.ongoing]
    assert [s.event_id for s in starts] == [e.event_id for e in events]  # one start per end
    for event in events:
        assert event.duration_s <= settings.max_duration_s + 1e-9
        if event.continued_from is None:  # the tail of a split event may be short
            assert event.duration_s >= settings.min_duration_s
        assert 0.0 <= event.mean <= event.peak <= 1.0
    for before, after in zip(events, events[1:], strict=False):
        assert after.start_sample >= before.end_sample  # one class: never overlapping
        if after.continued_from is None:  # separate events are further apart than the gap
            assert after.start_sample - before.end_sample > settings.merge_gap_s * RATE


def test_unknown_labels_in_settings_get_close_names_and_the_full_list():
    labels = ["speech", "smoke_alarm", "dog"] + [f"label_{i}" for i in range(70)]
    with pytest.raises(SoundwatchError) as caught:
        EventDetector(labels, DetectorSettings(watch=("smoke_alrm", "Speech")))
    text = str(caught.value)
    assert "did you mean 'smoke_alarm'?" in text and "did you mean 'speech'?" in text
    assert "--watch" in text and "label_69" in text  # the whole list, not cut
    with pytest.raises(SoundwatchError) as caught:  # where each one is named
        EventDetector(labels, DetectorSettings(ignore=("dgo",),
                                               classes={"dgo": ClassSettings(), "cat": ClassSettings()}))
    text = str(caught.value)
    assert "'dgo' in the ignore list (--ignore, [detection] ignore) and " \
           '[detection.classes."dgo"] in the config file (did you mean \'dog\'?)' in text
    assert "'cat' in [detection.classes.\"cat\"] in the config file" in text


def test_an_unknown_watched_label_is_named_among_all_the_labels_known_here():
    """The labels known include your sounds and `unusual`: the error called them all
    "the model's labels" (helper-46)."""
    labels = ("dog", "siren", "my chime", "unusual")
    with pytest.raises(SoundwatchError) as caught:
        EventDetector(labels, DetectorSettings(watch=("my chme",)))
    text = str(caught.value)
    assert "not known here (the model's, your sounds, unusual)" in text
    assert "'my chme' in the watch list" in text and "did you mean 'my chime'" in text
    assert text.endswith("The labels known: dog, siren, my chime, unusual")


def test_event_ids_count_only_the_events_announced():
    """A candidate too short to be an event took a number: a replay's events were 1, 2,
    3, 5, and receivers deduplicating on ids saw a gap, as if an alert were lost
    (helper-48)."""
    detector = make(("a",), replace(PLAIN, min_duration_s=0.3))
    hop_s = HOP / RATE
    scores = [0.0] * 5 + [0.9] * 8 + [0.0] * 5 + [0.9] * 1 + [0.0] * 5 + [0.9] * 8 + [0.0] * 5
    notices = []
    for i, score in enumerate(scores):
        notices += detector.update(np.array([score], np.float32), int((i + 1) * HOP))
    notices += detector.flush(int((len(scores) + 1) * HOP))
    ended = [n for n in notices if not n.ongoing]
    assert len(ended) == 2, (hop_s, notices)
    assert [n.event_id for n in ended] == [1, 2]
    assert [n.event_id for n in notices if n.ongoing] == [1, 2]
