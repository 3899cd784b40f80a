"""The hand-over from the engine worker to the Qt thread: bounded, latest-wins, no widgets.

Threads: the engine worker calls the ``put_*`` methods (through :class:`MailboxListener`);
the Qt thread calls :meth:`GuiMailbox.take` from its redraw timer (~30 fps). A lock is held
only for a small copy. Nothing here imports Qt, so the worker side never touches a widget.

Bounds: frames are kept in a preallocated column ring of ``max_frames`` (older columns than
that are dropped and counted: the spectrogram could not show them anyway); score rows and
event notifications are kept in fixed-length deques. A slow GUI therefore loses old
drawing work, never memory, and never slows the worker down.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class ScoreRow:
    """Smoothed class confidences at one instant of the stream clock."""

    end_sample: int
    smoothed: np.ndarray  # (n_labels,) float32 in [0, 1]
    # the detector's explanation of this window (soundwatch.detect.NearMiss): the labels
    # that came close and the rule that kept each from an event
    near_misses: tuple = ()
    # the model's own (n_labels,) scores of the window, before the SNR gate and smoothing
    raw: np.ndarray | None = None


@dataclass
class EventNotice:
    """An event that started (``finished`` False, still running) or finished."""

    event: Any  # soundwatch.detect.Event
    finished: bool


@dataclass
class MailboxBatch:
    """Everything that arrived since the last :meth:`GuiMailbox.take`.

    ``generation`` changes whenever a new stream (new device, new file) began: the clock
    restarts at zero, so views clear their history when they see a new generation.
    """

    generation: int
    frames: np.ndarray  # (n, n_features) float32, oldest first
    first_sample: int  # stream-clock sample where frames[0] starts
    frames_dropped: int  # columns overwritten before the GUI took them
    scores: list[ScoreRow] = field(default_factory=list)
    events: list[EventNotice] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (start_sample, n_samples)
    near_miss_spans: list = field(default_factory=list)  # soundwatch.detect.NearMissSpan
    stopped: bool = False
    position: int = 0  # newest stream-clock sample the worker reported
    # (n,) int64 stream-clock sample where each frame starts: exact across gaps, where
    # first_sample + i * hop_length is not
    frame_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def empty(self) -> bool:
        return (len(self.frames) == 0 and not self.scores and not self.events
                and not self.gaps and not self.near_miss_spans and not self.stopped)


class GuiMailbox:
    """Bounded store of what the worker produced and the GUI has not drawn yet.

    Args:
        n_features: values per feature frame.
        hop_length: stream-clock samples between frames.
        max_frames: columns kept (about one spectrogram width).
        max_scores: score rows kept (about one timeline width).
        max_events: event notifications kept.
    """

    def __init__(self, n_features: int, hop_length: int, max_frames: int = 1000,
                 max_scores: int = 600, max_events: int = 256):
        self._lock = threading.Lock()
        self.hop_length = int(hop_length)
        self._frames = np.zeros((int(max_frames), int(n_features)), dtype=np.float32)
        self._frame_samples = np.zeros(int(max_frames), dtype=np.int64)  # each one's start
        self._frames_written = 0  # total columns ever put
        self._frames_taken = 0  # total columns the GUI took or lost
        self._next_frame_sample = 0  # stream-clock sample of the column after the newest
        self._scores: deque[ScoreRow] = deque(maxlen=int(max_scores))
        self._events: deque[EventNotice] = deque(maxlen=int(max_events))
        self._gaps: deque[tuple[int, int]] = deque(maxlen=64)
        self._spans: deque = deque(maxlen=int(max_events))
        self._stopped = False
        self._position = 0
        self.generation = 0
        self.frames_dropped_total = 0

    @property
    def n_features(self) -> int:
        return self._frames.shape[1]

    def reset(self, n_features: int | None = None, hop_length: int | None = None) -> None:
        """Forget everything and start a new generation (a new stream begins at sample 0)."""
        with self._lock:
            if n_features is not None and n_features != self._frames.shape[1]:
                self._frames = np.zeros((self._frames.shape[0], int(n_features)),
                                        dtype=np.float32)
            if hop_length is not None:
                self.hop_length = int(hop_length)
            self._frame_samples[:] = 0
            self._frames_written = self._frames_taken = 0
            self._next_frame_sample = 0
            self._scores.clear()
            self._events.clear()
            self._gaps.clear()
            self._spans.clear()
            self._stopped = False
            self._position = 0
            self.generation += 1

    # -- worker side ---------------------------------------------------------------------

    def put_frames(self, frames: np.ndarray, first_sample: int) -> None:
        """Copy (n, n_features) frames into the column ring (the newest ``max_frames`` win)."""
        n = len(frames)
        if n == 0:
            return
        capacity = self._frames.shape[0]
        skipped = max(0, n - capacity)  # more than fit: keep the newest
        if skipped:
            frames = frames[skipped:]
            first_sample += skipped * self.hop_length
            n = capacity
        with self._lock:
            if frames.shape[1] != self._frames.shape[1]:
                return  # a stale stream with another spec; reset() has moved on
            self._frames_written += skipped
            start = self._frames_written % capacity
            head = min(n, capacity - start)
            samples = first_sample + np.arange(n, dtype=np.int64) * self.hop_length
            self._frames[start:start + head] = frames[:head]
            self._frame_samples[start:start + head] = samples[:head]
            if head < n:
                self._frames[:n - head] = frames[head:]
                self._frame_samples[:n - head] = samples[head:]
            self._frames_written += n
            self._next_frame_sample = first_sample + n * self.hop_length
            self._position = max(self._position, self._next_frame_sample)

    def put_scores(self, smoothed: np.ndarray, end_sample: int, near_misses=(),
                   raw: np.ndarray | None = None) -> None:
        """Keep a copy of one (n_labels,) row of smoothed confidences (and the detector's
        near misses of that window, and the model's own scores before the SNR gate)."""
        row = ScoreRow(int(end_sample), np.array(smoothed, dtype=np.float32, copy=True),
                       tuple(near_misses),
                       None if raw is None else np.array(raw, dtype=np.float32, copy=True))
        with self._lock:
            self._scores.append(row)
            self._position = max(self._position, int(end_sample))

    def put_event(self, event: Any, finished: bool) -> None:
        with self._lock:
            self._events.append(EventNotice(event, finished))

    def put_near_miss_spans(self, spans: list) -> None:
        """Keep finished near-miss spans (soundwatch.detect.NearMissSpan)."""
        if spans:
            with self._lock:
                self._spans.extend(spans)

    def put_gap(self, start_sample: int, n_samples: int) -> None:
        with self._lock:
            self._gaps.append((int(start_sample), int(n_samples)))

    def put_stopped(self) -> None:
        with self._lock:
            self._stopped = True

    # -- Qt side -------------------------------------------------------------------------

    def take(self) -> MailboxBatch:
        """Everything new since the last call; frames are a fresh array, oldest first."""
        with self._lock:
            capacity = self._frames.shape[0]
            unread = self._frames_written - self._frames_taken
            dropped = max(0, unread - capacity)
            n = unread - dropped
            self.frames_dropped_total += dropped
            first = self._frames_written - n
            start = first % capacity
            if start + n <= capacity:
                frames = self._frames[start:start + n].copy()
                frame_samples = self._frame_samples[start:start + n].copy()
            else:
                frames = np.concatenate([self._frames[start:], self._frames[:n - (capacity - start)]])
                frame_samples = np.concatenate([self._frame_samples[start:],
                                                self._frame_samples[:n - (capacity - start)]])
            self._frames_taken = self._frames_written
            batch = MailboxBatch(
                generation=self.generation,
                frames=frames,
                first_sample=self._next_frame_sample - n * self.hop_length,
                frames_dropped=dropped,
                scores=list(self._scores),
                events=list(self._events),
                gaps=list(self._gaps),
                near_miss_spans=list(self._spans),
                stopped=self._stopped,
                position=self._position,
                frame_samples=frame_samples,
            )
            self._scores.clear()
            self._events.clear()
            self._gaps.clear()
            self._spans.clear()
            self._stopped = False
            return batch


class MailboxListener:
    """Worker-side adapter: receives engine (``EngineSink``) and monitor (``MonitorListener``)
    callbacks and copies them into a :class:`GuiMailbox`. Never touches Qt.

    It has the methods of both interfaces, so the same object serves an :class:`Engine`
    alone (no model: spectrogram only) and a ``Monitor`` (scores and events as well).
    """

    def __init__(self, mailbox: GuiMailbox, generation: int):
        self.mailbox = mailbox
        self.generation = generation  # callbacks from an older stream are ignored
        self._task: Callable[[], None] | None = None
        self._near_misses = None  # a NearMissLog over the monitor's detector

    def explain_with(self, detector: Any) -> None:
        """Pass on ``detector``'s explanation of every scored window, and its debounced
        near-miss spans (soundwatch.detect.NearMissLog), with the scores."""
        from soundwatch.detect import NearMissLog

        self._near_misses = NearMissLog(detector)

    def run_on_worker(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the worker thread at its next callback (one slot: the latest
        request wins). For changes the worker must see between two hops, e.g. new
        detector settings."""
        self._task = task

    def _current(self) -> bool:
        task, self._task = self._task, None
        if task is not None:
            try:
                task()
            except Exception:  # a bad request must not stop the worker
                log.exception("task from the GUI failed on the worker thread")
        return self.mailbox.generation == self.generation

    def on_start(self, engine: Any = None) -> None:
        """EngineSink hook; nothing to do."""

    def on_frames(self, frames: np.ndarray, first_sample: int) -> None:
        if self._current():
            self.mailbox.put_frames(frames, first_sample)

    def on_scores(self, scores: np.ndarray, smoothed: np.ndarray, end_sample: int) -> None:
        if not self._current():
            return
        misses = ()
        if self._near_misses is not None:
            misses = self._near_misses.detector.explain()
            self.mailbox.put_near_miss_spans(self._near_misses.update(misses))
        self.mailbox.put_scores(smoothed, end_sample, misses, raw=scores)

    def _flush_near_misses(self) -> None:
        if self._near_misses is not None:
            self.mailbox.put_near_miss_spans(self._near_misses.flush())

    def on_event_started(self, event: Any) -> None:
        if self._current():
            self.mailbox.put_event(event, finished=False)

    def on_event(self, event: Any) -> None:
        if self._current():
            self.mailbox.put_event(event, finished=True)

    def on_gap(self, start_sample: int, n_samples: int) -> None:
        if self._current():
            self._flush_near_misses()
            self.mailbox.put_gap(start_sample, n_samples)

    def on_stop(self, end_sample: int | None = None) -> None:
        if self._current():
            self._flush_near_misses()
            self.mailbox.put_stopped()
