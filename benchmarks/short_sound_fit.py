"""Can a model hear single short sounds in household noise, and did it learn them? (reads
../shared/data)

Two measures per model, both on each clip's loudest single sound (at most 1 s,
``soundwatch.train.event_eval.short_excerpt``):

- ``held_out``: the excerpts of a fold the model never trained on, ``ebr`` dB above household
  noise (the unseen tails of the background recordings), 3 s apart, scored through the
  app's path; per excerpt the highest score of its own label over the windows that
  overlap it. Also in a quiet room, 20 dB above -35 dBFS, to separate "short" from
  "in noise".
- ``training_windows``: the windows ``short_training_windows`` cuts (the recipe's
  ``short_copies``) from a fold the model *did* train on; per excerpt the highest score
  of its own label over its positive windows. Low scores here mean the network cannot
  fit them (the recipe, not the data, is the limit).

    python -m benchmarks.short_sound_fit --model runs/short/short1/model.onnx \
        --held-out-fold 2 --trained-fold 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.machine import require_shared_data
from benchmarks.streams import RATE_HZ, esc50_path, esc50_rows
from soundwatch.audio.files import load_audio
from soundwatch.features import YAMNET_SPEC, FeatureExtractor, compute_features
from soundwatch.model import Classifier
from soundwatch.scoring import score_stream
from soundwatch.train.datasets import ClipRecord
from soundwatch.train.event_eval import (
    SHORT_EBRS_DB,
    noise_bed,
    place_clips,
    quiet_bed,
    short_excerpts_at,
    stream_length,
)
from soundwatch.train.false_alarms import background_tail_stream
from soundwatch.train.feature_cache import FeatureBank
from soundwatch.train.settings import HeadConfig

QUIET_EBR_DB = 20.0  # the excerpts 20 dB above the noise bed's level, in a quiet room


def peak_summary(peaks: list[float]) -> dict:
    values = np.asarray(peaks)
    return {"excerpts": len(values), "median_peak": round(float(np.median(values)), 3),
            "share_at_0_5": round(float(np.mean(values >= 0.5)), 3),
            "share_at_0_8": round(float(np.mean(values >= 0.8)), 3)}


def held_out_peaks(classifier: Classifier, clips, bed: np.ndarray | None, ebr_db: float,
                   extractor: FeatureExtractor | None = None) -> dict:
    """Own-label peak score of each excerpt placed ``ebr_db`` above ``bed``'s level (None:
    a quiet room); ``extractor``: the features (default: the model's own)."""
    excerpts = short_excerpts_at(clips, RATE_HZ, ebr_db)
    n = stream_length(excerpts, RATE_HZ)
    signal, truth = place_clips(excerpts, quiet_bed(n) if bed is None else noise_bed(bed, n),
                                RATE_HZ)
    scored = score_stream(signal, classifier, classifier.hop_frames_for(None),
                          extractor or FeatureExtractor(classifier.spec))
    ends_s = scored.end_samples / RATE_HZ
    peaks = []
    for t in truth:
        over = (ends_s > t.onset_s) & (ends_s - classifier.window_s < t.end_s)
        own = scored.scores[over, classifier.labels.index(t.label)]
        peaks.append(float(own.max()) if len(own) else 0.0)
    return peak_summary(peaks)


def feature_bank(paths: list[Path], labels: list[str]) -> FeatureBank:
    features = [compute_features(load_audio(p, RATE_HZ)[0], YAMNET_SPEC) for p in paths]
    records = [ClipRecord(path=p, label=label, dataset="x", fold=None)
               for p, label in zip(paths, labels, strict=True)]
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in features])]).astype(np.int64)
    return FeatureBank(records, np.concatenate(features), offsets)


def training_window_peaks(classifier: Classifier, rows: list[dict], config: HeadConfig
                          ) -> dict:
    from soundwatch.train.pretrained import short_training_windows

    data = require_shared_data()
    bank = feature_bank([esc50_path(r) for r in rows], [r["category"] for r in rows])
    noise_paths = sorted((data / "background" / "audio").glob("*.flac"))
    noise = feature_bank(noise_paths, [""] * len(noise_paths))
    windows = short_training_windows(bank, noise, config, [False] * len(rows),
                                     np.random.default_rng(config.seed + 1))
    scores, _ = classifier.score(windows.windows)
    best: dict[int, float] = defaultdict(float)
    for row, record in enumerate(windows.record):
        if windows.active[row] >= config.min_active_frames:
            label = classifier.labels.index(bank.records[record].label)
            best[record] = max(best[record], float(scores[row, label]))
    return peak_summary(list(best.values()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", required=True, type=Path)
    parser.add_argument("--held-out-fold", type=int, default=2)
    parser.add_argument("--trained-fold", type=int, default=3)
    parser.add_argument("--every", type=int, default=4,
                        help="every Nth clip of the trained fold (speed)")
    args = parser.parse_args(argv)
    data = require_shared_data()
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for r in esc50_rows(args.held_out_fold)]
    noise = background_tail_stream(sorted((data / "background" / "audio").glob("*.*")),
                                   RATE_HZ, HeadConfig().background_fraction)
    config = dataclasses.replace(HeadConfig(), short_copies=1)
    out = {}
    for model in args.model:
        classifier = Classifier(model, threads=1)
        out[str(model)] = {
            "held_out": {f"ebr_{ebr:g}_db": held_out_peaks(classifier, clips, noise, ebr)
                         for ebr in SHORT_EBRS_DB}
            | {"quiet_room": held_out_peaks(classifier, clips, None, QUIET_EBR_DB)},
            "training_windows": training_window_peaks(
                classifier, esc50_rows(args.trained_fold)[::args.every], config),
        }
        print(json.dumps({str(model): out[str(model)]}), flush=True)
    print(json.dumps({"held_out_fold": args.held_out_fold, "trained_fold": args.trained_fold,
                      "models": out}, indent=1))


if __name__ == "__main__":
    main()
