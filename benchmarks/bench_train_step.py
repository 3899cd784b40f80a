"""Training speed: one optimiser step of the shipped recipe's network, per precision.

A batch of the recipe's size (32 windows of 96 frames x 64 bands, random dB values) goes
through ``soundwatch.train.fit.training_step``, the very step the training loop takes, on
one torch thread:

- ``fp32``: float32, default (contiguous) layout, what training did before;
- ``fp32_channels_last``: float32, channels_last input and weights;
- ``bf16_channels_last``: bf16 autocast + channels_last, what ``--precision auto`` picks
  on a CPU with native bf16 (AVX512-BF16 or AMX); emulated elsewhere, so only timed when
  the CPU has it.

Data preparation (cropping, augmentation) is not included: it is ~3 ms per batch. Needs
the train extra (torch); no ../shared.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.machine import emit

STEPS = 15  # timed steps per setting, after 3 warm-up steps
N_LABELS = 52  # the shipped model's: 50 ESC-50 classes, speech, music


def time_steps_ms(precision: str, channels_last: bool) -> dict:
    import torch

    from soundwatch.features import FeatureSpec
    from soundwatch.train.fit import build_net, training_step
    from soundwatch.train.settings import TrainConfig

    config = TrainConfig()
    n_features = FeatureSpec().n_features
    layout = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(0)
    net = build_net(config, n_features, N_LABELS).to(memory_format=layout).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(0)
    windows = (rng.standard_normal((config.batch_size, config.window_frames,
                                    n_features)) * 10 - 40).astype(np.float32)
    targets = np.zeros((config.batch_size, N_LABELS), dtype=np.float32)
    targets[np.arange(config.batch_size), rng.integers(0, N_LABELS, config.batch_size)] = 1.0
    times = []
    for step in range(STEPS + 3):
        started = time.perf_counter()
        training_step(net, optimizer, windows, targets, precision, layout)
        if step >= 3:
            times.append(time.perf_counter() - started)
    times_ms = np.array(times) * 1000
    return {"p50_ms_per_batch": round(float(np.median(times_ms)), 1),
            "min_ms_per_batch": round(float(times_ms.min()), 1)}


def main() -> None:
    try:
        import torch

        from soundwatch.train.fit import native_bf16
    except ImportError:
        emit("train_step", "one training step", {"skipped": "torch (train extra) not installed"})
        return
    torch.set_num_threads(1)
    results: dict = {"threads": 1, "batch": 32,
                     "fp32": time_steps_ms("fp32", channels_last=False),
                     "fp32_channels_last": time_steps_ms("fp32", channels_last=True)}
    base = results["fp32"]["p50_ms_per_batch"]
    results["fp32_channels_last"]["speedup_over_fp32"] = round(
        base / results["fp32_channels_last"]["p50_ms_per_batch"], 2)
    if native_bf16(torch.device("cpu")):
        results["bf16_channels_last"] = time_steps_ms("bf16", channels_last=True)
        results["bf16_channels_last"]["speedup_over_fp32"] = round(
            base / results["bf16_channels_last"]["p50_ms_per_batch"], 2)
    else:
        results["bf16_channels_last"] = "skipped: this CPU has no native bf16 (emulated)"
    emit("train_step", "one training step of the recipe's network", results)


if __name__ == "__main__":
    main()
