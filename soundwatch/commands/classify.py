"""`soundwatch classify FILE...`: offline analysis of recordings ("testing unknown audio").

For each file: the events found (same detector and settings as `listen`, without the
warm-up, which exists for live devices) and the clip-level top-k labels (mean score over
all windows, with the max beside it). ``--json`` prints one JSON object per file,
including every window's full score vector with its times. Files are decoded whole and
scored in batches, as fast as the CPU allows.
"""

from __future__ import annotations

import os
import sys

BATCH_WINDOWS = 256


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "classify", help="analyse recordings offline: events and top labels per file",
        description="Analyse audio files offline: the events found in each and its top "
        "labels. Many files in one call; --json gives every window's scores.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, OGG)")
    parser.add_argument("--model", help="the .onnx model (default: the shipped one)")
    parser.add_argument("--threads", type=int,
                        help="onnxruntime threads (default: all CPU cores; offline analysis "
                        "has no real-time neighbours to leave room for)")
    parser.add_argument("--config", help="TOML settings file for the detection settings")
    parser.add_argument("--top-k", type=int, default=5, help="labels to show per file")
    parser.add_argument("--hop", type=float, dest="hop_s",
                        help="seconds between scored windows (default: the model's hop)")
    parser.add_argument("--threshold-on", type=float)
    parser.add_argument("--threshold-off", type=float)
    parser.add_argument("--min-duration", type=float, dest="min_duration_s")
    parser.add_argument("--watch", action="append", metavar="LABEL[,LABEL]")
    parser.add_argument("--ignore", action="append", metavar="LABEL[,LABEL]")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per file, with every window's scores")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    import json

    from tqdm import tqdm

    from soundwatch.commands.listen import detection_with_flags
    from soundwatch.config import load_settings
    from soundwatch.errors import SoundwatchError
    from soundwatch.features import FeatureExtractor
    from soundwatch.model import Classifier, default_model_path

    settings = load_settings(args.config)
    detection = detection_with_flags(settings.detection, args, warmup_s=0.0)
    from soundwatch.config import MAX_THREADS

    threads = args.threads if args.threads is not None else min(os.cpu_count() or 1,
                                                                 MAX_THREADS)
    if not 1 <= threads <= MAX_THREADS:
        raise SoundwatchError(f"--threads must be in [1, {MAX_THREADS}], got {threads}")
    if args.top_k < 1:
        raise SoundwatchError(f"--top-k must be >= 1, got {args.top_k}")
    classifier = Classifier(args.model or settings.model.path or default_model_path(),
                            threads=threads)
    extractor = FeatureExtractor(classifier.spec)
    failed = 0
    show_progress = not args.no_progress and len(args.files) > 1 and sys.stderr.isatty()
    for path in tqdm(args.files, desc="classify", unit="file", disable=not show_progress,
                     file=sys.stderr):
        try:
            result = classify_file(path, classifier, detection, extractor, args.top_k)
        except SoundwatchError as exc:
            failed += 1
            print(f"soundwatch: error: {exc}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(format_result(result), flush=True)
    if failed == len(args.files):
        return 2
    return 1 if failed else 0


def classify_file(path, classifier, detection, extractor, top_k: int) -> dict:
    """Scores, events and top labels of one file, as a JSON-ready dict.

    Returns:
        {"file", "duration_s", "labels", "top": [{"label", "mean", "max"}], "events":
        [Event.to_dict()], "windows": [{"start_s", "end_s", "scores": [n_labels]}]}
    """
    import numpy as np

    from soundwatch.audio.files import load_audio
    from soundwatch.detect import EventDetector
    from soundwatch.features import compute_features

    spec = classifier.spec
    signal, rate = load_audio(path, spec.sample_rate_hz)
    duration_s = len(signal) / rate
    if len(signal) < classifier.window_samples:  # shorter than one window: pad with silence
        signal = np.concatenate(
            [signal, np.zeros(classifier.window_samples - len(signal), np.float32)])
    features = compute_features(signal, spec, extractor)  # (n_frames, n_features)
    hop_frames = classifier.hop_frames_for(detection.hop_s)
    starts = np.arange(0, len(features) - classifier.window_frames + 1, hop_frames)
    windows = np.lib.stride_tricks.sliding_window_view(
        features, classifier.window_frames, axis=0)  # (n, n_features, window_frames)
    scores = np.concatenate([
        classifier.score(np.swapaxes(windows[starts[i:i + BATCH_WINDOWS]], 1, 2))[0]
        for i in range(0, len(starts), BATCH_WINDOWS)
    ])  # (n_windows, n_labels)
    start_samples = starts * spec.hop_length
    end_samples = start_samples + classifier.window_samples
    detector = EventDetector(classifier.labels, detection, rate,
                             window_samples=classifier.window_samples,
                             background_labels=classifier.metadata.background_labels)
    notices = []
    for window_scores, end_sample in zip(scores, end_samples, strict=True):
        notices += detector.update(window_scores, int(end_sample))
    notices += detector.flush(len(signal))
    events = [event.to_dict() for event in notices if not event.ongoing]
    for event in events:
        del event["ongoing"]
    mean = scores.mean(axis=0)
    peak = scores.max(axis=0)
    order = np.argsort(-mean)[:max(top_k, 0)]
    return {
        "file": str(path),
        "duration_s": round(duration_s, 3),
        "labels": list(classifier.labels),
        "top": [{"label": classifier.labels[i], "mean": round(float(mean[i]), 4),
                 "max": round(float(peak[i]), 4)} for i in order],
        "events": events,
        "windows": [
            {"start_s": round(float(s) / rate, 3), "end_s": round(float(e) / rate, 3),
             "scores": [round(float(v), 4) for v in row]}
            for s, e, row in zip(start_samples, end_samples, scores, strict=True)
        ],
    }


def format_result(result: dict) -> str:
    top = ", ".join(f"{t['label']} {t['mean']:.2f} (max {t['max']:.2f})" for t in result["top"])
    lines = [f"{result['file']}  {result['duration_s']:.1f} s  {len(result['windows'])} windows",
             f"  top: {top}"]
    if not result["events"]:
        lines.append("  events: none")
    for event in result["events"]:
        lines.append(f"  event: {event['label']:<20} {event['start_s']:7.2f}-{event['end_s']:.2f} s "
                     f"peak {event['peak']:.2f} mean {event['mean']:.2f}")
    return "\n".join(lines)
