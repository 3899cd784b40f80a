"""Clip accuracy as `soundwatch classify` summarises a recording.

`classify` ranks a file's labels by their mean score over its *active* windows (those
within :data:`~soundwatch.scoring.ACTIVE_RANGE_DB` of its loudest window,
:attr:`~soundwatch.scoring.StreamScores.active_mean`). Training's own clip accuracy
(``test_scores.npz``) averages every window. Here a run's test clips go through the app's
path (:func:`~soundwatch.scoring.score_stream`, the ONNX model, its hop) and each clip is
labelled by a summary, the highest among the labels its dataset competes for.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from soundwatch.audio.files import load_audio
from soundwatch.scoring import ACTIVE_RANGE_DB, score_stream

CACHE_NAME = "clip_summary.json"


def summary_accuracies(run_dir: Path, ranges_db=()) -> dict:
    """Clip accuracy (0-1) of ``run_dir``'s ``model.onnx`` on its test clips.

    Args:
        run_dir: a training run folder with ``model.onnx`` and ``test_scores.npz`` (whose
            ``files`` must still be readable).
        ranges_db: also the accuracy over the windows within each of these many dB of
            the loudest, exactly (``active_<R>_db``).

    Returns:
        {"clips", "mean" (every window), "active_mean" (ACTIVE_RANGE_DB, as classify
        ranks), "max" (the highest window), "active_<R>_db" ...}.

    Raises:
        SoundwatchError: a clip cannot be read.
    """
    from soundwatch.model import Classifier

    with np.load(run_dir / "test_scores.npz") as data:
        files, targets, competing = data["files"], data["targets"], data["competing"]
    classifier = Classifier(run_dir / "model.onnx", threads=1)
    right: dict[str, list[bool]] = {"mean": [], "active_mean": [], "max": []}
    right.update({f"active_{r:g}_db": [] for r in ranges_db})

    def label(summary: np.ndarray) -> int:
        return int(competing[np.argmax(summary[competing])])

    for path, target in zip(files, targets, strict=True):
        scored = score_stream(load_audio(str(path), classifier.sample_rate_hz)[0], classifier,
                              pad_to_window=True)
        right["mean"].append(label(scored.mean) == target)
        right["max"].append(label(scored.score_max) == target)
        right["active_mean"].append(label(scored.active_mean) == target)
        for r in ranges_db:
            active = scored.levels_dbfs >= scored.levels_dbfs.max() - r
            right[f"active_{r:g}_db"].append(label(scored.scores[active].mean(axis=0)) == target)
    return {"clips": len(files), **{name: float(np.mean(v)) for name, v in right.items()}}


def folds_active_accuracy(fold_dirs: dict[int, Path]) -> dict:
    """Each fold's :func:`summary_accuracies` (cached in the fold folder as
    :data:`CACHE_NAME`, for this ACTIVE_RANGE_DB), gathered.

    Returns:
        {"folds_active_mean": {fold: accuracy}, "active_mean", "active_std",
        "active_range_db"}, or {} when a fold's model or clips are missing.
    """
    per_fold = {}
    for fold, folder in fold_dirs.items():
        cache = folder / CACHE_NAME
        if cache.is_file():
            cached = json.loads(cache.read_text())
            if cached.get("active_range_db") == ACTIVE_RANGE_DB:
                per_fold[fold] = cached["active_mean"]
                continue
        if not (folder / "model.onnx").is_file():
            return {}
        with np.load(folder / "test_scores.npz") as data:
            if not all(Path(str(f)).is_file() for f in data["files"]):
                return {}
        figures = summary_accuracies(folder)
        cache.write_text(json.dumps({**figures, "active_range_db": ACTIVE_RANGE_DB}, indent=1))
        per_fold[fold] = figures["active_mean"]
    if not per_fold:
        return {}
    values = np.array(list(per_fold.values()))
    return {"folds_active_mean": per_fold, "active_mean": float(values.mean()),
            "active_std": float(values.std()), "active_range_db": ACTIVE_RANGE_DB}
