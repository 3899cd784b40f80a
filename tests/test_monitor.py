"""Monitor: the whole pipeline over real files (and a lossy source) with the test model."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile
from conftest import wait_until
from model_factory import make_test_model, scene, write_scene

from soundwatch.audio.files import END_SILENCE_S, FileSource
from soundwatch.audio.source import AudioSource
from soundwatch.clips import ClipWriter
from soundwatch.detect import DetectorSettings
from soundwatch.model import Classifier
from soundwatch.monitor import Monitor, MonitorListener
from soundwatch.store import EventStore

RATE = 16000
PARTS = [("silence", 1.0), ("tone_1k", 1.0), ("silence", 1.0), ("noise", 0.8), ("silence", 1.0),
         ("tone_3k", 0.8), ("silence", 0.7), ("tone_1k", 0.8), ("silence", 1.5)]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return Classifier(make_test_model(tmp_path_factory.mktemp("model") / "test.onnx"))


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory):
    return write_scene(tmp_path_factory.mktemp("audio") / "scene.wav", PARTS)


class Recorder(MonitorListener):
    def __init__(self):
        self.calls = []
        self.scores = 0
        self.stopped = threading.Event()

    def on_scores(self, scores, smoothed, end_sample):
        self.scores += 1

    def on_event_started(self, event):
        self.calls.append(("started", event))

    def on_event(self, event):
        self.calls.append(("ended", event))

    def on_gap(self, start_sample, n_samples):
        self.calls.append(("gap", (start_sample, n_samples)))

    def on_stop(self):
        self.stopped.set()


def run_file(path, classifier, **kwargs) -> tuple[Monitor, Recorder]:
    monitor = Monitor(FileSource(path, RATE, paced=False), classifier, **kwargs)
    recorder = Recorder()
    monitor.add_listener(recorder)
    monitor.start()
    assert monitor.wait(60)
    assert monitor.error is None
    return monitor, recorder


def test_events_match_the_truth_within_one_hop_plus_window(classifier, scene_file, tmp_path):
    path, truth = scene_file
    with EventStore(tmp_path / "events.sqlite") as store:
        monitor, recorder = run_file(path, classifier, store=store)
        ended = [e for kind, e in recorder.calls if kind == "ended"]
        assert [e.label for e in ended] == [label for label, _, _ in truth]
        tolerance_s = monitor.hop_s + classifier.window_s
        for event, (_, start_s, end_s) in zip(ended, truth, strict=True):
            assert abs(event.start_s - start_s) <= tolerance_s
            assert abs(event.end_s - end_s) <= tolerance_s
            assert event.peak > 0.9
        # every end was announced first, by the same event id
        started = [e.event_id for kind, e in recorder.calls if kind == "started"]
        assert started == [e.event_id for e in ended]
        assert recorder.stopped.is_set()
        assert recorder.scores == monitor.windows_scored
        audio_s = sum(d for _, d in PARTS) + END_SILENCE_S  # a file, then silence
        expected_windows = (audio_s * RATE - classifier.window_samples) // (monitor.hop_s * RATE)
        assert abs(monitor.windows_scored - (expected_windows + 1)) <= 1
        stored = store.recent_events(newest_first=False)
        assert [(e.label, e.start_s, e.end_s) for e in stored] == [
            (e.label, e.start_s, e.end_s) for e in ended]
        session = store.sessions()[0]
        assert session["ended_at"] is not None
        assert session["audio_s"] == pytest.approx(audio_s, abs=0.01)
        assert monitor.latest_embedding is not None and monitor.latest_embedding.shape == (64,)


def test_hop_override_changes_the_scoring_rate(classifier, scene_file):
    path, truth = scene_file
    monitor, recorder = run_file(path, classifier, settings=DetectorSettings(hop_s=0.25))
    assert monitor.hop_frames == 25
    ended = [e for kind, e in recorder.calls if kind == "ended"]
    assert [e.label for e in ended] == [label for label, _, _ in truth]


def test_watch_list_limits_the_events(classifier, scene_file):
    path, _ = scene_file
    monitor, recorder = run_file(path, classifier, settings=DetectorSettings(watch=("noise",)))
    assert {e.label for kind, e in recorder.calls if kind == "ended"} == {"noise"}
    assert monitor.event_counts == {"noise": 1}


def test_clips_are_cut_around_each_event(classifier, scene_file, tmp_path):
    path, truth = scene_file
    clips = ClipWriter(tmp_path / "clips", pre_roll_s=0.5, post_roll_s=0.25)
    with EventStore(tmp_path / "events.sqlite") as store:
        run_file(path, classifier, store=store, clips=clips)
        stored = store.recent_events(newest_first=False)
    assert len(stored) == len(truth)
    for event in stored:
        assert event.clip_path is not None
        audio, rate = soundfile.read(event.clip_path)
        assert rate == RATE
        wanted_s = min(event.end_s + 0.25, sum(d for _, d in PARTS)) - (event.start_s - 0.5)
        assert len(audio) / RATE == pytest.approx(wanted_s, abs=0.01)
        assert event.label.replace("_", "") in event.clip_path.replace("_", "")


class LossySource(AudioSource):
    """Plays a signal into a 1 s ring, but overwrites 1.5 s of it in one go at
    ``loss_at_s``, so the engine's reader really loses that audio."""

    name = "lossy"

    def __init__(self, signal: np.ndarray, loss_at_s: float):
        super().__init__(RATE, ring_seconds=1.0)
        self.signal = signal
        self.loss_at = int(loss_at_s * RATE)
        self._done = threading.Event()
        self._thread = None

    @property
    def finished(self):
        return self._done.is_set()

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is not None:
            self._thread.join(5)

    def _play(self):
        block = 320
        position = 0
        while position < len(self.signal):
            if position == self.loss_at:
                while self.ring.slowest_reader_lag() > 0:  # the reader is at loss_at
                    threading.Event().wait(0.001)
                self.ring.write(self.signal[position:position + int(2.5 * RATE)])
                position += int(2.5 * RATE)
                continue
            while self.ring.slowest_reader_lag() > RATE // 4:
                threading.Event().wait(0.001)
            limit = self.loss_at if position < self.loss_at else len(self.signal)
            end = min(position + block, limit)
            self.ring.write(self.signal[position:end])
            position = end
        self._done.set()


def test_a_gap_closes_open_events_and_is_recorded(classifier, tmp_path):
    # tone from 1 s to 2 s; the reader loses [1.5 s, 3.0 s); noise from 5 s to 6 s.
    signal, _ = scene([("silence", 1.0), ("tone_1k", 1.0), ("silence", 3.0), ("noise", 1.0),
                       ("silence", 1.0)])
    with EventStore(tmp_path / "events.sqlite") as store:
        settings = DetectorSettings(min_duration_s=0.1)  # the tone is cut to 0.5 s
        monitor = Monitor(LossySource(signal, loss_at_s=1.5), classifier, settings, store=store)
        recorder = Recorder()
        monitor.add_listener(recorder)
        monitor.start()
        assert monitor.wait(30) and monitor.error is None
        gaps = store.gaps()
        events = store.recent_events(newest_first=False)
    assert len(gaps) == 1
    assert gaps[0]["duration_s"] == pytest.approx(1.5, abs=0.01)
    assert gaps[0]["start_s"] == pytest.approx(1.5, abs=0.001)
    assert [e.label for e in events] == ["tone_1k", "noise"]
    tone_event, noise_event = events
    assert tone_event.end_s <= gaps[0]["start_s"] + 1e-6  # closed at the gap
    assert noise_event.start_s == pytest.approx(5.0, abs=monitor.hop_s + classifier.window_s)
    kinds = [kind for kind, _ in recorder.calls]
    assert kinds.index("gap") > kinds.index("ended")  # the tone ended before the gap notice


def test_a_fast_replay_never_stamps_an_event_in_the_future(classifier, scene_file):
    from datetime import datetime, timezone

    class Clock(MonitorListener):
        def __init__(self, monitor):
            self.monitor, self.seen = monitor, []

        def on_event(self, event):
            self.seen.append((self.monitor.wall_time(event.end_sample),
                              datetime.now(timezone.utc)))

    path, truth = scene_file
    monitor = Monitor(FileSource(path, RATE, paced=False), classifier)
    clock = Clock(monitor)
    monitor.add_listener(clock)
    monitor.start()
    assert monitor.wait(60)
    assert len(clock.seen) == len(truth)
    for stamped, delivered in clock.seen:
        assert stamped <= delivered


def test_two_replays_of_one_recording_at_its_own_start_time_are_two_alert_sessions(
        classifier, scene_file):
    """The alert session (the first part of every alert's id, which receivers and the hub
    deduplicate on) was the stream's start: two replays at one --start-time shared it, and
    the hub dropped the second one's events as copies of the first's."""
    import time
    from datetime import datetime, timezone

    from soundwatch.alerts.router import AlertRouter
    from soundwatch.alerts.rules import AlertPolicy
    from soundwatch.alerts.settings import AlertSettings

    path, _ = scene_file
    recorded = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
    sessions = []
    for _ in range(2):
        router = AlertRouter(AlertPolicy(AlertSettings(), classifier.labels), "attic", [])
        monitor = Monitor(FileSource(path, 16000, paced=False), classifier,
                          recording_start=recorded, alerts=router)
        monitor.start()
        assert monitor.wait(60)
        sessions.append(router.session)
        time.sleep(0.01)
    assert sessions[0] != sessions[1]
    assert monitor.wall_time(0) == recorded  # the events keep the recording's own times


def test_a_stop_mid_sound_marks_its_event_interrupted_and_a_files_end_does_not(
        classifier, tmp_path):
    """Stopped while a tone sounds (SIGTERM, Ctrl-C, a reboot), its event was stored as
    ended and people were told "tone ended" (helper-54): its end is not known."""
    path, _ = write_scene(tmp_path / "long_tone.wav", [("silence", 1.0), ("tone_1k", 20.0)])
    database = tmp_path / "e.sqlite"
    with EventStore(database) as store:
        monitor = Monitor(FileSource(path, RATE, paced=True), classifier, store=store)
        recorder = Recorder()
        monitor.add_listener(recorder)
        monitor.start()
        assert wait_until(lambda: [k for k, _ in recorder.calls] == ["started"], 20)
        monitor.stop()
        ended = [e for k, e in recorder.calls if k == "ended"]
        assert [(e.label, e.interrupted) for e in ended] == [("tone_1k", True)]
        stored, = store.recent_events()
        assert stored.interrupted and stored.end_s == pytest.approx(ended[0].end_s, abs=1e-3)
    # the same tone ending with its file is a sound that ended
    short, _ = write_scene(tmp_path / "short_tone.wav", [("silence", 1.0), ("tone_1k", 2.0)])
    monitor, recorder = run_file(short, classifier)
    assert [(e.label, e.interrupted) for k, e in recorder.calls if k == "ended"] == [
        ("tone_1k", False)]
