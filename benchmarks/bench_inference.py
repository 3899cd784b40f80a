"""Inference time per window, and CPU per second of audio beside YAMNet's TFLite file.

The shipped model (models/soundwatch.onnx) scores single windows, as the live path does
(one window per hop), with onnxruntime on 1 and 2 threads. Side by side, on the same
0.975 s of audio: the CPU time our path spends per window (the features of one hop plus
one window through onnxruntime, one thread) and YAMNet's published TFLite model through
its interpreter (front end included, one thread), and what each costs per second of audio
at the model's hop. The TFLite part reads ../shared/data/yamnet and needs ai-edge-litert
(train extra); without them it says it was skipped.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.machine import SHARED_DATA, emit
from soundwatch.model import Classifier, default_model_path

REPEATS = 300


def time_per_call_ms(call, argument) -> dict:
    """Median and p95 wall time, and median CPU time of the calling thread, in ms."""
    for _ in range(20):
        call(argument)
    wall, cpu = [], []
    for _ in range(REPEATS):
        wall_start, cpu_start = time.perf_counter(), time.thread_time()
        call(argument)
        cpu.append(time.thread_time() - cpu_start)
        wall.append(time.perf_counter() - wall_start)
    wall_ms, cpu_ms = np.array(wall) * 1000, np.array(cpu) * 1000
    return {"p50_ms": round(float(np.median(wall_ms)), 3),
            "p95_ms": round(float(np.percentile(wall_ms, 95)), 3),
            "cpu_p50_ms": round(float(np.median(cpu_ms)), 3)}


def tflite_per_window(audio: np.ndarray) -> dict | str:
    path = SHARED_DATA / "yamnet" / "yamnet.tflite"
    if not path.is_file():
        return f"skipped: {path} not found"
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return "skipped: ai-edge-litert (train extra) not installed"
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]

    def call(clip):
        interpreter.set_tensor(index, clip[None])
        interpreter.invoke()

    return time_per_call_ms(call, audio)


def main() -> None:
    from soundwatch.features import FeatureExtractor, FeatureStream

    path = default_model_path()
    results = {"model": path.name, "model_file_mb": round(path.stat().st_size / 1e6, 3)}
    rng = np.random.default_rng(0)
    classifier = Classifier(path, threads=1)
    spec = classifier.spec
    audio = (0.1 * rng.standard_normal(classifier.window_samples)).astype(np.float32)
    window = FeatureExtractor(spec).frames_to_features(
        np.lib.stride_tricks.sliding_window_view(audio, spec.frame_length)
        [::spec.hop_length][:classifier.window_frames])[None]
    for threads in (1, 2):
        scorer = Classifier(path, threads=threads)
        results[f"onnxruntime_{threads}_thread"] = time_per_call_ms(scorer.score, window)
    hop = classifier.hop_frames * spec.hop_length  # samples per hop
    stream = FeatureStream(spec)
    hop_audio = audio[:hop]
    results["features_per_hop"] = time_per_call_ms(stream.push, hop_audio)
    ours_cpu_ms = (results["onnxruntime_1_thread"]["cpu_p50_ms"]
                   + results["features_per_hop"]["cpu_p50_ms"])
    windows_per_s = spec.sample_rate_hz / hop
    results["hop_s"] = hop / spec.sample_rate_hz
    results["ours_cpu_ms_per_audio_s"] = round(ours_cpu_ms * windows_per_s, 2)
    tflite = tflite_per_window(audio[:15600] if len(audio) >= 15600 else
                               np.pad(audio, (0, 15600 - len(audio))))
    results["yamnet_tflite_1_thread"] = tflite
    if isinstance(tflite, dict):
        results["tflite_cpu_ms_per_audio_s"] = round(tflite["cpu_p50_ms"] * windows_per_s, 2)
    emit("inference", "time to score one window; CPU per audio second beside YAMNet TFLite",
         results)


if __name__ == "__main__":
    main()
