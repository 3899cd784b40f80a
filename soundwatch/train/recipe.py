"""From dataset folders to what the training loop needs: labels, splits, features, sampler.

Splits never leak: the test fold (when given) is removed before anything else; the
validation clips are whole recordings (``ClipRecord.group``) taken from the rest; and a
fixed share of the files of fold-less datasets (speech, music) is held out of training
altogether, for the false-alarm measurements.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundwatch.errors import SoundwatchError
from soundwatch.features import FeatureSpec
from soundwatch.train.datasets import (
    ClipRecord,
    dataset_name,
    labels_in_order,
    read_background_folder,
    read_esc50,
    read_folder_per_class,
    read_label_folder,
    read_urbansound8k,
)
from soundwatch.train.feature_cache import FeatureBank, load_feature_bank

log = logging.getLogger(__name__)


@dataclass
class DataSources:
    """The dataset folders of a run, as given on the command line."""

    esc50: Path | None = None
    urbansound8k: Path | None = None
    folder_per_class: list[Path] = field(default_factory=list)
    label_folders: list[tuple[str, Path]] = field(default_factory=list)
    backgrounds: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        """The sources by folder name (no machine-specific absolute paths)."""
        parts = []
        if self.esc50:
            parts.append(f"ESC-50 ({dataset_name(Path(self.esc50))})")
        if self.urbansound8k:
            parts.append(f"UrbanSound8K ({dataset_name(Path(self.urbansound8k))})")
        parts += [f"folders per class ({dataset_name(Path(p))})" for p in self.folder_per_class]
        parts += [f"{label!r} ({dataset_name(Path(p))})" for label, p in self.label_folders]
        parts += [f"background ({dataset_name(Path(p))})" for p in self.backgrounds]
        return ", ".join(parts)


def collect_records(sources: DataSources) -> tuple[list[ClipRecord], list[ClipRecord]]:
    """(event records, background records) of all sources, checked."""
    events: list[ClipRecord] = []
    if sources.esc50:
        events += read_esc50(sources.esc50)
    if sources.urbansound8k:
        events += read_urbansound8k(sources.urbansound8k)
    for root in sources.folder_per_class:
        events += read_folder_per_class(root)
    for label, root in sources.label_folders:
        events += read_label_folder(root, label)
    backgrounds = [r for root in sources.backgrounds for r in read_background_folder(root)]
    if not events:
        raise SoundwatchError("no training data: give at least one of --esc50, "
                              "--urbansound8k, --folder-per-class, --folder LABEL=DIR")
    return events, backgrounds


def split_groups(records: Sequence[ClipRecord], fraction: float, seed: int
                 ) -> tuple[list[ClipRecord], list[ClipRecord]]:
    """(kept, taken): per label, about ``fraction`` of the recordings (groups) are taken.

    At least one group per label is taken when ``fraction > 0`` and the label has two or
    more groups, so every label is represented in both parts.
    """
    if fraction <= 0:
        return list(records), []
    rng = np.random.default_rng(seed)
    taken_groups: set[tuple[str, str]] = set()
    for label in labels_in_order(records):
        groups = sorted({r.group for r in records if r.label == label})
        if len(groups) < 2:
            continue
        n_taken = min(len(groups) - 1, max(1, round(fraction * len(groups))))
        for group in rng.choice(groups, n_taken, replace=False):
            taken_groups.add((label, str(group)))
    kept = [r for r in records if (r.label, r.group) not in taken_groups]
    taken = [r for r in records if (r.label, r.group) in taken_groups]
    return kept, taken


@dataclass
class Splits:
    labels: list[str]
    train: list[ClipRecord]
    validation: list[ClipRecord]
    test: list[ClipRecord]
    holdout: list[ClipRecord]  # fold-less files kept out of training (false-alarm tests)
    backgrounds: list[ClipRecord]


def make_splits(sources: DataSources, test_fold: int | None, val_fraction: float,
                holdout_fraction: float, seed: int) -> Splits:
    """Read the sources and split them (see the module docstring)."""
    events, backgrounds = collect_records(sources)
    labels = labels_in_order(events)
    folds = {r.fold for r in events if r.fold is not None}
    if test_fold is not None and test_fold not in folds:
        raise SoundwatchError(
            f"--test-fold {test_fold}: the data has folds {sorted(folds)}" if folds else
            f"--test-fold {test_fold}: the data has no official folds (ESC-50 and "
            "UrbanSound8K have them; folders do not): leave --test-fold out")
    test = [r for r in events if test_fold is not None and r.fold == test_fold]
    rest = [r for r in events if test_fold is None or r.fold != test_fold]
    with_folds = [r for r in rest if r.fold is not None]
    fold_less, holdout = split_groups([r for r in rest if r.fold is None],
                                      holdout_fraction, seed + 1)
    # Validation clips come from the fold datasets when there are any (short benchmark
    # clips, quick to score each epoch); long fold-less files then all go to training.
    pool = with_folds if with_folds else fold_less
    train, validation = split_groups(pool, val_fraction, seed + 2)
    if with_folds:
        train += fold_less
    return Splits(labels, train, validation, test, holdout, backgrounds)


@dataclass
class PreparedData:
    labels: list[str]
    train: FeatureBank
    validation: FeatureBank | None
    test: FeatureBank | None
    backgrounds: FeatureBank | None
    splits: Splits


def load_banks(splits: Splits, spec: FeatureSpec, cache_dir: Path | None,
               progress: bool = True, workers: int = 1) -> PreparedData:
    """Features of every split, from the cache where possible (``workers`` processes
    compute those not cached).

    All event files go through one cache file (so each fold of a cross-validation reuses
    it) and are then sliced per split.
    """
    everything = splits.train + splits.validation + splits.test
    bank = load_feature_bank(sorted(set(everything), key=lambda r: str(r.path)), spec,
                             cache_dir, progress, name="events", workers=workers)
    position = {r: i for i, r in enumerate(bank.records)}

    def subset(records: list[ClipRecord]) -> FeatureBank | None:
        if not records:
            return None
        indices = [position[r] for r in records]
        parts = [bank.clip(i) for i in indices]
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        return FeatureBank(list(records), np.concatenate(parts), offsets)

    backgrounds = (load_feature_bank(splits.backgrounds, spec, cache_dir, progress,
                                     name="backgrounds") if splits.backgrounds else None)
    return PreparedData(splits.labels, subset(splits.train), subset(splits.validation),
                        subset(splits.test), backgrounds, splits)


def label_targets(bank: FeatureBank, labels: list[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index[r.label] for r in bank.records], dtype=np.int64)
