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
from soundwatch.sounds.learn import embed_recording
from soundwatch.sounds.negatives import FILE_NAME

SEED = 13
# Windows per source, at 1024 float16 numbers (2 kB) a window.
PER_SOURCE = {"speech": 220, "music_speech/speech": 120, "music_speech/music": 300,
              "background": 240}
MAX_FILES = 40
AMBIENT_FOLDS = (2, 3, 4)
# Ambient windows: chosen on the tuning classes (benchmarks/learn_sound_tune.json).
AMBIENT_WINDOWS = 2000
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
    embedding = np.concatenate(parts).astype(np.float16)
    np.savez_compressed(args.out, embedding=embedding,
                        model_version=np.array(classifier.embedding_version))
    print(json.dumps({"file": str(args.out), "bytes": args.out.stat().st_size,
                      "embedding_version": classifier.embedding_version,
                      "shape": list(embedding.shape), "sources": counts}))


if __name__ == "__main__":
    main()
