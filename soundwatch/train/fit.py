"""The training loop: epochs of augmented windows, BCE on sigmoid outputs, checkpoints.

Each epoch's randomness comes from ``seed + epoch`` (numpy and torch), so a run that is
interrupted and resumed from ``checkpoint.pt`` draws the same windows as one that was not.
The checkpoint (written after every epoch) holds the network, optimiser, schedule, the
best state so far and the history; ``log.jsonl`` gets one line per epoch.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from soundwatch.errors import SoundwatchError
from soundwatch.train.augment import augment_batch
from soundwatch.train.feature_cache import FeatureBank
from soundwatch.train.net import SoundNet
from soundwatch.train.sampling import WindowSampler, clip_windows
from soundwatch.train.settings import TrainConfig

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class ValidationSet:
    """Clips scored after each epoch; the score is the clip accuracy over ``label_indices``."""

    bank: FeatureBank
    targets: np.ndarray  # (n_clips,) label index of each clip
    label_indices: np.ndarray  # which outputs compete in the argmax


@dataclass
class TrainResult:
    net: SoundNet
    history: list[dict]
    best_epoch: int
    seconds: float
    device: str = "cpu"  # what trained it, e.g. "cpu" or "cuda (NVIDIA H100)"
    precision: str = "fp32"  # "bf16" (mixed precision) or "fp32"


def feature_statistics(bank: FeatureBank, max_frames: int = 200_000,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over (a sample of) the bank's frames: two (n,) arrays."""
    rng = np.random.default_rng(seed)
    frames = bank.features
    if len(frames) > max_frames:
        frames = frames[rng.choice(len(frames), max_frames, replace=False)]
    return frames.mean(axis=0), frames.std(axis=0)


def build_net(config: TrainConfig, n_features: int, n_labels: int,
              mean: np.ndarray | None = None, std: np.ndarray | None = None) -> SoundNet:
    return SoundNet(n_features, n_labels, config.channels, config.embedding_dim,
                    config.dropout, mean, std, double_from=len(config.channels))


def learning_rate_factor(step: int, steps_per_epoch: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to zero at the last epoch."""
    warmup = config.warmup_epochs * steps_per_epoch
    total = max(1, config.epochs * steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def resolve_device(name: str) -> torch.device:
    """``"auto"`` (CUDA when there is a GPU, else the CPU), ``"cpu"`` or ``"cuda"``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise SoundwatchError(f"unknown training device {name!r}; use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise SoundwatchError("--device cuda: torch sees no CUDA GPU here (CPU-only build or "
                              "no driver); use --device cpu or auto")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """``"auto"`` (bf16 mixed precision where the hardware computes bf16 natively, else
    fp32), ``"bf16"`` or ``"fp32"``.

    bf16 autocast runs the convolutions in bfloat16 while the weights, batch-norm
    statistics, loss and optimiser stay in float32. On a CPU with AVX512-BF16 or AMX it
    trains this network about 2x faster (benchmarks/bench_train_step.py); without them
    bf16 is emulated and slower than fp32, hence "auto".
    """
    if name not in ("auto", "bf16", "fp32"):
        raise SoundwatchError(f"unknown training precision {name!r}; use auto, bf16 or fp32")
    if name != "auto":
        return name
    return "bf16" if native_bf16(device) else "fp32"


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions in hardware."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def score_windows(net: nn.Module, windows: np.ndarray, batch_size: int = 256,
                  precision: str = "fp32") -> np.ndarray:
    """Sigmoid scores of windows: (k, frames, n) -> (k, n_labels), in eval mode, on
    whichever device the network is. ``precision="bf16"`` (bf16 autocast) is for the
    per-epoch validation, where speed matters more than the last decimal."""
    net.eval()
    device = next(net.parameters()).device
    out = []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16,
                                         enabled=precision == "bf16"):
        for start in range(0, len(windows), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(windows[start: start + batch_size]))
            logits, _ = net(x[:, None].to(device, memory_format=torch.channels_last))
            out.append(torch.sigmoid(logits.float()).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def score_clips(net: nn.Module, bank: FeatureBank, window_frames: int, hop_frames: int,
                pad_db: float, precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
    """Clip scores pooled over each clip's windows (``precision``: as in score_windows).

    Returns:
        (mean_scores, max_scores): each (n_clips, n_labels), the mean and the maximum of
        the window scores over each clip.
    """
    all_windows, owners = [], []
    for i in range(len(bank.records)):
        windows = clip_windows(bank.clip(i), window_frames, hop_frames, pad_db)
        all_windows.append(windows)
        owners.append(np.full(len(windows), i))
    scores = score_windows(net, np.concatenate(all_windows), precision=precision)
    owner = np.concatenate(owners)
    counts = np.bincount(owner, minlength=len(bank.records))[:, None]
    mean_scores = np.zeros((len(bank.records), scores.shape[1]), dtype=np.float64)
    np.add.at(mean_scores, owner, scores)
    mean_scores /= counts
    max_scores = np.zeros_like(mean_scores)
    np.maximum.at(max_scores, owner, scores)
    return mean_scores.astype(np.float32), max_scores.astype(np.float32)


def clip_accuracy(scores: np.ndarray, targets: np.ndarray, label_indices: np.ndarray) -> float:
    predicted = label_indices[np.argmax(scores[:, label_indices], axis=1)]
    return float(np.mean(predicted == targets)) if len(targets) else float("nan")


def training_data_fingerprint(bank: FeatureBank) -> str:
    """A hash of the training clips (file name, label, length in frames, in order) and of
    their features' sum: a checkpoint resumes only on the data it was trained on (a run
    folder reused after the data changed exported the old weights)."""
    import hashlib

    digest = hashlib.sha256()
    for index, record in enumerate(bank.records):
        digest.update(f"{record.path.name}\t{record.label}\t{bank.n_frames(index)}\n".encode())
    digest.update(np.float64(bank.features.sum(dtype=np.float64)).tobytes())
    return digest.hexdigest()[:16]


def train(sampler: WindowSampler, config: TrainConfig, out_dir: Path,
          validation: ValidationSet | None = None, pad_db: float = -100.0,
          progress: bool = True, device: str = "cpu", precision: str = "fp32"
          ) -> TrainResult:
    """Train (or resume) a network on ``sampler``'s windows.

    Args:
        sampler: draws the epochs' windows (events, negatives, backgrounds).
        config: the recipe.
        out_dir: run folder: ``checkpoint.pt`` and ``log.jsonl`` live here.
        validation: clips for early stopping and choosing the best epoch; None trains all
            ``config.epochs`` and keeps the last state.
        pad_db: dB value of silence.
        progress: show a progress bar per epoch.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``. The returned network is on the CPU
            (for export); checkpoints load on either device.
        precision: ``"auto"``, ``"bf16"`` or ``"fp32"`` (see :func:`resolve_precision`);
            the returned network is float32 either way.
    """
    from tqdm import tqdm

    torch.set_num_threads(config.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    mean, std = feature_statistics(sampler.events, seed=config.seed)
    torch.manual_seed(config.seed)
    target_device = resolve_device(device)
    use_precision = resolve_precision(precision, target_device)
    log.info("training on %s, %s", target_device, use_precision)
    net = build_net(config, sampler.events.features.shape[1], len(sampler.labels), mean, std)
    # channels_last lets oneDNN/cuDNN pick their fastest convolutions (1.3x here on CPU).
    net.to(target_device, memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(sampler.epoch_items(np.random.default_rng(0)))
                                / config.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, steps_per_epoch, config))
    state = {"epoch": 0, "history": [], "best_score": -1.0, "best_epoch": 0,
             "best_state": None, "seconds": 0.0}
    checkpoint_path = out_dir / CHECKPOINT_NAME
    data = training_data_fingerprint(sampler.events)
    if checkpoint_path.is_file():
        checkpoint = torch.load(checkpoint_path, weights_only=False,
                                map_location=target_device)
        recipe_changes = sorted(key for key in set(checkpoint["config"]) | set(config.to_dict())
                                if checkpoint["config"].get(key) != config.to_dict().get(key))
        changed = [what for what, same in (
            (f"recipe ({', '.join(recipe_changes)})", not recipe_changes),
            ("label set", checkpoint["labels"] == sampler.labels),
            # checkpoints written before the data were recorded carry none
            ("training data", checkpoint.get("data", data) == data)) if not same]
        if changed:
            raise SoundwatchError(
                f"{checkpoint_path} is from a run with another {' and '.join(changed)}; "
                f"use a new --out folder or delete the checkpoint to start over"
            )
        net.load_state_dict(checkpoint["net"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        schedule.load_state_dict(checkpoint["schedule"])
        state = checkpoint["state"]
        log.info("resuming %s at epoch %d", out_dir, state["epoch"] + 1)

    def save_checkpoint() -> None:
        """Everything needed to resume, written atomically (a crash mid-write keeps the
        previous checkpoint)."""
        partial = checkpoint_path.with_suffix(".tmp")
        torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "state": state,
                    "config": config.to_dict(), "labels": sampler.labels, "data": data},
                   partial)
        partial.replace(checkpoint_path)

    log_path = out_dir / "log.jsonl"
    while state["epoch"] < config.epochs and not state.get("stopped"):
        epoch = state["epoch"] + 1
        started = time.monotonic()
        rng = np.random.default_rng([config.seed, epoch])
        torch.manual_seed(config.seed * 100_003 + epoch)
        items = sampler.epoch_items(rng)
        net.train()
        total_loss, n_seen = 0.0, 0
        batches = range(0, len(items), config.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch",
                   disable=not progress, leave=False)
        for start in bar:
            chunk = items[start: start + config.batch_size]
            if len(chunk) < 2:
                continue  # batch-norm needs two windows
            windows, targets, labelled = sampler.batch(chunk, rng)
            backgrounds = (sampler.background_crops(len(chunk), rng)
                           if sampler.background_windows is not None else None)
            windows, targets = augment_batch(windows, targets, backgrounds, labelled,
                                             config.augment, rng)
            loss = training_step(net, optimizer, windows, targets, use_precision)
            schedule.step()
            total_loss += float(loss) * len(chunk)
            n_seen += len(chunk)
            bar.set_postfix(loss=f"{total_loss / n_seen:.4f}")
        record = {"epoch": epoch, "train_loss": round(total_loss / max(1, n_seen), 5),
                  "lr": round(schedule.get_last_lr()[0], 6)}
        if validation is not None:
            scores, _ = score_clips(net, validation.bank, config.window_frames,
                                    config.validation_hop_frames, pad_db, use_precision)
            accuracy = clip_accuracy(scores, validation.targets, validation.label_indices)
            record["val_accuracy"] = round(accuracy, 4)
            if accuracy >= state["best_score"]:  # ties: the later, more trained state
                state["best_score"], state["best_epoch"] = accuracy, epoch
                state["best_state"] = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            state["best_epoch"] = epoch
        elapsed = time.monotonic() - started
        state["seconds"] += elapsed
        record["seconds"] = round(elapsed, 1)
        state["history"].append(record)
        state["epoch"] = epoch
        log.info("epoch %s", " ".join(f"{k}={v}" for k, v in record.items()))
        with open(log_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        save_checkpoint()
        if validation is not None and epoch - state["best_epoch"] >= config.patience:
            log.info("early stop: no better validation accuracy for %d epochs",
                        config.patience)
            state["stopped"] = True
            save_checkpoint()
    if state["best_state"] is not None:
        net.load_state_dict(state["best_state"])
    net.to("cpu", memory_format=torch.contiguous_format)
    net.eval()
    return TrainResult(net, state["history"], state["best_epoch"], state["seconds"],
                       describe_device(target_device), use_precision)


def training_step(net: nn.Module, optimizer: torch.optim.Optimizer, windows: np.ndarray,
                  targets: np.ndarray, precision: str,
                  memory_format: torch.memory_format = torch.channels_last) -> torch.Tensor:
    """One optimiser step of binary cross-entropy on sigmoid outputs.

    Args:
        windows: (batch, frames, n_features) dB features (augmented).
        targets: (batch, n_labels) float32 in [0, 1] (all zero for negatives).
        precision: ``"bf16"`` (autocast; the loss is taken in float32) or ``"fp32"``.
        memory_format: layout of the input batch; channels_last is the fast one.
    Returns:
        The batch's mean loss, detached (a 0-d tensor on the network's device).
    """
    device = next(net.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(windows))[:, None].to(
        device, memory_format=memory_format)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        logits, _ = net(x)
    loss = nn.functional.binary_cross_entropy_with_logits(
        logits.float(), torch.from_numpy(targets).to(device))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
