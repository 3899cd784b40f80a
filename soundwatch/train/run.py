"""One training run, end to end: splits -> features -> training -> test scores -> ONNX.

Used by ``soundwatch train`` (one run) and ``soundwatch evaluate`` (one run per fold).
The run folder gets ``checkpoint.pt`` (resumable), ``log.jsonl`` (one line per epoch),
``summary.json`` (what was trained on, the figures) and, for a test fold,
``test_scores.npz``.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundwatch.features import FeatureSpec
from soundwatch.model_format import ModelMetadata
from soundwatch.train.fit import ValidationSet, clip_accuracy, score_clips, train
from soundwatch.train.recipe import DataSources, label_targets, load_banks, make_splits
from soundwatch.train.sampling import WindowSampler, clip_windows
from soundwatch.train.settings import TrainConfig

log = logging.getLogger(__name__)

LICENSES = {
    "esc50": "ESC-50 (K. J. Piczak, 2015): CC BY-NC 3.0",
    "urbansound8k": "UrbanSound8K (J. Salamon et al., 2014): CC BY-NC 3.0",
    "background": "background noise of Speech Commands (P. Warden, 2018): CC BY 4.0",
}


@dataclass
class RunOptions:
    """Everything one run needs besides the recipe."""

    sources: DataSources
    out_dir: Path
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    config: TrainConfig = field(default_factory=TrainConfig)
    test_fold: int | None = None
    val_fraction: float = 0.1
    holdout_fraction: float = 0.1
    model_path: Path | None = None  # where to export; None: out_dir/model.onnx
    model_version: str = "1"
    data_note: str = ""  # e.g. the datasets' names and licences, for the model metadata
    cache_dir: Path | None = None
    progress: bool = True
    command: str = ""
    device: str = "auto"  # where torch trains: auto (a CUDA GPU if there is one), cpu, cuda
    precision: str = "auto"  # auto (bf16 where the hardware has it), bf16, fp32
    # per-class detector settings the exported model carries (soundwatch/class_defaults.py)
    detector_classes: dict = field(default_factory=dict)


def class_defaults_metadata(options: RunOptions, labels) -> dict[str, str]:
    """The metadata entry of ``options.detector_classes`` ({} when there are none); called
    once the labels are known and before training, so a mismatch costs no run.

    Raises:
        SoundwatchError: they name a class the model will not have.
    """
    from soundwatch.class_defaults import METADATA_KEY, encode_class_defaults
    from soundwatch.errors import SoundwatchError

    if not options.detector_classes:
        return {}
    unknown = sorted(set(options.detector_classes) - set(labels))
    if unknown:
        raise SoundwatchError(f"--detector-defaults names classes this model will not have: "
                              f"{unknown}; remove them from the file's per_class table, or "
                              "train on data that has them")
    return {METADATA_KEY: encode_class_defaults(options.detector_classes)}


def current_command() -> str:
    return "soundwatch " + shlex.join(sys.argv[1:]) if sys.argv else "soundwatch train"


def run_training(options: RunOptions) -> dict:
    """Train, score the test fold (when any), export ONNX; returns the summary dict."""
    from soundwatch.train.export import export_onnx, git_commit

    started = time.monotonic()
    config = options.config
    splits = make_splits(options.sources, options.test_fold, options.val_fraction,
                         options.holdout_fraction, config.seed)
    log.info("labels: %d; files: train %d, validation %d, test %d, held out %d, "
                "background %d", len(splits.labels), len(splits.train),
                len(splits.validation), len(splits.test), len(splits.holdout),
                len(splits.backgrounds))
    data = load_banks(splits, options.spec, options.cache_dir, options.progress,
                      workers=options.config.threads)
    extra = class_defaults_metadata(options, data.labels)  # checked before training
    pad_db = options.spec.silence_value
    sampler = WindowSampler(data.train, data.labels, data.backgrounds, config.window_frames,
                            pad_db, config.background_fraction, config.silence_margin_db,
                            config.crops_per_label, config.negatives)
    validation = None
    if data.validation is not None:
        validation = ValidationSet(data.validation, label_targets(data.validation, data.labels),
                                   np.arange(len(data.labels)))
    result = train(sampler, config, options.out_dir, validation, pad_db, options.progress,
                   options.device, options.precision)
    summary: dict = {
        # Called from Python (not the CLI), sys.argv is some other program's command line.
        "command": options.command or "soundwatch.train.run.run_training() from Python",
        "sources": options.sources.describe(),
        "labels": data.labels,
        "test_fold": options.test_fold,
        "files": {"train": len(splits.train), "validation": len(splits.validation),
                  "test": len(splits.test), "held_out": len(splits.holdout),
                  "background": len(splits.backgrounds)},
        "held_out_files": [str(r.path) for r in splits.holdout],
        "config": config.to_dict(),
        "feature_spec": json.loads(options.spec.to_json()),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "train_seconds": round(result.seconds, 1),
        "device": result.device,
        "precision": result.precision,
        "history": result.history,
    }
    if data.test is not None:
        mean_scores, max_scores = score_clips(result.net, data.test, config.window_frames,
                                              config.hop_frames, pad_db)
        targets = label_targets(data.test, data.labels)
        # Only the labels of the test datasets compete (e.g. the 50 ESC-50 classes).
        test_datasets = {r.dataset for r in data.test.records}
        competing_labels = {r.label for r in splits.train + splits.test
                            if r.dataset in test_datasets}
        competing = np.array([i for i, label in enumerate(data.labels)
                              if label in competing_labels])
        summary["test_accuracy"] = clip_accuracy(mean_scores, targets, competing)
        summary["test_accuracy_max_pooling"] = clip_accuracy(max_scores, targets, competing)
        np.savez(options.out_dir / "test_scores.npz", mean_scores=mean_scores,
                 max_scores=max_scores, targets=targets, competing=competing,
                 files=np.array([str(r.path) for r in data.test.records]))
        log.info("test fold %s: clip accuracy %.4f (mean pooling), %.4f (max pooling)",
                    options.test_fold, summary["test_accuracy"],
                    summary["test_accuracy_max_pooling"])
    metadata = ModelMetadata(
        labels=tuple(data.labels),
        feature_spec=options.spec,
        window_frames=config.window_frames,
        hop_frames=config.hop_frames,
        score_activation="sigmoid",
        model_version=options.model_version,
        training_data=training_data_text(options, splits),
        license=license_text(splits),
        training_command=summary["command"],
        git_commit=git_commit(),
        extra=extra,
    )
    model_path = options.model_path or options.out_dir / "model.onnx"
    check = data.validation or data.test or data.train
    windows = np.concatenate([clip_windows(check.clip(i), config.window_frames,
                                           config.hop_frames, pad_db)
                              for i in range(min(4, len(check.records)))])
    summary["export"] = export_onnx(result.net, metadata, model_path, windows[:16])
    summary["model_path"] = str(model_path)
    summary["total_seconds"] = round(time.monotonic() - started, 1)
    (options.out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def training_data_text(options: RunOptions, splits) -> str:
    datasets = sorted({r.dataset for r in splits.train})
    text = f"{options.sources.describe()}; datasets: {', '.join(datasets)}"
    if options.test_fold is not None:
        text += f"; fold {options.test_fold} left out for testing"
    if options.data_note:
        text += f"; {options.data_note}"
    return text


def license_text(splits) -> str:
    datasets = {r.dataset for r in splits.train} | {"background" for _ in splits.backgrounds}
    notes = [LICENSES[d] for d in sorted(datasets) if d in LICENSES]
    restrictive = any("NC" in n for n in notes)
    others = sorted(d for d in datasets if d not in LICENSES)
    if others:
        notes.append(f"also trained on {', '.join(others)} (see their licences)")
    prefix = "non-commercial use only (training data is CC BY-NC). " if restrictive else ""
    return prefix + "; ".join(notes)
