"""Choose the live hop: recall, onset latency, false events and CPU at several hops.

A fold model (trained without that fold) hears the fold's clips (``--per-class`` of each
class) placed 3 s apart in a quiet room and in household noise, through the app's path
at the detector defaults, once per hop. Use the fold the detector defaults were tuned on
(fold 1), so the folds the card reports stay untouched. Reads ../shared/data.

    python -m benchmarks.hop_choice --model runs/cv/fold1/model.onnx --fold 1

Prints JSON: per hop and room, the figures of soundwatch.train.event_eval, and the CPU
that scoring cost per second of audio.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from dataclasses import replace

from benchmarks.streams import RATE_HZ, background_audio, esc50_path, esc50_rows
from soundwatch.audio.files import load_audio
from soundwatch.detect import DetectorSettings
from soundwatch.model import Classifier
from soundwatch.train.event_eval import event_stream_report, stream_length


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--hops", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    args = parser.parse_args(argv)
    classifier = Classifier(args.model, threads=1)
    by_class = defaultdict(list)
    for row in esc50_rows(args.fold):
        if len(by_class[row["category"]]) < args.per_class:
            by_class[row["category"]].append(row)
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for rows in by_class.values() for r in rows]
    seconds = stream_length(clips, RATE_HZ) / RATE_HZ
    results = {}
    for hop_s in args.hops:
        settings = replace(DetectorSettings(), hop_s=hop_s)
        per_room = {}
        for room in ("quiet", "noisy"):
            cpu_start = time.process_time()
            report = event_stream_report(classifier, clips,
                                         background_audio(room, seconds), settings)
            report["cpu_s_per_audio_s"] = round((time.process_time() - cpu_start) / seconds, 4)
            report.pop("per_label_recall")
            per_room[room] = report
        results[str(hop_s)] = per_room
    print(json.dumps({"model": args.model, "fold": args.fold, "clips": len(clips),
                      "detector": DetectorSettings().to_dict(), "hops": results}, indent=1))


if __name__ == "__main__":
    main()
