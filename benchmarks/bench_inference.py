"""Inference time per window: onnxruntime (1 and 2 threads) vs the same network in torch.

The shipped model (models/soundwatch.onnx) scores single windows, as the live path does
(one window per hop), on random feature windows. The torch figure uses the training
recipe's network with the same shapes (weights do not change the time; needs the train
extra, else it is skipped). No ../shared needed.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.machine import emit
from soundwatch.model import Classifier, default_model_path

REPEATS = 300


def time_per_call_ms(call, window: np.ndarray) -> dict:
    for _ in range(20):
        call(window)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call(window)
        times.append(time.perf_counter() - started)
    times_ms = np.array(times) * 1000
    return {"p50_ms": round(float(np.median(times_ms)), 3),
            "p95_ms": round(float(np.percentile(times_ms, 95)), 3)}


def torch_eager(classifier: Classifier, window: np.ndarray) -> dict | None:
    try:
        import torch

        from soundwatch.train.fit import TrainConfig, build_net
        from soundwatch.train.net import ScoringNet
    except ImportError:
        return None
    torch.set_num_threads(1)
    net = ScoringNet(build_net(TrainConfig(), classifier.spec.n_features,
                               len(classifier.labels))).eval()
    tensor = torch.from_numpy(window[:, None])

    def call(_):
        with torch.inference_mode():
            net(tensor)

    return time_per_call_ms(call, window)


def main() -> None:
    path = default_model_path()
    results = {"model": path.name, "model_file_mb": round(path.stat().st_size / 1e6, 3)}
    rng = np.random.default_rng(0)
    for threads in (1, 2):
        classifier = Classifier(path, threads=threads)
        window = (rng.standard_normal((1, classifier.window_frames, classifier.spec.n_features))
                  * 10 - 40).astype(np.float32)
        results[f"onnxruntime_{threads}_thread"] = time_per_call_ms(classifier.score, window)
    eager = torch_eager(Classifier(path, threads=1), window)
    results["torch_eager_1_thread"] = eager or "skipped: torch (train extra) not installed"
    if eager:
        results["torch_over_onnxruntime_ratio"] = round(
            eager["p50_ms"] / results["onnxruntime_1_thread"]["p50_ms"], 2)
    emit("inference", "time to score one window", results)


if __name__ == "__main__":
    main()
