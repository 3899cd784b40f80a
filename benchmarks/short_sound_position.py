"""Does a short sound score lower when it sits late in the window? (reads ../shared/data)

For ESC-50 clips of short sounds from a fold the model never trained on, the first 0.5 s
from the clip's onset (first sample within 30 dB of its peak) is placed into faint noise
(-50 dBFS) at offsets 0, 0.1, ... 0.6 s from the start of one model window, and that
window is scored through the app's own path (``soundwatch.scoring.score_stream``). Per
offset: the mean score of the clip's own label and the share of clips at or above the
detector's default ``threshold_on``.

    python -m benchmarks.short_sound_position --model runs/cv/fold1/model.onnx --fold 1 \
        > benchmarks/short_sound_position.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.machine import require_shared_data
from benchmarks.streams import RATE_HZ, esc50_path, esc50_rows
from soundwatch.audio.files import load_audio
from soundwatch.detect import DetectorSettings
from soundwatch.features import FeatureExtractor
from soundwatch.model import Classifier
from soundwatch.scoring import score_stream

SHORT_CLASSES = ("dog", "coughing", "door_wood_knock", "sneezing", "glass_breaking",
                 "can_opening", "mouse_click", "clapping")
OFFSETS_S = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SNIPPET_S = 0.5
NOISE_DBFS = -50.0


def onset_sample(clip: np.ndarray) -> int:
    """First sample within 30 dB of the clip's peak."""
    level = np.abs(clip)
    return int(np.argmax(level >= level.max() * 10 ** (-30 / 20)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a model that never saw --fold")
    parser.add_argument("--fold", type=int, default=1)
    args = parser.parse_args(argv)
    require_shared_data()
    classifier = Classifier(args.model, threads=1)
    extractor = FeatureExtractor(classifier.spec)
    window = classifier.window_samples
    threshold = DetectorSettings().threshold_on
    rng = np.random.default_rng(0)
    rows = [r for r in esc50_rows(args.fold) if r["category"] in SHORT_CLASSES]
    scores = {offset: [] for offset in OFFSETS_S}
    for row in rows:
        clip, _ = load_audio(esc50_path(row), RATE_HZ)
        start = onset_sample(clip)
        snippet = clip[start:start + int(SNIPPET_S * RATE_HZ)]
        label = classifier.labels.index(row["category"])
        for offset in OFFSETS_S:
            signal = (rng.standard_normal(window) * 10 ** (NOISE_DBFS / 20)).astype(np.float32)
            at = int(offset * RATE_HZ)
            piece = snippet[:window - at]
            signal[at:at + len(piece)] += piece
            scored = score_stream(signal, classifier, classifier.hop_frames_for(None), extractor)
            scores[offset].append(float(scored.scores[0, label]))
    print(json.dumps({
        "model": args.model, "fold": args.fold, "classes": SHORT_CLASSES, "clips": len(rows),
        "snippet_s": SNIPPET_S, "noise_dbfs": NOISE_DBFS, "threshold_on": threshold,
        "window_s": classifier.window_s,
        "by_offset_s": {str(offset): {"mean_score": round(float(np.mean(values)), 3),
                                      "share_at_threshold": round(float(np.mean(
                                          np.array(values) >= threshold)), 3)}
                        for offset, values in scores.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
