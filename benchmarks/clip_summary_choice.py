"""How `soundwatch classify` summarises a recording: ESC-50 clip accuracy of the mean
score over every window against the mean over the *active* windows (those within R dB of
the clip's loudest window, :attr:`soundwatch.scoring.StreamScores.active_mean`).

Each clip goes through the app's path (:mod:`soundwatch.train.clip_summary`).

- ``--choose RUN``: a validation run (trained without its test fold and without the
  left-out fold 1: ``runs/quiet/quiet1``, test fold 2) compares R; the R kept as
  ``ACTIVE_RANGE_DB`` is the best one there (rule fixed before the five folds were
  scored: adopt the active mean when it beats the mean over all windows by >= 1 point).
- ``--folds RUN_DIR``: the five held-out folds of a cross-validation (``runs/cv_quiet``,
  version 8's recipe) at ``ACTIVE_RANGE_DB``, beside the mean over all windows.

Reads the ESC-50 clips named in each run's ``test_scores.npz`` (../shared/data).
Run: .venv/bin/python -m benchmarks.clip_summary_choice --choose runs/quiet/quiet1 --folds runs/cv_quiet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.machine import emit
from soundwatch.scoring import ACTIVE_RANGE_DB
from soundwatch.train.clip_summary import summary_accuracies

RANGES_DB = (6.0, 10.0, 20.0, 30.0)


def clip_accuracies(run: Path, ranges_db) -> dict:
    """:func:`summary_accuracies` in per cent."""
    figures = summary_accuracies(run, ranges_db)
    return {k: v if k == "clips" else round(100.0 * v, 2) for k, v in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--choose", type=Path, help="validation run folder")
    parser.add_argument("--folds", type=Path, help="cross-validation folder (fold1..fold5)")
    args = parser.parse_args()
    results: dict = {"active_range_db": ACTIVE_RANGE_DB}
    if args.choose:
        results["validation"] = {"run": str(args.choose),
                                 **clip_accuracies(args.choose, RANGES_DB)}
    if args.folds:
        folds = {fold.name: clip_accuracies(fold, ()) for fold in
                 sorted(args.folds.glob("fold[1-5]")) if (fold / "test_scores.npz").is_file()}
        results["folds"] = folds
        for name in ("mean", "active_mean", "max"):
            values = np.array([f[name] for f in folds.values()])
            results[f"{name}_over_folds"] = {"mean": round(float(values.mean()), 2),
                                             "std": round(float(values.std()), 2)}
    emit("clip_summary_choice", "ESC-50 clip accuracy (%) of a recording's summary: the mean "
         "score over every window, over the active windows (within R dB of the loudest), "
         "and the highest window score", results)


if __name__ == "__main__":
    main()
