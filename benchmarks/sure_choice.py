"""threshold_sure (an event announced at once on one confident window) on the validation
fold: recall, onset latency and false events in the quiet and noisy rooms, at the
shipped detector settings (benchmarks/detector_defaults.json) with each threshold_sure.

The model is the validation run of benchmarks/recipe_choice.py (trained on folds 3-5,
fold 1 left out; fold 2 is heard here), e.g. after

    python -m benchmarks.recipe_choice --out runs/twins \
        --variant shipped:tune_top_layers=1,quiet_copies=1 \
        --detector benchmarks/detector_defaults.json

Run: python -m benchmarks.sure_choice --model runs/twins/shipped/model.onnx \
         --sure off 0.95 0.98 0.995 > benchmarks/sure_choice.json
Reads ../shared/data.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from benchmarks.machine import require_shared_data
from benchmarks.recipe_choice import VALIDATION_FOLD
from benchmarks.streams import RATE_HZ, esc50_path, esc50_rows
from soundwatch.audio.files import load_audio
from soundwatch.class_defaults import read_tuned_settings
from soundwatch.model import Classifier
from soundwatch.train.event_eval import fold_event_report
from soundwatch.train.false_alarms import background_tail_stream
from soundwatch.train.settings import HeadConfig

FIGURES = ("recall", "latency_p50_s", "latency_p95_s", "false_events", "false_events_per_hour")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True,
                        help="a validation run's model.onnx (see above)")
    parser.add_argument("--sure", nargs="+", default=["off", "0.95"],
                        help="threshold_sure values to try ('off': none)")
    parser.add_argument("--detector", type=Path,
                        default=Path("benchmarks/detector_defaults.json"))
    args = parser.parse_args(argv)
    data = require_shared_data()
    classifier = Classifier(args.model, threads=1)
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for r in esc50_rows(VALIDATION_FOLD)]
    noise = background_tail_stream(sorted((data / "background" / "audio").glob("*.*")),
                                   RATE_HZ, HeadConfig().background_fraction)
    base = read_tuned_settings(args.detector)
    results = {}
    for text in args.sure:
        sure = None if text == "off" else float(text)
        report = fold_event_report(classifier, clips, noise,
                                   replace(base, threshold_sure=sure),
                                   rooms=("quiet", "noisy"))
        results[text] = {room: {k: figures[k] for k in FIGURES}
                         for room, figures in report.items()}
        print(json.dumps({text: results[text]}), flush=True)
    print(json.dumps({"benchmark": "sure_choice", "validation_fold": VALIDATION_FOLD,
                      "model": str(args.model), "detector": str(args.detector),
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
