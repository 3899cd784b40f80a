"""Run the real monitoring pipeline (Monitor: engine, classifier, detector) on a signal."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from soundwatch.audio.files import FileSource
from soundwatch.detect import DetectorSettings, Event
from soundwatch.model import Classifier, default_model_path
from soundwatch.monitor import Monitor, MonitorListener


@dataclass
class Recorded(MonitorListener):
    """Every started and finished event, with the wall time it was announced."""

    started: list[tuple[Event, float]] = field(default_factory=list)
    finished: list[Event] = field(default_factory=list)

    def on_event_started(self, event):
        self.started.append((event, time.monotonic()))

    def on_event(self, event):
        self.finished.append(event)


def run_monitor(signal: np.ndarray, rate_hz: int, paced: bool = False,
                model_path: Path | None = None,
                settings: DetectorSettings | None = None) -> tuple[Recorded, float, Monitor]:
    """Replay ``signal`` through a Monitor; return the events, the wall time the replay
    started (time.monotonic) and the monitor."""
    classifier = Classifier(model_path or default_model_path(), threads=1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stream.wav"
        soundfile.write(str(path), signal, rate_hz, subtype="FLOAT")
        source = FileSource(path, sample_rate_hz=classifier.sample_rate_hz, paced=paced)
        monitor = Monitor(source, classifier, settings)
        recorded = Recorded()
        monitor.add_listener(recorded)
        started = time.monotonic()
        monitor.start()
        monitor.wait()
        monitor.stop()
    return recorded, started, monitor
