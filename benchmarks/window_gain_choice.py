"""Would a gain on quiet windows (automatic gain control before the classifier) hear far
sounds better? Measured on a validation fold, and not adopted.

The *far* room (every clip 20 dB quieter) finds about 20 points fewer clips than the
quiet room. :class:`GainedClassifier` raises each window whose loudest frame is below
``target_db`` by up to ``max_gain_db``, exactly as if that window's audio had been
amplified (the log-mel's 0.001 offset taken into account), then scores it. Variants run
on the validation model (``runs/quiet/quiet1``: trained on folds 3-5, fold 1 left out,
test fold 2) in the four rooms of :func:`soundwatch.train.event_eval.fold_event_report`,
and on 10 min each of the tuning background, speech and music streams
(benchmarks/tune_detector.py's: the training part of the noise recordings, the speech
and music files not held out).

Rule, fixed before any variant ran: the highest mean recall over the four rooms, provided
the false events per hour of each room are at most 1.1 times the baseline's and those on
each tuning stream at most max(2, baseline); none passing, nothing is adopted. Targets:
12.7 (the median loudest-frame level of ESC-50 fold 3 clips, in dB of the mel magnitude)
and -2.3 (their 5th percentile).

Reads ../shared/data. Run: .venv/bin/python -m benchmarks.window_gain_choice RUN_DIR
[-- TARGET_DB:MAX_GAIN_DB ...]   (0:0 is the baseline; ``--`` lets a target be negative)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.machine import emit, require_shared_data
from benchmarks.streams import RATE_HZ, background_stream, esc50_path, esc50_rows
from soundwatch.audio.files import load_audio
from soundwatch.model import Classifier
from soundwatch.train.event_eval import detect_with_notices, fold_event_report
from soundwatch.train.false_alarms import background_tail_stream

VALIDATION_FOLD = 2
LOG_OFFSET = 0.001  # YAMNet's log-mel: ln(mel + 0.001)
VARIANTS = ("0:0", "12.7:10", "12.7:20", "-2.3:20")


class GainedClassifier:
    """A classifier whose windows quieter than ``target_db`` (loudest frame's mean mel
    magnitude, in dB) are raised towards it by at most ``max_gain_db``."""

    def __init__(self, inner: Classifier, target_db: float, max_gain_db: float):
        self.inner, self.target_db, self.max_gain_db = inner, target_db, max_gain_db

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def score(self, windows: np.ndarray):
        """(batch, frames, bands) log-mel windows -> the inner classifier's output."""
        mel = np.maximum(np.exp(np.asarray(windows, np.float64)) - LOG_OFFSET, 0.0)
        loudest_db = 20 * np.log10(np.maximum(mel.mean(axis=2).max(axis=1), 1e-12))
        gain_db = np.clip(self.target_db - loudest_db, 0.0, self.max_gain_db)
        raised = np.log(mel * (10 ** (gain_db / 20))[:, None, None] + LOG_OFFSET)
        return self.inner.score(raised.astype(np.float32))


def measure(run: Path, target_db: float, max_gain_db: float) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    classifier = Classifier(run / "model.onnx", threads=1)
    if max_gain_db > 0:
        classifier = GainedClassifier(classifier, target_db, max_gain_db)
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for r in esc50_rows(VALIDATION_FOLD)]
    used = summary["config"]["background_fraction"]
    noise = background_tail_stream(
        sorted((require_shared_data() / "background" / "audio").glob("*.*")), RATE_HZ, used)
    rooms = fold_event_report(classifier, clips, noise)
    result = {"target_db": target_db, "max_gain_db": max_gain_db,
              "rooms": {room: {k: figures[k] for k in ("recall", "false_events_per_hour",
                                                       "latency_p50_s")}
                        for room, figures in rooms.items()}}
    result["mean_recall"] = round(float(np.mean([r["recall"] for r in result["rooms"].values()])), 4)
    held_out = {Path(p).name for p in summary["held_out_files"]}
    for kind in ("background", "speech", "music"):
        signal = background_stream(kind, 600, exclude=held_out,
                                   head_fraction=used if kind == "background" else 1.0)
        events, _ = detect_with_notices(classifier, signal)
        false = [e for e in events if e.label != kind]
        result[f"false_events_per_hour_{kind}"] = round(
            len(false) / (len(signal) / RATE_HZ / 3600), 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="the validation run (runs/quiet/quiet1)")
    parser.add_argument("variants", nargs="*", default=list(VARIANTS),
                        metavar="TARGET_DB:MAX_GAIN_DB")
    args = parser.parse_args()
    results = {v: measure(args.run, *map(float, v.split(":"))) for v in args.variants}
    emit("window_gain_choice", "recall and false events per hour on validation fold 2 with "
         "a gain on quiet windows before the classifier", results)


if __name__ == "__main__":
    main()
