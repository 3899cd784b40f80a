"""Would the AudioSet-derived labels (smoke_alarm, door_slam, keys_jangling...) hear short
sounds better as the highest of YAMNet's AudioSet logits over its three time cells
instead of the logit of their mean? A study for the next model, not a shipped change.

The home labels cannot be measured on ESC-50 directly, so, as their calibration does
(:func:`soundwatch.train.pretrained.calibrate_home_offset`), the ESC-50 labels with
AudioSet twins (``PROXY_LABELS``: dog/Dog, door_wood_knock/Knock, ...) stand in: each
pooling is calibrated on windows of ESC-50 folds 3-5 and the training part of the noise
recordings (the offset that puts the 0.1 %-of-negatives logit on ``threshold_on``), then
the twin scores alone go through the detector at its defaults over validation fold 2's
400 clips in the four rooms of :func:`soundwatch.train.event_eval.fold_event_report`
(the other clips are there to fire falsely), and over 10 min each of the tuning speech and
music (benchmarks/tune_detector.py's streams).

The body's time cells are read from the validation model's ONNX file (``runs/quiet/quiet1``:
YAMNet's frozen body and AudioSet head are the same in every model of this recipe), by
adding the tensor that YAMNet's mean pools as an output.

Rule, fixed before it ran: max pooling is worth the retraining (its offset changes the
home labels of every fold's model) if its mean recall over the four rooms beats the
mean pooling's by at least 2 points, with each room's false events per hour at most 1.1
times the mean pooling's and each tuning stream's at most max(2, mean pooling's).

Reads ../shared/data. Run: .venv/bin/python -m benchmarks.home_pooling_choice runs/quiet/quiet1
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from benchmarks.machine import emit, require_shared_data
from benchmarks.streams import RATE_HZ, background_stream, esc50_path, esc50_rows
from soundwatch.audio.files import load_audio
from soundwatch.detect import DetectorSettings
from soundwatch.features import compute_features
from soundwatch.model import Classifier
from soundwatch.model_format import EMBEDDING_NAME, INPUT_NAME
from soundwatch.scoring import detect_events, score_stream
from soundwatch.train.event_eval import fold_event_report
from soundwatch.train.false_alarms import background_tail_stream
from soundwatch.train.home_labels import PROXY_LABELS, class_indices
from soundwatch.train.pretrained import calibrate_home_offset

VALIDATION_FOLD = 2
TRAINING_FOLDS = (3, 4, 5)
LOUD_MARGIN_DB = 20.0  # a window is its clip's when it holds MIN_LOUD_FRAMES frames
MIN_LOUD_FRAMES = 10  # within this of the clip's loudest (the training recipe's rule)
POOLINGS = ("mean", "max")


class TimeCells:
    """YAMNet's last-layer time cells and AudioSet head, read from a model file."""

    def __init__(self, model_path: Path):
        import onnx
        import onnxruntime
        from onnx import helper, numpy_helper

        model = onnx.load(str(model_path))
        graph = model.graph
        pooled = next(n for n in graph.node if EMBEDDING_NAME in n.output)
        graph.output.append(helper.make_tensor_value_info(pooled.input[0],
                                                          onnx.TensorProto.FLOAT, None))
        self.cells_name = pooled.input[0]  # (batch, 1024, cells): YAMNet averages these
        head = next(n for n in graph.node if n.op_type == "Gemm" and EMBEDDING_NAME in n.input)
        initial = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        casts = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Cast"}

        def value(name):
            return initial[name] if name in initial else initial[casts[name]]

        self.weight = value(head.input[1]).astype(np.float32)  # (521, 1024)
        self.bias = value(head.input[2]).astype(np.float32)
        self.session = onnxruntime.InferenceSession(model.SerializeToString(),
                                                    providers=["CPUExecutionProvider"])

    def logits(self, windows: np.ndarray) -> np.ndarray:
        """(batch, frames, bands) log-mel -> (batch, cells, 521) AudioSet logits per cell."""
        feed = {INPUT_NAME: np.ascontiguousarray(windows[:, None], dtype=np.float32)}
        cells = self.session.run([self.cells_name], feed)[0]
        return np.einsum("bdc,kd->bck", cells, self.weight) + self.bias


def pooled(cell_logits: np.ndarray, pooling: str) -> np.ndarray:
    """(batch, cells, 521) -> (batch, 521): the logit of the mean embedding, or the highest
    cell's."""
    return cell_logits.mean(axis=1) if pooling == "mean" else cell_logits.max(axis=1)


class TwinScores:
    """A classifier whose labels are the proxy labels, scored by their AudioSet twins only
    (the best twin's pooled logit plus the calibrated offset, through a sigmoid)."""

    def __init__(self, inner: Classifier, cells: TimeCells, groups: dict[str, list[int]],
                 pooling: str, offset: float):
        self.inner, self.cells, self.pooling, self.offset = inner, cells, pooling, offset
        self.labels = tuple(groups)
        self.groups = list(groups.values())
        self.has_embedding = False
        self.class_defaults = {}

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def score(self, windows: np.ndarray):
        logits = pooled(self.cells.logits(np.asarray(windows, np.float32)), self.pooling)
        best = np.stack([logits[:, g].max(axis=1) for g in self.groups], axis=1)
        return (1.0 / (1.0 + np.exp(-(best + self.offset)))).astype(np.float32), None


def training_windows(classifier: Classifier, cells: TimeCells, used_fraction: float
                     ) -> tuple[dict[str, np.ndarray], list[str | None]]:
    """Pooled logits of the training folds' windows and the noise recordings' training
    part, and each window's label (None: background, or too little of its clip's sound)."""
    hop, size = classifier.hop_frames_for(None), classifier.window_frames
    by_pooling: dict[str, list[np.ndarray]] = {p: [] for p in POOLINGS}
    labels: list[str | None] = []

    def add(features: np.ndarray, label: str | None, loud: np.ndarray | None) -> None:
        starts = range(0, max(1, len(features) - size + 1), hop)
        windows = np.stack([features[s:s + size] for s in starts])
        cell_logits = cells.logits(windows)
        for pooling in POOLINGS:
            by_pooling[pooling].append(pooled(cell_logits, pooling))
        for s in starts:
            active = loud is not None and loud[s:s + size].sum() >= MIN_LOUD_FRAMES
            labels.append(label if active else None)

    for row in esc50_rows():
        if int(row["fold"]) not in TRAINING_FOLDS:
            continue
        features = compute_features(load_audio(esc50_path(row), RATE_HZ)[0], classifier.spec)
        level = np.exp(features.astype(np.float64)).mean(axis=1)
        loud = 20 * np.log10(level / level.max()) >= -LOUD_MARGIN_DB
        add(features, row["category"], loud)
    for path in sorted((require_shared_data() / "background" / "audio").glob("*.*")):
        signal = load_audio(path, RATE_HZ)[0]
        add(compute_features(signal[:int(len(signal) * used_fraction)], classifier.spec),
            None, None)
    return {p: np.concatenate(v) for p, v in by_pooling.items()}, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="the validation run (runs/quiet/quiet1)")
    args = parser.parse_args()
    data = require_shared_data()
    summary = json.loads((args.run / "summary.json").read_text())
    used = summary["config"]["background_fraction"]
    classifier = Classifier(args.run / "model.onnx", threads=1)
    cells = TimeCells(args.run / "model.onnx")
    with open(data / "yamnet" / "yamnet_class_map.csv", newline="") as handle:
        class_names = [row["display_name"] for row in csv.DictReader(handle)]
    groups = class_indices(PROXY_LABELS, class_names)
    logits, labels = training_windows(classifier, cells, used)
    threshold_on = DetectorSettings().threshold_on
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for r in esc50_rows(VALIDATION_FOLD)]
    noise = background_tail_stream(sorted((data / "background" / "audio").glob("*.*")),
                                   RATE_HZ, used)
    held_out = {Path(p).name for p in summary["held_out_files"]}
    tuning = {kind: background_stream(kind, 600, exclude=held_out) for kind in ("speech", "music")}
    results = {}
    for pooling in POOLINGS:
        calibration = calibrate_home_offset(logits[pooling], groups, labels, threshold_on)
        twins = TwinScores(classifier, cells, groups, pooling, calibration["offset"])
        rooms = fold_event_report(twins, clips, noise, DetectorSettings())
        result = {"calibration": {k: round(v, 4) for k, v in calibration.items()},
                  "rooms": {room: {k: figures[k] for k in ("recall", "false_events_per_hour",
                                                           "latency_p50_s", "per_label_recall")}
                            for room, figures in rooms.items()}}
        result["mean_recall"] = round(float(np.mean([r["recall"] for r in
                                                     result["rooms"].values()])), 4)
        for kind, signal in tuning.items():
            scored = score_stream(signal, twins, twins.hop_frames_for(None))
            events = detect_events(twins, scored, DetectorSettings())
            result[f"false_events_per_hour_{kind}"] = round(
                len(events) / (len(signal) / RATE_HZ / 3600), 2)
        results[pooling] = result
    emit("home_pooling_choice", "the AudioSet twins of ESC-50 labels as home labels are "
         "scored: recall and false events on validation fold 2, mean against max pooling "
         "over YAMNet's time cells", results)


if __name__ == "__main__":
    main()
