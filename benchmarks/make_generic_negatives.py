"""Make soundwatch/sounds/generic_negatives.npz: the shipped model's embedding of speech,
music and noise windows, the generic negatives `soundwatch learn` fits against.

Sources (../shared/data, read only here; no audio goes into the package, only the
embedding of randomly chosen windows):
- speech/: LibriSpeech (CC BY 4.0, V. Panayotov et al., ICASSP 2015);
- music_speech/: GTZAN music/speech collection (G. Tzanetakis; no licence stated, widely
  used for research);
- background/: Speech Commands background noise (P. Warden 2018, CC BY 4.0), without
  the household recordings that benchmarks lay their test sounds in
  (benchmarks.streams.NOISY_BED_FILES);
- esc50/: the ambient categories (benchmarks.streams.AMBIENT_CATEGORIES: rain, engines,
  vacuum cleaner, footsteps, typing, ...) of folds 2-4 (K. J. Piczak, ESC-50, CC BY-NC
  3.0, as the shipped model itself). Fold 1 is the reported false-event noise of
  benchmarks/bench_learn_sound.py and fold 5 its tuning noise.
- synthesised tonal sounds (:func:`tonal_sounds`: steady tones, beep patterns, sweeps and
  two-tone warbles at random pitches), made here. Without them a sound learnt from a few
  synthetic or electronic examples (a chime, a beep) fired on any other tone or beep:
  nothing tonal but music was among the negatives.

Only the even-numbered files (in name order) of speech/ and music_speech/ are used: the
odd-numbered ones are held out for benchmarks/bench_learn_sound.py's false-event streams.

Run: .venv/bin/python -m benchmarks.make_generic_negatives [--ambient N] [--out FILE]
(prints a JSON summary). Re-run it whenever the shipped model changes (the file records
the model version).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.machine import require_shared_data
from benchmarks.streams import AMBIENT_CATEGORIES, NOISY_BED_FILES, esc50_path, esc50_rows
from soundwatch.model import Classifier, default_model_path
from soundwatch.sounds.learn import embed_recording, embed_signal
from soundwatch.sounds.negatives import FILE_NAME

SEED = 13
# Windows per source, at 1024 float16 numbers (2 kB) a window.
PER_SOURCE = {"speech": 220, "music_speech/speech": 120, "music_speech/music": 300,
              "background": 240}
MAX_FILES = 40
AMBIENT_FOLDS = (2, 3, 4)
# Ambient windows: chosen on the tuning classes (benchmarks/learn_sound_tune.json).
AMBIENT_WINDOWS = 2000
# Tonal sounds (3 s each; their own random stream, so the other sources' windows stay the
# same whatever their number). Chosen on the tuning classes and synthetic probes
# (benchmarks/tonal_negatives_tune.json, benchmarks/tonal_false_alarms.json). They are
# stored with calibrate False: fitted against, never setting a threshold.
TONAL_SOUNDS = 60
TONAL_SEED = 29
TONAL_PITCH_HZ = (150.0, 6000.0)
OUT = Path(__file__).resolve().parent.parent / "soundwatch" / "sounds" / FILE_NAME


def source_paths(data: Path, source: str, rng: np.random.Generator) -> list[Path]:
    """Up to MAX_FILES files of one source, chosen at random."""
    paths = sorted(p for p in (data / source).rglob("*")
                   if p.suffix in (".ogg", ".flac", ".wav"))
    if source == "background":
        paths = [p for p in paths if p.stem not in NOISY_BED_FILES]
    else:
        paths = paths[0::2]
    return [paths[i] for i in sorted(rng.choice(len(paths), min(MAX_FILES, len(paths)),
                                                replace=False))]


def ambient_paths() -> list[Path]:
    rows = [r for r in esc50_rows() if r["category"] in AMBIENT_CATEGORIES
            and int(r["fold"]) in AMBIENT_FOLDS]
    return [esc50_path(r) for r in sorted(rows, key=lambda r: r["filename"])]


def tonal_sounds(rng: np.random.Generator, rate_hz: int, n: int,
                 seconds: float = 3.0) -> list[np.ndarray]:
    """``n`` synthesised tonal sounds, each (seconds * rate_hz,) float32 at -30 to -8 dBFS
    peak over -60 dBFS white noise. In turn: a steady tone, a beep pattern (on and off
    0.05-0.5 s each), a linear sweep between two pitches, a warble alternating between
    two pitches (ratio 1.15-1.6, 1-6 times a second); pitches log-uniform in
    TONAL_PITCH_HZ, half of them with 2nd and 3rd harmonics (0.3, 0.15)."""
    low, high = np.log(TONAL_PITCH_HZ[0]), np.log(TONAL_PITCH_HZ[1])
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    sounds = []
    for i in range(n):
        pitch_hz = float(np.exp(rng.uniform(low, high)))
        kind = ("tone", "beeps", "sweep", "warble")[i % 4]
        if kind == "sweep":
            end_hz = float(np.exp(rng.uniform(low, high)))
            phase = 2 * np.pi * (pitch_hz * t + (end_hz - pitch_hz) * t * t / (2 * seconds))
        elif kind == "warble":
            ratio, per_s = rng.uniform(1.15, 1.6), rng.uniform(1.0, 6.0)
            inst_hz = pitch_hz * np.where((t * per_s) % 1 < 0.5, 1.0, ratio)
            phase = 2 * np.pi * np.cumsum(inst_hz) / rate_hz
        else:
            phase = 2 * np.pi * pitch_hz * t
        wave = np.sin(phase)
        if rng.random() < 0.5:
            wave = wave + 0.3 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)
        if kind == "beeps":
            on_s, off_s = rng.uniform(0.05, 0.5, 2)
            wave = wave * ((t % (on_s + off_s)) < on_s)
        peak = 10 ** (rng.uniform(-30, -8) / 20)
        sounds.append((peak * wave / np.abs(wave).max()
                       + 10 ** (-60 / 20) * rng.standard_normal(len(t))).astype(np.float32))
    return sounds


def chosen_windows(paths: list[Path], n_windows: int, classifier,
                   rng: np.random.Generator) -> np.ndarray:
    """``n_windows`` of the windows of ``paths`` (at the model's hop), chosen at random."""
    embedding = np.concatenate([embed_recording(p, classifier)[0] for p in paths])
    chosen = rng.choice(len(embedding), min(n_windows, len(embedding)), replace=False)
    return embedding[np.sort(chosen)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ambient", type=int, default=AMBIENT_WINDOWS,
                        help="ESC-50 ambient windows to include")
    parser.add_argument("--tonal", type=int, default=TONAL_SOUNDS,
                        help="synthesised tonal sounds to include (all their windows)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = require_shared_data()
    classifier = Classifier(default_model_path(), threads=1)
    rng = np.random.default_rng(SEED)
    parts, counts = [], {}
    for source, n_windows in PER_SOURCE.items():
        paths = source_paths(data, source, rng)
        parts.append(chosen_windows(paths, n_windows, classifier, rng))
        counts[source] = {"files": len(paths), "windows": len(parts[-1])}
    if args.ambient:
        paths = ambient_paths()
        parts.append(chosen_windows(paths, args.ambient, classifier, rng))
        counts["esc50 ambient, folds 2-4"] = {"files": len(paths), "windows": len(parts[-1])}
    if args.tonal:
        sounds = tonal_sounds(np.random.default_rng(TONAL_SEED), classifier.sample_rate_hz,
                              args.tonal)
        parts.append(np.concatenate([embed_signal(s, classifier)[0] for s in sounds]))
        counts["synthesised tonal sounds"] = {"sounds": len(sounds), "windows": len(parts[-1])}
    embedding = np.concatenate(parts).astype(np.float16)
    # Synthesised sounds teach what the sound is not; a threshold set as a rate on them
    # would say nothing about ordinary audio (soundwatch.sounds.negatives).
    calibrate = np.arange(len(embedding)) < len(embedding) - (len(parts[-1]) if args.tonal else 0)
    np.savez_compressed(args.out, embedding=embedding, calibrate=calibrate,
                        model_version=np.array(classifier.embedding_version))
    print(json.dumps({"file": str(args.out), "bytes": args.out.stat().st_size,
                      "embedding_version": classifier.embedding_version,
                      "shape": list(embedding.shape),
                      "calibrating_windows": int(calibrate.sum()), "sources": counts}))


if __name__ == "__main__":
    main()
