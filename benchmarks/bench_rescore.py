"""Score history and rescoring: disk per hour, the writer's cost per window, the time to
rescore a day, and the thresholds panel's preview of one label over 2 h.

A synthetic history of the shipped model's shape (68 labels, a window every 0.25 s):
background scores drawn low (beta-distributed, mean 0.03) with a 2 s event of a random
label every minute, written by the real :class:`~soundwatch.score_history.ScoreHistoryWriter`
(``BENCH_RESCORE_HOURS`` hours, default 24) and rescored with the default settings and
with ``threshold_on`` 0.5. No model or audio: what is measured is the history itself.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from benchmarks.machine import emit
from soundwatch.detect import DetectorSettings
from soundwatch.rescoring import rescore
from soundwatch.score_history import (
    ScoreHistoryWriter,
    bytes_per_hour,
    read_history,
    record_dtype,
)

N_LABELS = 68
HOP_S = 0.25
RATE = 16000


def main() -> None:
    hours = float(os.environ.get("BENCH_RESCORE_HOURS", "24"))
    labels = tuple(f"label_{i}" for i in range(N_LABELS))
    start = datetime.now(timezone.utc) - timedelta(hours=hours, minutes=1)
    classifier = SimpleNamespace(labels=labels, sample_rate_hz=RATE, window_samples=15600,
                                 metadata=SimpleNamespace(background_labels=(),
                                                          model_version="bench"))
    monitor = SimpleNamespace(classifier=classifier, hop_s=HOP_S, session_id=1,
                              snr_gate=SimpleNamespace(last_snr_db=None),
                              wall_time=lambda s: start + timedelta(seconds=s / RATE))
    hops = int(hours * 3600 / HOP_S)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        writer = ScoreHistoryWriter(folder, monitor, retention_h=hours + 1)
        block = 14400
        written_s = 0.0
        events_placed = 0
        for first in range(0, hops, block):
            n = min(block, hops - first)
            scores = rng.beta(0.5, 16.0, size=(n, N_LABELS)).astype(np.float32)
            for minute_start in range(0, n, 240):
                scores[minute_start + 100:minute_start + 108, rng.integers(N_LABELS)] = 0.9
                events_placed += 1
            started = time.perf_counter()
            for i in range(n):
                writer.on_scores(scores[i], None, 15600 + (first + i) * 4000)
            written_s += time.perf_counter() - started
        writer.on_stop()
        disk = sum(p.stat().st_size for p in Path(folder).glob("*"))
        started = time.perf_counter()
        segments = read_history(folder, start)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        found = rescore(segments, DetectorSettings())
        rescore_s = time.perf_counter() - started
        started = time.perf_counter()
        lower = rescore(segments, DetectorSettings(threshold_on=0.5, threshold_off=0.4))
        rescore_low_s = time.perf_counter() - started
        recent = read_history(folder, datetime.now(timezone.utc) - timedelta(hours=2))
        started = time.perf_counter()
        rescore(recent, DetectorSettings(), only=("label_3",))
        preview_s = time.perf_counter() - started
    emit("rescore", "score history disk use and writer cost; rescoring time", {
        "hours": hours, "labels": N_LABELS, "hop_s": HOP_S, "windows": hops,
        "bytes_per_window": record_dtype(N_LABELS).itemsize,
        "bytes_per_hour": bytes_per_hour(N_LABELS, HOP_S),
        "disk_bytes": disk, "disk_mb_per_hour": round(disk / hours / 1e6, 3),
        "writer_us_per_window": round(1e6 * written_s / hops, 2),
        "read_s": round(read_s, 2),
        "rescore_s": round(rescore_s, 2), "events_placed": events_placed,
        "events_found": len(found),
        "rescore_threshold_0_5_s": round(rescore_low_s, 2),
        "events_found_threshold_0_5": len(lower),
        "preview_one_label_2h_s": round(preview_s, 3)})


if __name__ == "__main__":
    main()
