"""Cross-validation on official folds: per-fold clip accuracy, per-class accuracy, confusion.

Each fold is one run of :func:`soundwatch.train.run.run_training` in ``OUT/fold<k>``
(resumable; a finished fold, one with ``summary.json``, is not trained again). This module
gathers the folds' ``test_scores.npz`` into the figures of the model card.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def fold_dir(out_dir: Path, fold: int) -> Path:
    return out_dir / f"fold{fold}"


def fold_finished(out_dir: Path, fold: int) -> bool:
    folder = fold_dir(out_dir, fold)
    return (folder / "summary.json").is_file() and (folder / "test_scores.npz").is_file()


def gather_folds(out_dir: Path, folds: list[int]) -> dict:
    """Figures over the finished folds among ``folds``.

    Returns:
        {"folds": {k: accuracy}, "folds_max_pooling": {...}, "mean", "std",
         "per_class": {label: accuracy}, "confusion": (n, n) list, "labels": [...],
         "epochs": {k: epochs run}, "best_epochs": {k: epoch kept},
         "train_seconds": {k: s}, "commands": {k: command that trained the fold}};
        accuracies are clip-level, with window scores averaged over the clip, argmax over
        the test dataset's labels.
    """
    accuracies, max_pooling, epochs, seconds, commands = {}, {}, {}, {}, {}
    best_epochs = {}
    all_predicted, all_targets = [], []
    labels: list[str] = []
    competing = None
    for fold in folds:
        if not fold_finished(out_dir, fold):
            continue
        folder = fold_dir(out_dir, fold)
        summary = json.loads((folder / "summary.json").read_text())
        labels = summary["labels"]
        with np.load(folder / "test_scores.npz") as data:
            scores, targets, competing = data["mean_scores"], data["targets"], data["competing"]
        predicted = competing[np.argmax(scores[:, competing], axis=1)]
        accuracies[fold] = float(np.mean(predicted == targets))
        max_pooling[fold] = summary.get("test_accuracy_max_pooling")
        epochs[fold] = summary["epochs_run"]
        best_epochs[fold] = summary["best_epoch"]
        seconds[fold] = summary["train_seconds"]
        commands[fold] = summary["command"]
        all_predicted.append(predicted)
        all_targets.append(targets)
    if not accuracies:
        return {"folds": {}}
    predicted = np.concatenate(all_predicted)
    targets = np.concatenate(all_targets)
    class_labels = [labels[i] for i in competing]
    position = {label_index: k for k, label_index in enumerate(competing)}
    confusion = np.zeros((len(competing), len(competing)), dtype=np.int64)
    for t, p in zip(targets, predicted, strict=True):
        confusion[position[int(t)], position[int(p)]] += 1
    per_class = {label: float(confusion[k, k] / max(1, confusion[k].sum()))
                 for k, label in enumerate(class_labels)}
    values = np.array(list(accuracies.values()))
    return {"folds": accuracies, "folds_max_pooling": max_pooling,
            "mean": float(values.mean()), "std": float(values.std()),
            "per_class": per_class, "confusion": confusion.tolist(), "labels": class_labels,
            "epochs": epochs, "best_epochs": best_epochs, "train_seconds": seconds,
            "commands": commands}


def plot_confusion(confusion: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    """Row-normalised confusion matrix (true rows, predicted columns) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion, dtype=float)
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = max(6.0, 0.22 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size, size * 0.95), dpi=90)
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)))
    axes.set_yticks(range(len(labels)))
    axes.set_xticklabels(labels, rotation=90, fontsize=7)
    axes.set_yticklabels(labels, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.03, pad=0.02, label="share of the true class")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
