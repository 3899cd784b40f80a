"""Which windows a training epoch sees, and the windows of whole clips for evaluation.

An epoch draws, for every label, ``crops_per_label`` windows (the median number of files
per label: every ESC-50 clip once; long speech/music files share their label's quota), plus
``negatives`` background-only windows whose targets are all zero, at random gains down to a
near-silent room. Event windows start where the clip is loud (:func:`loud_window_starts`),
never in a silent stretch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soundwatch.train.augment import crop, loud_window_starts
from soundwatch.train.feature_cache import FeatureBank


@dataclass
class EpochItem:
    """One window to cut: ``bank_index`` into the events (or background when negative)."""

    bank_index: int
    negative: bool


class WindowSampler:
    """Draws the windows of each epoch from cached features.

    Args:
        events: features of labelled files.
        labels: the model's labels; ``events.records[i].label`` is one of them.
        backgrounds: features of background noise (negatives and mixing), or None.
        background_fraction: share of each background file used here (from its start);
            the rest stays unseen, for false-alarm measurements.
        window_frames: frames per window.
        pad_db: dB value of silence (pads clips shorter than a window).
        silence_margin_db: event crops start within this many dB of the loudest window.
        crops_per_label: windows per label per epoch; None for the median files per label.
        negatives: background-only windows per epoch; None for 2 x crops_per_label.
    """

    def __init__(self, events: FeatureBank, labels: list[str], backgrounds: FeatureBank | None,
                 window_frames: int, pad_db: float, background_fraction: float = 0.7,
                 silence_margin_db: float = 20.0, crops_per_label: int | None = None,
                 negatives: int | None = None):
        self.events = events
        self.labels = labels
        self.window_frames = window_frames
        self.pad_db = pad_db
        label_index = {label: i for i, label in enumerate(labels)}
        self.targets = np.array([label_index[r.label] for r in events.records], dtype=np.int64)
        self.starts = [loud_window_starts(events.clip(i), window_frames, silence_margin_db)
                       for i in range(len(events.records))]
        counts = np.bincount(self.targets, minlength=len(labels))
        self.by_label = [np.flatnonzero(self.targets == k) for k in range(len(labels))]
        present = counts[counts > 0]
        self.crops_per_label = int(crops_per_label or max(1, int(np.median(present))))
        self.n_negatives = int(2 * self.crops_per_label if negatives is None else negatives)
        self.background_windows: np.ndarray | None = None
        if backgrounds is not None:
            self.background_windows = self._background_frames(backgrounds, background_fraction)

    def _background_frames(self, bank: FeatureBank, fraction: float) -> np.ndarray:
        """The training part of each background file, concatenated: (frames, n)."""
        parts = [bank.clip(i)[: int(bank.n_frames(i) * fraction)]
                 for i in range(len(bank.records))]
        parts = [p for p in parts if len(p) >= self.window_frames]
        return np.concatenate(parts) if parts else None

    def epoch_items(self, rng: np.random.Generator) -> list[EpochItem]:
        """The shuffled windows of one epoch."""
        items: list[EpochItem] = []
        for members in self.by_label:
            if len(members) == 0:
                continue
            if len(members) >= self.crops_per_label:
                lengths = np.array([self.events.n_frames(i) for i in members], dtype=float)
                chosen = rng.choice(members, self.crops_per_label, replace=False,
                                    p=lengths / lengths.sum())
            else:
                extra = rng.choice(members, self.crops_per_label - len(members))
                chosen = np.concatenate([members, extra])
            items.extend(EpochItem(int(i), False) for i in chosen)
        if self.background_windows is not None:
            items.extend(EpochItem(-1, True) for _ in range(self.n_negatives))
        order = rng.permutation(len(items))
        return [items[i] for i in order]

    def background_crops(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """(count, window_frames, n) random background windows (gain not applied)."""
        frames = self.background_windows
        starts = rng.integers(0, len(frames) - self.window_frames + 1, count)
        return np.stack([frames[s: s + self.window_frames] for s in starts])

    def batch(self, items: list[EpochItem], rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cut the windows of ``items``.

        Returns:
            windows (b, window_frames, n) dB, targets (b, n_labels) float32 (zero rows
            for negatives), labelled (b,) bool.
        """
        windows, targets = [], np.zeros((len(items), len(self.labels)), dtype=np.float32)
        labelled = np.zeros(len(items), dtype=bool)
        negatives = [k for k, item in enumerate(items) if item.negative]
        if negatives:
            # Background alone at any level, down to a near-silent room.
            quiet = self.background_crops(len(negatives), rng)
            quiet = quiet + rng.uniform(-50.0, 5.0, len(negatives))[:, None, None]
        n_negative = 0
        for k, item in enumerate(items):
            if item.negative:
                windows.append(quiet[n_negative].astype(np.float32))
                n_negative += 1
                continue
            starts = self.starts[item.bank_index]
            start = int(starts[rng.integers(len(starts))])
            windows.append(crop(self.events.clip(item.bank_index), start, self.window_frames,
                                self.pad_db))
            targets[k, self.targets[item.bank_index]] = 1.0
            labelled[k] = True
        return np.stack(windows), targets, labelled


def clip_windows(features: np.ndarray, window_frames: int, hop_frames: int,
                 pad_db: float) -> np.ndarray:
    """All windows of a clip at ``hop_frames``: (n_frames, n) -> (k, window_frames, n).

    A clip shorter than one window gives one window padded with silence; the last window
    is aligned to the clip's end so no tail is left out.
    """
    n_frames = len(features)
    if n_frames <= window_frames:
        return crop(features, 0, window_frames, pad_db)[None]
    starts = list(range(0, n_frames - window_frames + 1, hop_frames))
    if starts[-1] != n_frames - window_frames:
        starts.append(n_frames - window_frames)
    return np.stack([features[s: s + window_frames] for s in starts]).astype(np.float32)
