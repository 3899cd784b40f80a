"""Invariants that must hold for any input (hypothesis): the ring buffer, streaming
features, the event detector and the offline window scorer."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from soundwatch.audio.ring import RingBuffer
from soundwatch.detect import DetectorSettings, EventDetector
from soundwatch.features import FeatureExtractor, FeatureSpec, FeatureStream, compute_features

QUICK = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])

# -- ring buffer: delivered + lost = written, for any interleaving ------------------------

ring_steps = st.lists(st.one_of(
    st.tuples(st.just("write"), st.integers(0, 90)),
    st.tuples(st.just("gap"), st.integers(0, 90)),
    st.tuples(st.just("read"), st.integers(0, 1), st.integers(1, 60)),
), max_size=60)


@QUICK
@given(capacity=st.integers(1, 40), steps=ring_steps)
def test_ring_delivers_or_counts_every_sample_in_order(capacity, steps):
    ring = RingBuffer(capacity)
    readers = [ring.add_reader(), ring.add_reader()]
    got = [[], []]
    lost = [0, 0]
    gap_samples = set()
    written = 0

    def read(index, limit):
        samples, n_lost = readers[index].read(limit)
        got[index].append(samples)
        lost[index] += n_lost

    for step in steps:
        if step[0] == "write":
            # sample value = its absolute position (exact in float32 at these sizes)
            ring.write(np.arange(written, written + step[1], dtype=np.float32))
            written += step[1]
        elif step[0] == "gap":
            ring.write_gap(step[1])
            gap_samples.update(range(written, written + step[1]))
            written += step[1]
        else:
            read(step[1], step[2])
    for index in (0, 1):
        while readers[index].available:
            read(index, None)
        delivered = np.concatenate(got[index]) if got[index] else np.zeros(0)
        assert len(delivered) + lost[index] == written
        assert readers[index].samples_lost == lost[index]
        assert np.all(np.diff(delivered) > 0)  # oldest first, nothing twice
        assert not gap_samples & set(delivered.astype(int).tolist())  # gaps never delivered


# -- streaming features: any chunking gives the batch frames -----------------------------

SPEC = FeatureSpec()
EXTRACTOR = FeatureExtractor(SPEC)
SIGNAL = np.random.default_rng(7).standard_normal(6000).astype(np.float32) * 0.3
BATCH = compute_features(SIGNAL, SPEC, EXTRACTOR)


@QUICK
@given(cuts=st.lists(st.integers(0, len(SIGNAL)), max_size=25))
def test_any_chunking_gives_the_batch_frames_bit_for_bit(cuts):
    stream = FeatureStream(SPEC, EXTRACTOR)
    pieces = np.split(SIGNAL, sorted(cuts))
    frames = [stream.push(piece) for piece in pieces]
    np.testing.assert_array_equal(np.concatenate(frames), BATCH)
    assert stream.frames_emitted == len(BATCH)


# -- event detector: events never overlap per label, start <= end, hysteresis ------------

RATE, HOP = 16000, 1600

detector_settings = st.builds(
    lambda on, gap, hops, kind, min_s, merge_s, max_s, warm_s: DetectorSettings(
        threshold_on=on, threshold_off=max(0.0, on - gap), smoothing_hops=hops,
        smoothing=kind, min_duration_s=min_s, merge_gap_s=merge_s,
        max_duration_s=max(max_s, min_s, merge_s + 0.1), warmup_s=warm_s),
    st.floats(0.05, 1.0), st.floats(0.0, 0.5), st.integers(1, 4),
    st.sampled_from(["mean", "median"]), st.sampled_from([0.0, 0.1, 0.3]),
    st.sampled_from([0.0, 0.1, 0.4]), st.sampled_from([0.3, 1.0, 100.0]),
    st.sampled_from([0.0, 0.2]))
score_columns = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=120)


@QUICK
@given(config=detector_settings, columns=score_columns,
       window_hops=st.integers(1, 4))
@example(  # found by hypothesis: announced late, then split in the same update
    config=DetectorSettings(threshold_on=1.0, threshold_off=1.0, min_duration_s=0.1,
                            merge_gap_s=0.0, max_duration_s=0.3, warmup_s=0.0,
                            smoothing_hops=1),
    columns=[(0.0, 1.0), (0.0, 0.0), (0.0, 1.0)], window_hops=2)
@example(  # found by hypothesis: the end-of-stream drain carried it past max_duration_s
    config=DetectorSettings(threshold_on=0.5, threshold_off=0.0, smoothing="mean",
                            smoothing_hops=4, min_duration_s=0.0, merge_gap_s=0.0,
                            max_duration_s=0.3, warmup_s=0.0),
    columns=[(0.0, 0.0), (0.0, 1.0), (0.0, 0.0), (0.0, 0.0)], window_hops=1)
@example(  # found by hypothesis: a split whose first part was too short to keep
    config=DetectorSettings(threshold_on=1.0, threshold_off=1.0, smoothing_hops=1,
                            smoothing="mean", min_duration_s=0.1, merge_gap_s=0.0,
                            max_duration_s=0.3, warmup_s=0.0),
    columns=[(0.0, 1.0)], window_hops=4)
def test_detector_events_are_ordered_and_never_overlap(config, columns, window_hops):
    detector = EventDetector(["a", "b"], config, RATE, window_samples=window_hops * HOP)
    notices = []
    for i, column in enumerate(columns):
        notices += detector.update(np.array(column, np.float32), (i + window_hops) * HOP)
    notices += detector.flush((len(columns) + window_hops - 1) * HOP)
    started = {n.event_id: n for n in notices if n.ongoing}
    ended = [n for n in notices if not n.ongoing]
    assert len({e.event_id for e in ended}) == len(ended)
    assert set(started) == {e.event_id for e in ended}  # every end was announced
    position = {(n.event_id, n.ongoing): i for i, n in enumerate(notices)}
    assert all(position[(e.event_id, True)] < position[(e.event_id, False)] for e in ended)
    # a part marked to continue is continued, by its own label's next part
    continued = {(n.continued_from, n.label) for n in notices if n.continued_from is not None}
    assert all((e.event_id, e.label) in continued for e in ended if e.continues)
    assert not any(n.continues for n in notices if n.ongoing)
    for label in ("a", "b"):
        events = [e for e in ended if e.label == label]
        for event in events:
            assert 0 <= event.start_sample <= event.end_sample
            assert event.duration_s <= config.max_duration_s + 1e-9
            assert 0.0 <= event.mean <= event.peak <= 1.0
        for before, after in zip(events, events[1:], strict=False):
            assert after.start_sample >= before.end_sample


@QUICK
@given(values=st.lists(st.floats(0, 1), min_size=1, max_size=150),
       on=st.floats(0.1, 1.0), gap=st.floats(0.0, 0.5))
def test_detector_follows_hysteresis_exactly(values, on, gap):
    """Without smoothing, durations or merging, events are exactly the runs of the
    hysteresis rule: start at >= on, continue while >= off."""
    off = max(0.0, on - gap)
    config = DetectorSettings(threshold_on=on, threshold_off=off, smoothing_hops=1,
                              min_duration_s=0.0, merge_gap_s=0.0, max_duration_s=1e6,
                              warmup_s=0.0)
    detector = EventDetector(["a"], config, RATE, window_samples=HOP)
    notices = []
    for i, value in enumerate(values):
        notices += detector.update(np.array([value], np.float32), (i + 1) * HOP)
    notices += detector.flush(len(values) * HOP)
    found = [(e.start_sample // HOP, e.end_sample // HOP) for e in notices if not e.ongoing]

    expected, active, start = [], False, 0
    for i, value in enumerate(np.float32(values)):
        if not active and value >= np.float32(on):
            active, start = True, i
        elif active and value < np.float32(off):
            active = False
            expected.append((start, i))
    if active:
        expected.append((start, len(values)))
    assert found == expected
