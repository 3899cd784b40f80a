"""Which minimum window SNR should a learnt sound have (the SNR gate)?

Learns each of the five *tuning* DCASE classes (``bench_learn_sound.TUNE_CLASSES``, never
the reported ones) from 5 recordings with the room's recording, as
``bench_learn_sound.py --tune --place-bed`` does, and counts, for each candidate
``min_snr_db`` (and none): the other recordings found in household noise at 0 and +6 dB,
and the false events on the tuning speech / music / ambient-noise streams (disjoint from
the reported ones) and on the household noise without the sounds. Each stream is scored
once; the detector and the gate run once per candidate over the same scores, as
:func:`soundwatch.scoring.detect_stream` runs them.

Run (reads ../shared; about 1 min on one core once the YAMNet caches are warm):
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.snr_gate_choice \
        > benchmarks/snr_gate_choice.json
Prints JSON: per candidate, sounds found / false events, and recall and false events per
hour per sound as ``bench_learn_sound`` reports them.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks import bench_learn_sound as bench
from benchmarks.machine import emit, require_shared_data
from benchmarks.streams import RATE_HZ

CANDIDATES_DB = (None, 0.0, 1.0, 2.0, 3.0, 4.0)
N_EXAMPLES = 5


def detect_per_candidate(classifier, signal: np.ndarray, settings,
                         candidates=CANDIDATES_DB, gated_labels=None) -> dict:
    """{candidate: (finished events, start notices)} of ``signal``, scored once; each
    candidate minimum SNR (None: no gate) applies to ``gated_labels`` (default: the
    watched labels of ``settings``)."""
    from soundwatch.audio.levels import EventLevels, LevelHistory
    from soundwatch.audio.snr_gate import SnrGate
    from soundwatch.scoring import new_detector, score_stream

    scored = score_stream(signal, classifier, classifier.hop_frames_for(settings.hop_s))
    history = LevelHistory(RATE_HZ, keep_s=len(signal) / RATE_HZ + 2.0)
    history.push(signal, 0)
    found = {}
    gated_labels = settings.watch if gated_labels is None else gated_labels
    for candidate in candidates:
        detector = new_detector(classifier, settings)
        minimums = {} if candidate is None else {label: candidate for label in gated_labels}
        gate = SnrGate(classifier.labels, minimums, EventLevels(history, detector),
                       classifier.window_samples)
        notices = []
        for row, end in zip(scored.scores, scored.end_samples, strict=True):
            notices += detector.update(gate.apply(row, int(end)), int(end))
        notices += detector.flush(scored.n_samples)
        found[candidate] = ([n for n in notices if not n.ongoing],
                            [n for n in notices if n.ongoing])
    return found


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    data = require_shared_data() / "dcase2016_office" / "isolated"
    from soundwatch.detect import DetectorSettings
    from soundwatch.model import Classifier, default_model_path
    from soundwatch.sounds.apply import WithUserSounds
    from soundwatch.sounds.learn import learn_sound
    from soundwatch.train.event_eval import match_events

    classifier = Classifier(default_model_path())
    place = [bench.place_bed()]
    streams = bench.false_event_streams(10 * 60, tune=True)
    tally = {candidate: {"found": 0, "sounds": 0, "false_events": {}}
             for candidate in CANDIDATES_DB}
    sounds = []
    for name in bench.TUNE_CLASSES:
        label = "own_" + name
        paths = sorted(data.glob(f"{name}*.flac"))
        sound = learn_sound(label, paths[:N_EXAMPLES], classifier, place)
        sounds.append(sound)
        learnt = WithUserSounds(classifier, [sound])
        settings = DetectorSettings(warmup_s=0.0, watch=(label,), min_duration_s=0.5)
        for seed, ebr in enumerate(bench.EBRS_DB):
            signal, truth = bench.recall_stream(paths[N_EXAMPLES:], ebr, label, seed)
            for candidate, (events, notices) in detect_per_candidate(
                    learnt, signal, settings).items():
                tally[candidate]["found"] += sum(match_events(events, notices, truth)["found"])
                tally[candidate]["sounds"] += len(truth)
    everything = WithUserSounds(classifier, sounds)
    settings = DetectorSettings(warmup_s=0.0, watch=tuple(s.label for s in sounds),
                                min_duration_s=0.5)
    hours = {}
    for kind, signal in streams.items():
        hours[kind] = len(signal) / RATE_HZ / 3600
        for candidate, (events, _) in detect_per_candidate(everything, signal,
                                                           settings).items():
            tally[candidate]["false_events"][kind] = len(events)
    results = {}
    for candidate, row in tally.items():
        per_hour = {kind: round(n / hours[kind] / len(sounds), 2)
                    for kind, n in row["false_events"].items()}
        elsewhere = [v for kind, v in per_hour.items() if kind != "household"]
        results["off" if candidate is None else f"{candidate:g}_db"] = {
            **row, "recall": round(row["found"] / row["sounds"], 3),
            "false_events_per_hour_per_sound": per_hour,
            "mean_false_events_per_hour": round(float(np.mean(elsewhere)), 2)}
    emit("snr_gate_choice", "learnt tuning sounds: recall in household noise and false "
         "events per hour for each minimum window SNR of the SNR gate",
         {"classes": list(bench.TUNE_CLASSES), "examples": N_EXAMPLES,
          "stream_minutes": {kind: round(h * 60, 1) for kind, h in hours.items()},
          "candidates": results})


if __name__ == "__main__":
    main()
