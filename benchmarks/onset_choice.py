"""Choose how an event's start and end are found within its windows: the error of event
starts and ends against the sounds' true onsets and ends, with the windows' edges and with
each rise over the noise floor (soundwatch.audio.levels.ONSET_RISE_DB).

Streams (made on the fly from ../shared/data, never saved): ESC-50 clips of one fold
(``--per-class`` of each class) placed 3 s apart in a quiet room and in household noise,
and each clip's loudest single sound 0 dB over household noise (the DCASE office check's
shape), through the app's offline path (soundwatch.scoring.detect_stream) at the detector
defaults. A sound's true onset and end: its first and last 10 ms frame within 30 dB of its
loudest (soundwatch.train.event_eval). An event matches the first sound of its label that
it overlaps. Per candidate: the median and 90th percentile of |start error| and |end
error|, the share of starts more than 0.1 s after the onset (a clip or a timeline mark
that starts after the sound has begun) and of ends more than 0.1 s before the sound's
end, and the recall (the rise moves times, not detections: it must not change).

The shipped model heard every ESC-50 fold in training, so its detections here are better
than on unseen audio; what is chosen is a level rule, not the model. Choose on fold 1;
fold 2 checks the choice.

    python -m benchmarks.onset_choice [--fold 1] [--per-class 4] [--rises 0 3 6 10]

(0: the windows' edges, as before.) Prints JSON.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from unittest import mock

import numpy as np

from benchmarks.machine import emit
from benchmarks.streams import esc50_rows, event_stream, short_event_stream
from soundwatch.audio import levels
from soundwatch.detect import DetectorSettings
from soundwatch.model import Classifier, default_model_path
from soundwatch.scoring import detect_stream

LATE_S = 0.1  # a start this far after the onset (an end this far before the end) cuts


def errors(events, truth) -> dict:
    """Start and end errors (event minus truth, seconds) of the events that match."""
    starts, ends, found = [], [], set()
    for event in events:
        for k, t in enumerate(truth):
            if t.label == event.label and event.start_s < t.end_s and event.end_s > t.onset_s:
                if k not in found:
                    starts.append(event.start_s - t.onset_s)
                    ends.append(event.end_s - t.end_s)
                    found.add(k)
                break
    starts, ends = np.array(starts or [0.0]), np.array(ends or [0.0])
    return {
        "matched": len(found), "recall": round(len(found) / len(truth), 3),
        "start_error_median_s": round(float(np.median(np.abs(starts))), 3),
        "start_error_p90_s": round(float(np.percentile(np.abs(starts), 90)), 3),
        "start_late_share": round(float(np.mean(starts > LATE_S)), 3),
        "start_early_median_s": round(float(np.median(-starts)), 3),
        "end_error_median_s": round(float(np.median(np.abs(ends))), 3),
        "end_error_p90_s": round(float(np.percentile(np.abs(ends), 90)), 3),
        "end_early_share": round(float(np.mean(ends < -LATE_S)), 3),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--rises", type=float, nargs="+", default=[0.0, 3.0, 6.0, 10.0])
    parser.add_argument("--join-gaps", type=int, nargs="*", default=[],
                        help="also, at the first rise, only the run of loud blocks holding "
                        "the window's loudest, quieter gaps of up to N blocks joined "
                        "(levels.ONSET_JOIN_GAP_BLOCKS)")
    args = parser.parse_args(argv)
    classifier = Classifier(default_model_path(), threads=1)
    by_class = defaultdict(list)
    for row in esc50_rows(args.fold):
        if len(by_class[row["category"]]) < args.per_class:
            by_class[row["category"]].append(row)
    rows = [r for chosen in by_class.values() for r in chosen]
    streams = {"quiet": event_stream(rows, "quiet"), "noisy": event_stream(rows, "noisy"),
               "short_0dB": short_event_stream(rows, 0.0)}
    settings = DetectorSettings(warmup_s=0.0)
    results = {}
    for rise in args.rises:
        with mock.patch.object(levels, "ONSET_RISE_DB", rise or None):
            results[f"rise_{rise:g}dB" if rise else "window_edges"] = {
                name: errors(detect_stream(signal, classifier, settings,
                                           keep_windows=False)[1], truth)
                for name, (signal, truth) in streams.items()}
    for gap in args.join_gaps:
        with mock.patch.object(levels, "ONSET_RISE_DB", args.rises[-1] or None), \
                mock.patch.object(levels, "ONSET_JOIN_GAP_BLOCKS", gap):
            results[f"rise_{args.rises[-1]:g}dB_loudest_run_gap_{gap}"] = {
                name: errors(detect_stream(signal, classifier, settings,
                                           keep_windows=False)[1], truth)
                for name, (signal, truth) in streams.items()}
    emit("onset_choice", "event start/end error against true onsets and ends, per rise "
         "over the noise floor (0: the windows' edges)",
         {"model_version": classifier.metadata.model_version, "fold": args.fold,
          "clips": len(rows), "candidates": results})


if __name__ == "__main__":
    main()
