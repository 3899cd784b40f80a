"""Should the model's own labels have a minimum window SNR (the SNR gate) by default?

Learnt sounds have one (``USER_SOUND_MIN_SNR_DB``, ``benchmarks/snr_gate_choice.py``); a
fresh user saw the model's labels fire on quiet stretches of running water and music
(``engine`` at an SNR near 0 dB), which such a gate would hold back. This measures it on
the detector's tuning streams (``benchmarks.tune_detector.tuning_streams``: a fold the
model never trained on, in the quiet and the noisy room, plus noise, speech and music),
with the app's defaults and the model's own class settings, for each candidate minimum
applied to every label: clips found, false events in the streams, false events per hour
on each background kind, and the onset -> *event started* latency. Each stream is scored
once; the gate and the detector run once per candidate, as live
(``benchmarks.snr_gate_choice.detect_per_candidate``).

Run on the *tuning* fold's model (never a test fold's figures; reads ../shared):
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.model_snr_gate_choice \\
        --model runs/cv_quiet/fold1/model.onnx --run runs/cv_quiet/fold1 --fold 1 \\
        > benchmarks/model_snr_gate_choice.json
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from benchmarks.machine import emit
from benchmarks.snr_gate_choice import detect_per_candidate
from benchmarks.streams import RATE_HZ
from benchmarks.tune_detector import match, tuning_streams

CANDIDATES_DB = (None, 0.0, 2.0, 3.0, 4.0, 6.0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a fold model that never trained on "
                        "--fold (the tuning fold's)")
    parser.add_argument("--run", default=None, help="its run folder (held-out files and "
                        "noise tails stay out, as in tune_detector)")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--background-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    from soundwatch.class_defaults import settings_for_classifier
    from soundwatch.detect import DetectorSettings
    from soundwatch.model import Classifier

    started = time.time()
    classifier = Classifier(args.model)
    settings = settings_for_classifier(DetectorSettings(warmup_s=0.0), classifier)
    labels = tuple(classifier.labels)
    streams, backgrounds, rows = tuning_streams(classifier, args.fold, args.per_class,
                                                args.background_s, args.run)
    tally = {c: {"found": Counter(), "clips": Counter(), "false_in_streams": Counter(),
                 "latencies_s": [], "false_events": {}, "false_labels": Counter()}
             for c in CANDIDATES_DB}
    for room, (signal, truth) in zip(("quiet", "noisy"), streams, strict=True):
        found = detect_per_candidate(classifier, signal, settings, CANDIDATES_DB, labels)
        for candidate, (events, notices) in found.items():
            started_at = {n.event_id: n.end_sample / n.sample_rate_hz for n in notices}
            tps, fps, _ = match(events, truth)
            row = tally[candidate]
            row["found"][room] += len(tps)
            row["clips"][room] += len(truth)
            row["false_in_streams"][room] += len(fps)
            row["latencies_s"] += [started_at[e.event_id] - t.onset_s for e, t in tps
                                   if e.event_id in started_at]
    hours = {}
    for kind, signal in backgrounds:
        hours[kind] = len(signal) / RATE_HZ / 3600
        allowed = {"speech": {"speech"}, "music": {"music"}}.get(kind, set())
        found = detect_per_candidate(classifier, signal, settings, CANDIDATES_DB, labels)
        for candidate, (events, _) in found.items():
            wrong = [e.label for e in events if e.label not in allowed]
            tally[candidate]["false_events"][kind] = len(wrong)
            tally[candidate]["false_labels"].update(wrong)
    results = {}
    for candidate, row in tally.items():
        latencies = np.asarray(row["latencies_s"])
        results["off" if candidate is None else f"{candidate:g}_db"] = {
            "recall": {room: round(row["found"][room] / max(row["clips"][room], 1), 4)
                       for room in row["clips"]},
            "found": dict(row["found"]), "false_in_streams": dict(row["false_in_streams"]),
            "false_events_per_hour": {kind: round(n / hours[kind], 1)
                                      for kind, n in row["false_events"].items()},
            "false_event_labels": dict(row["false_labels"].most_common()),
            "latency_p50_s": round(float(np.median(latencies)), 3) if len(latencies) else None,
            "latency_p95_s": (round(float(np.percentile(latencies, 95)), 3)
                              if len(latencies) else None)}
    emit("model_snr_gate_choice", "the model's labels: clips found, false events and "
         "latency at the defaults for each minimum window SNR (dB) of the SNR gate",
         {"model": args.model, "model_version": classifier.metadata.model_version,
          "fold": args.fold, "clips": len(rows),
          "background_minutes": {kind: round(h * 60, 1) for kind, h in hours.items()},
          "seconds": round(time.time() - started, 1), "candidates": results})


if __name__ == "__main__":
    main()
