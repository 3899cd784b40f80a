"""The seed tutorials' approach, measured on the same folds: the honest reference point.

Each clip becomes one vector, the mean over time of 40 MFCCs (computed with the app's own
feature code), and two classifiers learn from those: a small dense network and a random
forest (scikit-learn). No windows, no augmentation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from soundwatch.errors import SoundwatchError
from soundwatch.features import FeatureSpec
from soundwatch.train.datasets import ClipRecord
from soundwatch.train.feature_cache import load_feature_bank

BASELINE_SPEC = dataclasses.replace(FeatureSpec(), n_mfcc=40)


def mean_mfcc_vectors(records: Sequence[ClipRecord], cache_dir=None,
                      progress: bool = True) -> np.ndarray:
    """(n_clips, 40) mean MFCC of each clip."""
    bank = load_feature_bank(records, BASELINE_SPEC, cache_dir, progress, name="mfcc40")
    return np.stack([bank.clip(i).mean(axis=0) for i in range(len(records))])


def _require_sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise SoundwatchError("the baselines need scikit-learn; install it: "
                              ".venv/bin/pip install scikit-learn") from exc


def baseline_fold_accuracies(records: Sequence[ClipRecord], folds: Sequence[int],
                             seed: int = 0, cache_dir=None, progress: bool = True
                             ) -> dict[str, dict[int, float]]:
    """Clip accuracy of each baseline on each test fold (trained on the other folds).

    Returns:
        {"mfcc40_mean_dense": {fold: accuracy}, "mfcc40_mean_random_forest": {...}}
    """
    _require_sklearn()
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    vectors = mean_mfcc_vectors(records, cache_dir, progress)
    labels = np.array([r.label for r in records])
    record_folds = np.array([r.fold for r in records])
    results: dict[str, dict[int, float]] = {"mfcc40_mean_dense": {},
                                            "mfcc40_mean_random_forest": {}}
    for fold in folds:
        train, test = record_folds != fold, record_folds == fold
        dense = make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(256, 128), alpha=1e-3, max_iter=500, early_stopping=True,
            random_state=seed))
        forest = RandomForestClassifier(n_estimators=500, random_state=seed, n_jobs=2)
        for name, model in (("mfcc40_mean_dense", dense),
                            ("mfcc40_mean_random_forest", forest)):
            model.fit(vectors[train], labels[train])
            results[name][int(fold)] = float(np.mean(model.predict(vectors[test])
                                                     == labels[test]))
    return results
