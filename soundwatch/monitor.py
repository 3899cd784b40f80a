"""The monitoring pipeline: engine -> windows -> classifier -> detector -> store, clips, listeners.

:class:`Monitor` adds one sink to an :class:`~soundwatch.engine.Engine`. That sink keeps
the newest feature frames, scores one window every hop (windows that arrive together are
scored in one batch), feeds the :class:`~soundwatch.detect.EventDetector`, commits every
finished event to the :class:`~soundwatch.store.EventStore` at once, queues its clip with
the :class:`~soundwatch.clips.ClipWriter`, and tells the listeners.

Threads: everything below runs on the engine worker thread, listeners included. A
listener must be quick and must not touch GUI widgets (hand data to the GUI through a
mailbox or a Qt signal). ``start``/``stop``/``wait`` are called from the owner's thread.

Order of side effects for a finished event: the store commit comes first, then the
listeners, so anything a listener prints is already on disk. With ``alerts``, the event's
alert rows go into the outbox in that same commit (a started event's rows in their own
commit, before the listeners hear of it); delivery threads send them (see
:mod:`soundwatch.alerts.outbox`), so nothing here waits for a network.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np

from soundwatch.audio.source import AudioSource
from soundwatch.clips import ClipWriter, clip_name
from soundwatch.detect import DetectorSettings, Event
from soundwatch.engine import Engine, EngineSink
from soundwatch.model import Classifier
from soundwatch.scoring import WindowScorer, new_detector
from soundwatch.store import EventStore

log = logging.getLogger(__name__)


class MonitorListener:
    """Receives the monitor's output on the engine worker thread. Override what you need."""

    def on_frames(self, frames: np.ndarray, first_sample: int) -> None:
        """New feature frames, (n, n_features) float32, as the engine produced them."""

    def on_scores(self, scores: np.ndarray, smoothed: np.ndarray, end_sample: int) -> None:
        """One scored window: raw and smoothed (n_labels,) scores; the window ends at
        ``end_sample`` on the stream clock."""

    def on_event_started(self, event: Event) -> None:
        """An event was confirmed (``event.ongoing`` is True; its end is not known yet)."""

    def on_event(self, event: Event) -> None:
        """An event finished; it is already in the store."""

    def on_gap(self, start_sample: int, n_samples: int) -> None:
        """Audio was lost (overrun, device gone); open events were closed at its start."""

    def on_stop(self) -> None:
        """The stream ended; every event has been delivered."""


class Monitor:
    """Runs a classifier and an event detector over a source.

    Args:
        source: the audio source (microphone or file); the engine starts and stops it.
        classifier: the loaded model; it sets the feature spec, window and labels.
        settings: detection settings (``hop_s`` None: the model's hop).
        store: where finished events, gaps and the session go (optional).
        clips: writes a clip per finished event (optional).
        session_info: extra facts recorded with the session's settings (e.g. the config
            file path).
        alerts: turns events into outbox rows (an
            :class:`~soundwatch.alerts.router.AlertRouter`; optional, needs ``store``). A
            finished event's rows are committed in the same transaction as the event.
    """

    def __init__(
        self,
        source: AudioSource,
        classifier: Classifier,
        settings: DetectorSettings | None = None,
        store: EventStore | None = None,
        clips: ClipWriter | None = None,
        session_info: dict | None = None,
        alerts=None,
    ):
        self.source = source
        self.classifier = classifier
        self.settings = (settings or DetectorSettings()).validate()
        self.store = store
        self.clips = clips
        self.session_info = dict(session_info or {})
        self.alerts = alerts
        self.hop_frames = classifier.hop_frames_for(self.settings.hop_s)
        self.detector = new_detector(classifier, self.settings)
        self.engine = Engine(source, classifier.spec, [_ScoringSink(self)])
        self.listeners: list[MonitorListener] = []
        self.session_id: int | None = None
        # UTC wall clock at stream sample 0: set by start(), pinned when audio first arrives
        self.started_at: datetime | None = None
        self.event_counts: Counter[str] = Counter()
        self.gaps: list[tuple[int, int]] = []  # (start_sample, n_samples)
        self.windows_scored = 0
        self.store_errors = 0
        self.latest_scores = np.zeros(len(classifier.labels), dtype=np.float32)
        self.latest_smoothed = np.zeros(len(classifier.labels), dtype=np.float32)
        self.latest_embedding: np.ndarray | None = None

    @property
    def sample_rate_hz(self) -> int:
        return self.classifier.sample_rate_hz

    @property
    def hop_s(self) -> float:
        return self.hop_frames * self.classifier.spec.hop_s

    @property
    def running(self) -> bool:
        return self.engine.running

    @property
    def error(self) -> BaseException | None:
        return self.engine.error

    def add_listener(self, listener: MonitorListener) -> None:
        self.listeners.append(listener)

    def start(self) -> None:
        """Open the store session and start the engine (and so the source)."""
        self.started_at = datetime.now(timezone.utc)
        if self.store is not None:
            record = {"detection": self.settings.to_dict(), "hop_frames": self.hop_frames,
                      **self.session_info}
            self.session_id = self.store.start_session(
                source=self.source.name, model=str(self.classifier.path),
                sample_rate_hz=self.sample_rate_hz,
                model_version=self.classifier.metadata.model_version,
                settings=record, started_at=self.started_at,
            )
        if self.alerts is not None:
            # The start time in ms keys the session: unique per node even if its database
            # is replaced, so receivers can deduplicate alerts on (node, session, event id).
            self.alerts.on_session(self.started_at.strftime("%Y%m%dT%H%M%S%f")[:-3],
                                   self.wall_time)
        self.engine.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop capture; events in progress are closed and stored before this returns."""
        self.engine.stop(timeout_s)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the stream ends (file finished, or stop()); True if it has."""
        return self.engine.wait(timeout_s)

    def wall_time(self, sample: int) -> datetime:
        """UTC wall-clock time of a stream-clock sample."""
        started = self.started_at or datetime.now(timezone.utc)
        return started + timedelta(seconds=sample / self.sample_rate_hz)

    # -- worker thread -------------------------------------------------------------------

    def _align_wall_clock(self) -> None:
        """Pin stream sample 0 to the wall clock when the first audio arrives: a microphone
        may deliver its first block seconds after start(), and event times must not carry
        that delay."""
        seconds = self.engine.position / self.sample_rate_hz + self.engine.stats.lag_s
        self.started_at = datetime.now(timezone.utc) - timedelta(seconds=seconds)
        if self.store is not None and self.session_id is not None:
            try:
                self.store.set_session_start(self.session_id, self.started_at)
            except Exception as exc:
                log.error("could not update the session start: %s", exc)

    def _notify(self, method: str, *args) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, method)(*args)
            except Exception:
                log.exception("listener %r failed in %s", listener, method)

    def _queue_alerts(self, rows: list) -> None:
        """Commit alert rows of a started event (their own transaction)."""
        if not rows or self.store is None:
            return
        try:
            self.store.add_outbox(rows)
        except Exception as exc:
            self.store_errors += 1
            log.error("could not queue %d alert(s): %s", len(rows), exc)
            return
        self.alerts.queued()

    def _alert_rows(self, event: Event) -> list:
        """The alert rows of a finished event (its clip's path, if clips are on)."""
        if self.alerts is None:
            return []
        clip = None
        if self.clips is not None:
            clip = str(self.clips.directory / clip_name(self.wall_time(event.start_sample),
                                                        event))
        return self._alert_call("finished", event, clip)

    def _alert_call(self, method: str, *args) -> list:
        """Rows from the alert router; a failing rule never stops monitoring."""
        try:
            return getattr(self.alerts, method)(*args)
        except Exception:
            log.exception("alert rules failed in %s", method)
            return []

    def _deliver(self, notices: list[Event]) -> None:
        for event in notices:
            if event.ongoing:
                if self.alerts is not None:
                    self._queue_alerts(self._alert_call("started", event))
                self._notify("on_event_started", event)
                continue
            row_id = None
            rows = self._alert_rows(event)
            if self.store is not None and self.session_id is not None:
                try:
                    row_id = (self.store.add_event_with_outbox(event, self.session_id, rows)
                              if rows else self.store.add_event(event, self.session_id))
                except Exception as exc:  # a full disk must not stop monitoring
                    self.store_errors += 1
                    log.error("could not store event %s at %.2f s: %s", event.label,
                              event.start_s, exc)
            if self.clips is not None:
                self.clips.request(event, row_id, self.wall_time(event.start_sample))
            if rows and row_id is not None:
                self.alerts.queued()
            self.event_counts[event.label] += 1
            self._notify("on_event", event)

    def _write_clips(self, final: bool = False) -> None:
        if self.clips is None:
            return
        for result in self.clips.poll(self.engine.audio, final=final):
            if self.store is None:
                continue
            try:
                if result.path is not None and result.row_id is not None:
                    self.store.set_clip_path(result.row_id, str(result.path))
                self.store.forget_clips([str(p) for p in result.deleted])
            except Exception as exc:
                self.store_errors += 1
                log.error("could not record clip %s: %s", result.path, exc)

    def _scored(self, scores: np.ndarray, embedding: np.ndarray | None,
                end_samples: list[int]) -> None:
        for index, end_sample in enumerate(end_samples):
            notices = self.detector.update(scores[index], end_sample)
            self.windows_scored += 1
            self.latest_scores = scores[index]
            self.latest_smoothed = self.detector.smoothed
            if embedding is not None:
                self.latest_embedding = embedding[index]
            self._notify("on_scores", scores[index], self.detector.smoothed, end_sample)
            if self.alerts is not None:
                self._queue_alerts(self._alert_call("scored", scores[index], end_sample))
            self._deliver(notices)

    def _gap(self, start_sample: int, n_samples: int) -> None:
        self._deliver(self.detector.flush(start_sample))
        self.detector.reset(start_sample + n_samples)
        self.gaps.append((start_sample, n_samples))
        if self.store is not None and self.session_id is not None:
            try:
                self.store.add_gap(self.session_id, start_sample / self.sample_rate_hz,
                                   n_samples / self.sample_rate_hz,
                                   self.source.error or "audio lost (device gone or overrun)")
            except Exception as exc:
                self.store_errors += 1
                log.error("could not store a gap: %s", exc)
        self._notify("on_gap", start_sample, n_samples)

    def _stopped(self, end_sample: int) -> None:
        self._deliver(self.detector.flush(end_sample))
        self._write_clips(final=True)
        if self.store is not None and self.session_id is not None:
            try:
                self.store.end_session(self.session_id, end_sample / self.sample_rate_hz)
            except Exception as exc:
                log.error("could not close the session in the store: %s", exc)
        self._notify("on_stop")


class _ScoringSink(EngineSink):
    """Hands the engine's frames to a :class:`WindowScorer` and the scores to the monitor."""

    def __init__(self, monitor: Monitor):
        self.monitor = monitor
        self.scorer = WindowScorer(monitor.classifier, monitor.hop_frames)
        self._clock_aligned = False

    def on_start(self, engine: Engine) -> None:
        self.scorer.reset()
        self.monitor.detector.reset(engine.position)

    def on_frames(self, frames: np.ndarray, first_sample: int) -> None:
        monitor = self.monitor
        if not self._clock_aligned:
            monitor._align_wall_clock()
            self._clock_aligned = True
        monitor._notify("on_frames", frames, first_sample)
        scores, embedding, end_samples = self.scorer.push(frames, first_sample)
        if len(end_samples):
            monitor._scored(scores, embedding, [int(end) for end in end_samples])
        monitor._write_clips()

    def on_gap(self, start_sample: int, n_samples: int) -> None:
        self.scorer.reset()
        self.monitor._gap(start_sample, n_samples)

    def on_stop(self, end_sample: int) -> None:
        self.monitor._stopped(end_sample)
