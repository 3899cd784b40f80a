"""One training run from YAMNet (``--init yamnet``): splits -> embeddings -> head -> ONNX.

The same splits, feature cache, run folder files (``summary.json``, ``test_scores.npz``,
``log.jsonl``) and export as :mod:`soundwatch.train.run`, so ``evaluate`` and the card
treat both kinds of run alike. See :mod:`soundwatch.train.pretrained` for the method.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from soundwatch.detect import DetectorSettings
from soundwatch.errors import SoundwatchError
from soundwatch.features import YAMNET_SPEC
from soundwatch.model_format import ModelMetadata
from soundwatch.train.feature_cache import cache_key, load_feature_bank
from soundwatch.train.fit import clip_accuracy
from soundwatch.train.pretrained import (
    PretrainedSoundNet,
    audioset_logits,
    background_windows,
    cached_embeddings,
    calibrate_home_offset,
    clip_training_windows,
    embed_time_cells,
    fit_head,
    head_inputs,
    home_label_indices,
    quiet_training_windows,
    short_training_windows,
    whole_file_activity,
)
from soundwatch.train.recipe import make_splits
from soundwatch.train.run import class_defaults_metadata
from soundwatch.train.sampling import clip_windows
from soundwatch.train.settings import HeadConfig
from soundwatch.train.yamnet import PATCH_FRAMES, Yamnet, load_yamnet, read_class_names

log = logging.getLogger(__name__)

YAMNET_LICENSE = ("YAMNet weights (tensorflow/models, research/audioset/yamnet): "
                  "Apache-2.0; AudioSet ontology class names: CC BY-SA 4.0")
# Extra training windows, each set with its own caches (so adding one leaves the main
# cache valid): name -> (the HeadConfig fields that make it (its cache key), the function
# that cuts it, its random stream: config.seed + this).
EXTRA_WINDOWS = {
    "short": (("short_copies", "short_max_frames", "short_snr_db_min", "short_snr_db_max"),
              short_training_windows, 1),
    "quiet": (("quiet_copies", "quiet_gain_db_min", "quiet_gain_db_max"),
              quiet_training_windows, 2),
}
DEFAULT_HOP_FRAMES = 25  # 0.25 s, the live hop (see the model card's latency figures)


def load_yamnet_dir(yamnet_dir: Path) -> tuple[Yamnet, list[str], str]:
    """(network, its 521 class names, a hash of its weights file) from a YAMNet folder.

    Raises:
        SoundwatchError: ``yamnet.tflite`` or ``yamnet_class_map.csv`` is missing or bad.
    """
    yamnet_dir = Path(yamnet_dir)
    tflite_path = yamnet_dir / "yamnet.tflite"
    class_map = yamnet_dir / "yamnet_class_map.csv"
    for needed in (tflite_path, class_map):
        if not needed.is_file():
            raise SoundwatchError(f"{needed} not found: --yamnet DIR must hold yamnet.tflite "
                                  "and yamnet_class_map.csv (e.g. ../shared/data/yamnet)")
    weights_id = hashlib.sha256(tflite_path.read_bytes()).hexdigest()[:16]
    return load_yamnet(tflite_path), read_class_names(class_map), weights_id


def run_pretrained_training(options, yamnet: Yamnet, class_names: list[str],
                            weights_id: str, head_config: HeadConfig | None = None,
                            hop_frames: int = DEFAULT_HOP_FRAMES,
                            exclude_folds: tuple[int, ...] = ()) -> dict:
    """Train the project head on YAMNet embeddings, score the test fold, export ONNX.

    Args:
        options: :class:`soundwatch.train.run.RunOptions` (sources, folds, paths).
        yamnet: the pretrained network (:func:`load_yamnet_dir`); frozen here.
        class_names: its 521 AudioSet class names, in output order.
        weights_id: names the weights in the embedding cache's key.
        head_config: the head's recipe (None: the defaults).
        hop_frames: the exported model's default hop between windows, in frames.
        exclude_folds: folds left out of training (besides the test fold), e.g. to choose
            a recipe on a validation fold while another fold stays unseen.

    Returns:
        The summary dict (also written to ``out_dir/summary.json``).

    Raises:
        SoundwatchError: missing data, or a data label that is also an AudioSet label.
    """
    from soundwatch.train.export import export_onnx, git_commit, round_weights_to_fp16
    from soundwatch.train.run import license_text, training_data_text

    config = head_config or HeadConfig()
    started = time.monotonic()
    torch.set_num_threads(max(1, options.config.threads))
    for parameter in yamnet.parameters():
        parameter.requires_grad_(False)
    from soundwatch.train.fit import describe_device, resolve_device

    # where YAMNet's frozen layers run over the training windows and a fine-tuned branch
    # trains; the head alone always trains on the CPU (seconds)
    device = resolve_device(options.device)
    if device.type == "cuda":  # full float32, as onnxruntime computes at run time
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    yamnet.to(device).eval()
    home_labels, home_groups, proxies = home_label_indices(class_names)

    splits = make_splits(options.sources, options.test_fold, options.val_fraction,
                         options.holdout_fraction, config.seed)
    project_labels = list(splits.labels)
    class_settings = class_defaults_metadata(options, project_labels + home_labels)
    clash = sorted(set(project_labels) & set(home_labels))
    if clash:
        raise SoundwatchError(
            f"the label(s) {', '.join(clash)} come both from the data and from YAMNet's "
            "AudioSet head, which the model keeps as labels of its own: rename the data's "
            f"label (e.g. {clash[0]}_mine: its folder, or LABEL in --folder LABEL=DIR)")
    events = sorted(set(splits.train + splits.validation + splits.test),
                    key=lambda r: str(r.path))
    bank = load_feature_bank(events, YAMNET_SPEC, options.cache_dir, options.progress,
                             name="events", workers=options.config.threads)
    noise = (load_feature_bank(splits.backgrounds, YAMNET_SPEC, options.cache_dir,
                               options.progress, name="backgrounds")
             if splits.backgrounds else None)
    whole_file = [r.fold is None for r in bank.records]
    window_fields = ("hop_frames", "lead_frames", "loud_margin_db", "noisy_copies",
                     "snr_db_min", "snr_db_max", "background_fraction", "seed")
    key = [weights_id, cache_key(events, YAMNET_SPEC),
           json.dumps({k: getattr(config, k) for k in window_fields}),
           cache_key(splits.backgrounds, YAMNET_SPEC) if splits.backgrounds else ""]

    def compute_event_embeddings():
        rng = np.random.default_rng(config.seed)
        windows = clip_training_windows(bank, noise, config, whole_file, rng)
        log.info("embedding %d training windows", len(windows.windows))
        return {"cells": embed_time_cells(yamnet.body, windows.windows,
                                          progress=options.progress),
                "record": windows.record, "active": windows.active}

    def compute_background_embeddings():
        windows = background_windows(noise, config)
        return {"cells": embed_time_cells(yamnet.body, windows, progress=options.progress)}

    with_timer = time.monotonic()
    cached = cached_embeddings("yamnet-cells", key, compute_event_embeddings,
                               options.cache_dir)
    background = (cached_embeddings("yamnet-background-cells", key,
                                    compute_background_embeddings, options.cache_dir)["cells"]
                  if noise is not None else np.zeros((0, 3, 1024), np.float16))
    extras = {}  # name -> (cache key, windows()) of the extra sets this recipe uses
    for name, (fields, cut, seed_offset) in EXTRA_WINDOWS.items():
        if getattr(config, f"{name}_copies") and noise is not None:
            extras[name] = (key + [json.dumps({k: getattr(config, k) for k in fields})],
                            lambda cut=cut, seed=config.seed + seed_offset: cut(
                                bank, noise, config, whole_file, np.random.default_rng(seed)))
    for name, (extra_key, windows_of) in extras.items():
        def compute_extra_embeddings(name=name, windows_of=windows_of):
            windows = windows_of()
            log.info("embedding %d %s-copy windows", len(windows.windows), name)
            return {"cells": embed_time_cells(yamnet.body, windows.windows,
                                              progress=options.progress),
                    "record": windows.record, "active": windows.active}

        extra = cached_embeddings(f"yamnet-{name}-cells", extra_key,
                                  compute_extra_embeddings, options.cache_dir)
        cached = {k: np.concatenate([cached[k], extra[k]]) for k in ("cells", "record",
                                                                      "active")}
    embed_seconds = time.monotonic() - with_timer

    position = {r: i for i, r in enumerate(bank.records)}
    label_index = {label: k for k, label in enumerate(project_labels)}
    train_records = np.array([position[r] for r in splits.train
                              if r.fold is None or r.fold not in exclude_folds])
    in_train = np.isin(cached["record"], train_records)
    cells = cached["cells"][in_train]
    record = cached["record"][in_train]
    active = window_activity(cached, bank, whole_file, config)[in_train]
    n_labels = len(project_labels)
    targets = np.zeros((len(cells), n_labels), np.float32)
    mask = np.ones((len(cells), n_labels), np.float32)
    labels_of_window = [bank.records[i].label for i in record]
    for row, (label, frames) in enumerate(zip(labels_of_window, active, strict=True)):
        k = label_index[label]
        if frames >= config.min_active_frames:
            targets[row, k] = 1.0
        elif frames > 0:
            mask[row, k] = 0.0  # a sliver of the sound: neither taught on nor against
    cells = np.concatenate([cells, background])
    targets = np.concatenate([targets, np.zeros((len(background), n_labels), np.float32)])
    mask = np.concatenate([mask, np.ones((len(background), n_labels), np.float32)])
    if config.tune_top_layers:
        from soundwatch.train.top_tuning import embed_lower, fit_branch, split_body

        lower, upper = split_body(yamnet.body, config.tune_top_layers)
        name = f"yamnet-lower{config.tune_top_layers}"
        with_timer = time.monotonic()
        acts = cached_embeddings(name, key, lambda: {"acts": embed_lower(
            lower, clip_training_windows(bank, noise, config, whole_file,
                                         np.random.default_rng(config.seed)).windows,
            progress=options.progress)}, options.cache_dir)["acts"]
        for extra_name, (extra_key, windows_of) in extras.items():
            acts = np.concatenate([acts, cached_embeddings(
                f"yamnet-{extra_name}-lower{config.tune_top_layers}", extra_key,
                lambda windows_of=windows_of: {"acts": embed_lower(
                    lower, windows_of().windows, progress=options.progress)},
                options.cache_dir)["acts"]])
        if len(acts) != len(cached["cells"]):
            raise RuntimeError(f"{name} cache out of step with the embedding cache: "
                               f"{len(acts)} and {len(cached['cells'])} windows; delete both")
        acts = acts[in_train]
        if noise is not None:
            acts = np.concatenate([acts, cached_embeddings(
                f"yamnet-background-lower{config.tune_top_layers}", key,
                lambda: {"acts": embed_lower(lower, background_windows(noise, config),
                                             progress=options.progress)},
                options.cache_dir)["acts"]])
        embed_seconds += time.monotonic() - with_timer
        x = acts
        train_started = time.monotonic()
        head, history = fit_branch(acts, targets, mask, config, upper, n_labels, device)
    else:
        x = head_inputs(cells, config.pooling)
        train_started = time.monotonic()
        head, history = fit_head(x, targets, mask, config, n_labels)
        device = torch.device("cpu")
    train_seconds = time.monotonic() - train_started
    yamnet.cpu()

    logits = audioset_logits(yamnet, cells, config.pooling)
    window_labels = [label if frames >= config.min_active_frames else None
                     for label, frames in zip(labels_of_window, active, strict=True)]
    window_labels += [None] * len(background)
    # Calibrated onto the detector's default on-threshold (one source for that default).
    calibration = calibrate_home_offset(logits, proxies, window_labels,
                                        DetectorSettings().threshold_on)
    log.info("AudioSet label calibration: %s", calibration)
    twins = ({label_index[label]: indices for label, indices in proxies.items()
              if label in label_index} if config.audioset_twins else None)
    net = PretrainedSoundNet(yamnet, head, home_groups, calibration["offset"],
                             config.pooling, top_layers=config.tune_top_layers,
                             twins=twins, n_project=n_labels).eval()
    round_weights_to_fp16(net)  # what the exported file holds; scored as shipped
    labels = project_labels + home_labels
    pad = YAMNET_SPEC.silence_value

    summary: dict = {
        "command": options.command or "soundwatch.train.run_pretrained from Python",
        "init": "yamnet",
        "sources": options.sources.describe(),
        "labels": labels,
        "project_labels": project_labels,
        "home_labels": {label: list(groups) for label, groups in
                        zip(home_labels, home_groups, strict=True)},
        "test_fold": options.test_fold,
        "excluded_folds": list(exclude_folds),
        "files": {"train": len(splits.train), "validation": len(splits.validation),
                  "test": len(splits.test), "held_out": len(splits.holdout),
                  "background": len(splits.backgrounds)},
        "held_out_files": [str(r.path) for r in splits.holdout],
        "config": {**config.to_dict(), "training_hop_frames": config.hop_frames,
                   "window_frames": PATCH_FRAMES, "hop_frames": hop_frames,
                   "threads": options.config.threads},
        "feature_spec": json.loads(YAMNET_SPEC.to_json()),
        "calibration": calibration,
        "audioset_twins": sorted(project_labels[k] for k in twins) if twins else [],
        "audioset_head_drift": 0.0,  # frozen: the exported head is YAMNet's, bit for bit
        "best_epoch": config.epochs,
        "epochs_run": config.epochs,
        "embedding_seconds": round(embed_seconds, 1),
        "train_seconds": round(train_seconds + embed_seconds, 1),
        "device": describe_device(device),
        "precision": "fp32",
        "history": history,
        "training_windows": int(len(x)),
    }
    (Path(options.out_dir) / "log.jsonl").parent.mkdir(parents=True, exist_ok=True)
    with open(Path(options.out_dir) / "log.jsonl", "w") as handle:
        for row in history:
            handle.write(json.dumps(row) + "\n")

    if splits.test:
        test_indices = [position[r] for r in splits.test]
        mean_scores, max_scores = score_clip_windows(net, [bank.clip(i) for i in test_indices],
                                                     hop_frames, pad)
        targets_test = np.array([label_index[r.label] for r in splits.test])
        test_datasets = {r.dataset for r in splits.test}
        competing = np.array(sorted({label_index[r.label] for r in splits.train + splits.test
                                     if r.dataset in test_datasets}))
        summary["test_accuracy"] = clip_accuracy(mean_scores, targets_test, competing)
        summary["test_accuracy_max_pooling"] = clip_accuracy(max_scores, targets_test,
                                                             competing)
        np.savez(Path(options.out_dir) / "test_scores.npz", mean_scores=mean_scores,
                 max_scores=max_scores, targets=targets_test, competing=competing,
                 files=np.array([str(r.path) for r in splits.test]))
        log.info("test fold %s: clip accuracy %.4f", options.test_fold,
                 summary["test_accuracy"])

    metadata = ModelMetadata(
        labels=tuple(labels), feature_spec=YAMNET_SPEC, window_frames=PATCH_FRAMES,
        hop_frames=hop_frames, score_activation="sigmoid",
        model_version=options.model_version,
        training_data=training_data_text(options, splits) + "; body and AudioSet head: "
        "YAMNet, pretrained on AudioSet (frozen)",
        license=license_text(splits) + "; " + YAMNET_LICENSE,
        training_command=summary["command"], git_commit=git_commit(),
        extra={"init": "yamnet", "project_labels": json.dumps(project_labels),
               # the body is frozen YAMNet, its weights stored as float16
               "embedding_version": f"yamnet-{weights_id}-fp16",
               "audioset_labels": json.dumps(home_labels),
               **({"audioset_twins": json.dumps(sorted(project_labels[k] for k in twins))}
                  if twins else {}),
               **class_settings})
    model_path = options.model_path or Path(options.out_dir) / "model.onnx"
    check = np.concatenate([clip_windows(bank.clip(i), PATCH_FRAMES, hop_frames, pad)
                            for i in range(min(4, len(bank.records)))])[:16]
    summary["export"] = export_onnx(net, metadata, model_path, check, fp16_weights=True)
    summary["model_path"] = str(model_path)
    summary["total_seconds"] = round(time.monotonic() - started, 1)
    (Path(options.out_dir) / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def window_activity(cached: dict, bank, whole_file: list[bool], config: HeadConfig
                    ) -> np.ndarray:
    """Each cached window's loud frames, those of whole-file clips recomputed from the
    features (cheap), so that caches made before their rule changed stay usable."""
    active = cached["active"].copy()
    for i in np.flatnonzero(whole_file):
        rows = np.flatnonzero(cached["record"] == i)
        counts = whole_file_activity(bank.clip(i), config)
        if len(counts) != len(rows):
            raise RuntimeError(f"embedding cache out of step with {bank.records[i].path}: "
                               f"{len(rows)} windows cached, {len(counts)} expected; "
                               "delete the cache")
        active[rows] = counts
    return active


def score_clip_windows(net: PretrainedSoundNet, clips: list[np.ndarray], hop_frames: int,
                       pad: float, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(mean, max) of the window scores of each clip: each (n_clips, n_labels) float32."""
    windows = [clip_windows(c, PATCH_FRAMES, hop_frames, pad) for c in clips]
    owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(windows)])
    stacked = np.concatenate(windows)
    scores = []
    with torch.no_grad():
        for start in range(0, len(stacked), batch):
            x = torch.from_numpy(np.ascontiguousarray(stacked[start:start + batch]))[:, None]
            scores.append(net(x)[0].numpy())
    scores = np.concatenate(scores)
    mean = np.zeros((len(clips), scores.shape[1]))
    np.add.at(mean, owner, scores)
    mean /= np.bincount(owner, minlength=len(clips))[:, None]
    peak = np.zeros_like(mean)
    np.maximum.at(peak, owner, scores)
    return mean.astype(np.float32), peak.astype(np.float32)
