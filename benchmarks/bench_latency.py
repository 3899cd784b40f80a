"""Detection latency: from a sound's true onset to the "event started" notice.

Reads ../shared/data: ESC-50 clips (one per class, from fold 1) are placed 3 s apart into
a quiet (-60 dBFS noise) and a noisy (household recordings at -35 dBFS) background. The
stream runs through the real pipeline (ring, engine, features, classifier, detector) with
the default settings:

- stream time: replayed as fast as possible; delay = stream-clock time of the notice
  minus the true onset (what the pipeline's windowing, smoothing and hysteresis cost);
- wall time: a shorter stream replayed in real time (as a microphone would deliver it);
  delay = wall clock at the notice minus the wall time the onset was replayed.

A clip counts as detected when an event of its own label starts between its onset and
its end + 1 s. Caveat: the shipped model was trained on all five folds, so fold-1 clips
were seen in training; the hit rate is optimistic, the latencies are not much affected.
"""

from __future__ import annotations

import os

import numpy as np

from benchmarks.machine import emit
from benchmarks.monitoring import run_monitor
from benchmarks.streams import RATE_HZ, esc50_rows, event_stream

WALL_CLIPS = int(os.environ.get("BENCH_LATENCY_WALL_CLIPS", 12))


def one_per_class(fold: int = 1) -> list[dict]:
    chosen = {}
    for row in esc50_rows(fold):
        chosen.setdefault(row["category"], row)
    return [chosen[k] for k in sorted(chosen)]


def delays(truth, recorded, started_wall: float | None):
    stream_delays, wall_delays, hits = [], [], 0
    for t in truth:
        for event, wall in recorded.started:
            notice_s = event.end_sample / event.sample_rate_hz  # a started notice's time
            if event.label == t.label and t.onset_s - 0.5 <= notice_s <= t.end_s + 1.0:
                hits += 1
                stream_delays.append(notice_s - t.onset_s)
                if started_wall is not None:
                    wall_delays.append(wall - (started_wall + t.onset_s))
                break
    return stream_delays, wall_delays, hits


def percentiles(values):
    if not values:
        return {"p50_s": None, "p95_s": None, "n": 0}
    return {"p50_s": round(float(np.percentile(values, 50)), 3),
            "p95_s": round(float(np.percentile(values, 95)), 3), "n": len(values)}


def main() -> None:
    rows = one_per_class()
    results = {"clips": len(rows)}
    for background in ("quiet", "noisy"):
        signal, truth = event_stream(rows, background)
        recorded, _, monitor = run_monitor(signal, RATE_HZ, paced=False)
        stream_delays, _, hits = delays(truth, recorded, None)
        false_events = len(recorded.finished) - hits
        results[f"stream_time_{background}"] = {
            **percentiles(stream_delays), "hit_rate": round(hits / len(truth), 3),
            "delays_s": [round(d, 3) for d in stream_delays],
            "events_total": len(recorded.finished), "events_not_matching_a_clip": false_events,
            "hop_s": monitor.hop_s,
        }
    signal, truth = event_stream(rows[:: max(1, len(rows) // WALL_CLIPS)][:WALL_CLIPS], "quiet")
    recorded, started, _ = run_monitor(signal, RATE_HZ, paced=True)
    stream_delays, wall_delays, hits = delays(truth, recorded, started)
    results["wall_time_quiet"] = {**percentiles(wall_delays), "hit_rate": round(hits / len(truth), 3),
                                  "delays_s": [round(d, 3) for d in wall_delays],
                                  "stream_time_same_run": percentiles(stream_delays)}
    emit("latency", "true onset -> 'event started' notice, stream and wall time", results)


if __name__ == "__main__":
    main()
